import * as O from '@backfold/ops'
import { checkOptions, option, optionSchema, type JitStats } from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import type { ApplyContext, Layer } from '../layer'
import type { GradientTransformation } from '../optim/transform'
import { applyGradients } from '../optim/applyUpdates'
import type { Dataset } from '../data/dataset'

/** A loss: model output and targets to a scalar tensor, built from `@backfold/ops` ops. @since 0.1.0 */
export type LossFunction = (output: Tensor, labels: Tensor) => Tensor

/** What a training step needs. @since 0.1.0 */
export interface TrainStepOptions<P, S, O> {
  readonly model: Layer<P, S>
  /** E.g. `crossEntropy`. Mean over the batch, so the learning rate does not depend on batch size. */
  readonly loss: LossFunction
  readonly optimizer: GradientTransformation<O>
  /** Added to the loss before differentiating, e.g. `(params) => l2Penalty(params, 1e-4)`. */
  readonly regularizer?: (params: P) => Tensor
  /**
   * Stage the forward pass, the loss, its gradient and the new layer state with `jit` from
   * `@backfold/ops` (default false): one trace per batch shape (so one per epoch, plus one for a
   * smaller last batch), then the optimised graph runs on every later step. The random key goes in
   * as data (`random.keyData`), so a new key does not stage again. The optimizer update stays
   * outside the staged graph: optimizer state holds its step `count` as a number (it drives bias
   * correction and learning-rate schedules in plain arithmetic), so staging it would make every
   * step a new signature and trace again; run eagerly on concrete gradients it also keeps the
   * optimizers' fused one-pass `apply`.
   *
   * Off by default because it does not pay yet: on the digits MLP (64-128-64-10, batch 32, adam)
   * the jitted step and the eager step took the same time (medians of 600 interleaved steps,
   * 0.33-0.36 ms each, jit/eager 0.99-1.01 over four runs). The staged graph holds the same kernels
   * eager mode runs (fused `linear`, softmax, matmuls); it saves only per-op dispatch, which is
   * small next to them, and costs a trace per batch shape. Results agree with eager steps to
   * float32 rounding (max |Δ| ≤ 1.2e-7 after 6 steps of an MLP, a CNN and batchNorm + dropout), not bitwise.
   */
  readonly jit?: boolean
}

/** Numbers measured by one step on its batch. @since 0.1.0 */
export interface StepMetrics {
  /** The minimised objective: the loss plus the regulariser, if any, on this batch (before the update). */
  readonly loss: number
  /**
   * Fraction of the batch classified correctly (before the update), present when the labels are int32
   * class indices `[N]` and the output is `[N, C]`.
   */
  readonly accuracy?: number
}

/** The result of a training step: the next parameters, layer state and optimizer state. @since 0.1.0 */
export interface TrainStepResult<P, S, O> {
  readonly params: P
  readonly state: S
  readonly optState: O
  readonly metrics: StepMetrics
}

/**
 * One optimisation step on one batch, a pure function: the same arguments always give the same
 * result, and nothing passed in is changed. `key` feeds stochastic layers (dropout); it may be
 * omitted for models without any.
 * @since 0.1.0
 */
export type TrainStep<P, S, O> = (
  params: P,
  state: S,
  optState: O,
  batch: Dataset,
  key?: Key,
) => TrainStepResult<P, S, O>

/**
 * A training step that also reports its staging statistics: `stats()` is `jit`'s counts of traces
 * and cache hits when the step was made with `jit: true`, `undefined` otherwise.
 * @since 0.2.0
 */
export type StagedTrainStep<P, S, O> = TrainStep<P, S, O> & {
  /** `jit`'s counts of traces and cache hits with `jit: true`; `undefined` for an eager step. */
  readonly stats: () => JitStats | undefined
}

/** Whether `labels` are class indices for `output` (so accuracy means something). @internal */
export const isClassification = (output: Tensor, labels: Tensor): boolean =>
  labels.dtype === 'int32' &&
  labels.shape.length === 1 &&
  output.shape.length === 2 &&
  output.shape[0] === labels.shape[0]

/** Number of rows of `output` whose argmax is the label (ties to the lowest class). @internal */
export const countCorrect = (output: Tensor, labels: Tensor): number => {
  const predicted = T.argmax(output, { axis: 1 }).data
  const truth = labels.data
  let correct = 0
  for (let i = 0; i < truth.length; i++) if (predicted[i] === truth[i]) correct++
  return correct
}

const TRAIN_STEP_OPTIONS = optionSchema({
  model: option.required(option.anything),
  loss: option.required(option.function),
  optimizer: option.required(option.anything),
  regularizer: option.function,
  jit: option.boolean,
})

/**
 * Builds the training step for a model, loss, optimizer and optional regulariser:
 * the forward pass in training mode, the gradient of `loss (+ regularizer)` with respect to the
 * parameters (`valueAndGrad` with `hasAux`, so the layer state the forward pass produced, e.g. batch
 * norm statistics, comes back with it), the optimizer update and its application (`applyGradients`).
 * With `jit: true` everything before the update is staged once per batch shape (see
 * `TrainStepOptions.jit`) and `step.stats()` reports the traces; metrics are read from the step's
 * concrete outputs after it ran.
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers, makeTrainStep, adam, crossEntropy } from '@backfold/nn'
 * const model = layers.sequential(layers.dense(64), layers.relu(), layers.dense(10))
 * const optimizer = adam(1e-3)
 * const step = makeTrainStep({ model, loss: crossEntropy, optimizer })
 * // with { params, state } from model.init(key, [64]):
 * let optState = optimizer.init(params)
 * const next = step(params, state, optState, { x: batchX, y: batchY }, T.random.key(1))
 * next.metrics.loss // the batch loss before the update
 * const staged = makeTrainStep({ model, loss: crossEntropy, optimizer, jit: true })
 * staged(params, state, optState, { x: batchX, y: batchY }, T.random.key(1))
 * staged.stats() // { traces: 1, hits: 0, ... }; a later batch of the same shape is a hit
 * @since 0.1.0
 */
export const makeTrainStep = <P, S, O>(options: TrainStepOptions<P, S, O>): StagedTrainStep<P, S, O> => {
  checkOptions('makeTrainStep', options, TRAIN_STEP_OPTIONS)
  const { model, loss, optimizer, regularizer } = options
  const objective = (
    params: P,
    state: S,
    x: Tensor,
    y: Tensor,
    key: Key | undefined,
  ): readonly [Tensor, { readonly state: S; readonly output: Tensor }] => {
    const ctx: ApplyContext = key === undefined ? { training: true } : { training: true, key }
    const [output, nextState] = model.apply(params, state, x, ctx)
    const dataLoss = loss(output, y)
    const total = regularizer === undefined ? dataLoss : O.add(dataLoss, regularizer(params))
    return [total, { state: nextState, output }]
  }
  const lossAndGrad = O.valueAndGrad(objective, { hasAux: true })
  // The key goes in as an int32 tensor: a Key record would be a fixed value of the signature, so
  // every new key would stage the step again.
  const forwardAndGrad = (
    params: P,
    state: S,
    x: Tensor,
    y: Tensor,
    keyData: Tensor | undefined,
  ): ForwardAndGrad<P, S> => {
    const [value, grads, aux] = lossAndGrad(
      params,
      state,
      x,
      y,
      keyData === undefined ? undefined : T.random.wrapKey(keyData),
    )
    return { value, grads, state: aux.state, output: aux.output }
  }
  const staged = options.jit === true ? O.jit(forwardAndGrad) : undefined
  const run = staged ?? forwardAndGrad
  const step: TrainStep<P, S, O> = (params, state, optState, batch, key) => {
    const result = run(params, state, batch.x, batch.y, key === undefined ? undefined : T.random.keyData(key))
    // One pass per parameter where the optimizer can fuse its update with applying it.
    const [nextParams, nextOptState] = applyGradients(optimizer, result.grads, optState, params)
    const batchSize = batch.y.shape[0] ?? 0
    // Metrics from the step's concrete outputs, after it ran (never read inside the staged graph).
    const metrics: StepMetrics =
      isClassification(result.output, batch.y) && batchSize > 0
        ? { loss: T.item(result.value), accuracy: countCorrect(result.output, batch.y) / batchSize }
        : { loss: T.item(result.value) }
    return { params: nextParams, state: result.state, optState: nextOptState, metrics }
  }
  return Object.assign(step, { stats: (): JitStats | undefined => staged?.stats() })
}

/** What the (possibly staged) part of a step returns. */
interface ForwardAndGrad<P, S> {
  readonly value: Tensor
  readonly grads: P
  readonly state: S
  readonly output: Tensor
}
