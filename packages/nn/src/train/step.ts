import * as O from '@backfold/ops'
import { checkOptions, option, optionSchema } from '@backfold/ops'
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
  /** E.g. `softmaxCrossEntropy`. Mean over the batch, so the learning rate does not depend on batch size. */
  readonly loss: LossFunction
  readonly optimizer: GradientTransformation<O>
  /** Added to the loss before differentiating, e.g. `(params) => l2Penalty(params, 1e-4)`. */
  readonly regularizer?: (params: P) => Tensor
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
})

/**
 * Builds the training step for a model, loss, optimizer and optional regulariser:
 * the forward pass in training mode, the gradient of `loss (+ regularizer)` with respect to the
 * parameters (`valueAndGrad` with `hasAux`, so the layer state the forward pass produced, e.g. batch
 * norm statistics, comes back with it), the optimizer update and its application (`applyGradients`).
 * @example
 * import * as T from '@backfold/tensor'
 * import { makeTrainStep, sequential, dense, relu, adam, softmaxCrossEntropy } from '@backfold/nn'
 * const model = sequential(dense(64), relu(), dense(10))
 * const optimizer = adam(1e-3)
 * const step = makeTrainStep({ model, loss: softmaxCrossEntropy, optimizer })
 * // with { params, state } from model.init(key, [64]):
 * let optState = optimizer.init(params)
 * const next = step(params, state, optState, { x: batchX, y: batchY }, T.random.key(1))
 * next.metrics.loss // the batch loss before the update
 * @since 0.1.0
 */
export const makeTrainStep = <P, S, O>(options: TrainStepOptions<P, S, O>): TrainStep<P, S, O> => {
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
  return (params, state, optState, batch, key) => {
    const [value, grads, aux] = lossAndGrad(params, state, batch.x, batch.y, key)
    // One pass per parameter where the optimizer can fuse its update with applying it.
    const [nextParams, nextOptState] = applyGradients(optimizer, grads, optState, params)
    const batchSize = batch.y.shape[0] ?? 0
    const metrics: StepMetrics =
      isClassification(aux.output, batch.y) && batchSize > 0
        ? { loss: T.item(value), accuracy: countCorrect(aux.output, batch.y) / batchSize }
        : { loss: T.item(value) }
    return { params: nextParams, state: aux.state, optState: nextOptState, metrics }
  }
}
