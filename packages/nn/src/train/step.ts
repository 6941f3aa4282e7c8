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
   * Stage the whole step with `jit` from `@backfold/ops` (default true): the forward pass, the loss,
   * its gradient, the new layer state and the optimizer update, with params, layer state and
   * optimizer state going in and out as trees. One trace per batch shape (so one per epoch
   * length, plus one for a smaller last batch); every later step runs the optimised graph. The
   * random key goes in as data (`random.keyData`) and the optimizer's step count is an int32
   * scalar tensor, so neither a new key nor a new count stages again. `false` runs the step op
   * by op (eagerly), e.g. to step through a model in a debugger. Results agree with eager steps to
   * float rounding, not bitwise (a fused chain rounds once).
   */
  readonly jit?: boolean
  /**
   * Where the staged step runs (with `jit`): `'wasm'` or `'onnxruntime'` (ONNX Runtime's native
   * kernels, in Node with onnxruntime-node installed; a step it cannot run falls back to wasm, and
   * `O.executorStatus` says why). Default: `O.getDefaultExecutor()`.
   * @since 0.2.0
   */
  readonly executor?: O.Executor
  /**
   * Give up the parameters, layer state and optimizer state passed to each step (default false):
   * after the step, those tensors are invalidated (using one throws and says it was donated) unless
   * the step returned it unchanged, and the staged step writes its results over their memory, so in
   * steady state nothing is copied in or out of wasm memory and no new buffers are made for them
   * (`jit`'s `donate`). Pass each step the trees the step before returned, as a training loop does;
   * copy anything you want to keep (`fit` does this for you). The batch and key are never donated.
   * @since 0.2.0
   */
  readonly donate?: boolean
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
 * and cache hits (the default), `undefined` for a step made with `jit: false`.
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
  // T.argmax's rule, inline (this runs after every step): the first of equal values, the first NaN wins.
  const data = output.data
  const truth = labels.data
  const classes = output.shape[1]!
  // No classes: T.argmax says why there is no answer.
  if (classes === 0) T.argmax(output, { axis: 1 })
  let correct = 0
  for (let i = 0; i < truth.length; i++) {
    const row = i * classes
    let best = -Infinity
    let bestAt = 0
    for (let j = 0; j < classes; j++) {
      const v = data[row + j]!
      if (v > best || (v !== v && best === best)) {
        best = v
        bestAt = j
      }
    }
    if (bestAt === truth[i]) correct++
  }
  return correct
}

const TRAIN_STEP_OPTIONS = optionSchema({
  model: option.required(option.anything),
  loss: option.required(option.function),
  optimizer: option.required(option.anything),
  regularizer: option.function,
  jit: option.boolean,
  donate: option.boolean,
  executor: {
    expected: "'wasm' or 'onnxruntime'",
    check: (v: unknown) => v === 'wasm' || v === 'onnxruntime',
  },
})

/**
 * Runs `f`, prefixing a library error with where in the user's code it arose (`what`), so an error
 * in a step (eager, or while `jit` stages it) names the user's loss, model or regulariser.
 */
const naming = <A>(what: string, f: () => A): A => {
  try {
    return f()
  } catch (error) {
    if (error instanceof T.BackfoldError && !error.message.startsWith('in '))
      error.message = `in ${what}: ${error.message}`
    throw error
  }
}

/** How an error names a user function: its name, or what it is. */
const functionName = (role: string, f: { readonly name: string }): string =>
  f.name === '' ? `the ${role} (an anonymous function)` : `the ${role} ${f.name}`

/** How an error names the model: its kind, from its config. */
const modelName = (model: Layer<unknown, unknown>): string => {
  const config: unknown = model.config
  const kind =
    typeof config === 'object' && config !== null && 'kind' in config && typeof config.kind === 'string'
      ? ` (${config.kind})`
      : ''
  return `the model's forward pass${kind}`
}

/**
 * Builds the training step for a model, loss, optimizer and optional regulariser:
 * the forward pass in training mode, the gradient of `loss (+ regularizer)` with respect to the
 * parameters (`valueAndGrad` with `hasAux`, so the layer state the forward pass produced, e.g. batch
 * norm statistics, comes back with it), the optimizer update and its application (`applyGradients`).
 * By default all of it is staged with `jit` once per batch shape (see `TrainStepOptions.jit`) and
 * `step.stats()` reports the traces; metrics are read from the step's concrete outputs after it
 * ran. An error in the user's model, loss or regulariser names it (`in the loss function myLoss:`),
 * after `jit`'s own prefix when it arose while staging.
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
 * step.stats() // { traces: 1, hits: 0, ... }; a later batch of the same shape is a hit
 * const eager = makeTrainStep({ model, loss: crossEntropy, optimizer, jit: false })
 * @since 0.1.0
 */
export const makeTrainStep = <P, S, O>(options: TrainStepOptions<P, S, O>): StagedTrainStep<P, S, O> => {
  checkOptions('makeTrainStep', options, TRAIN_STEP_OPTIONS)
  const { model, loss, optimizer, regularizer } = options
  const inModel = modelName(model as Layer<unknown, unknown>)
  const inLoss = functionName('loss function', loss)
  const inRegularizer = regularizer === undefined ? '' : functionName('regularizer', regularizer)
  const objective = (
    params: P,
    state: S,
    x: Tensor,
    y: Tensor,
    key: Key | undefined,
  ): readonly [Tensor, { readonly state: S; readonly output: Tensor }] => {
    const ctx: ApplyContext = key === undefined ? { training: true } : { training: true, key }
    const [output, nextState] = naming(inModel, () => model.apply(params, state, x, ctx))
    const dataLoss = naming(inLoss, () => loss(output, y))
    const total =
      regularizer === undefined
        ? dataLoss
        : O.add(
            dataLoss,
            naming(inRegularizer, () => regularizer(params)),
          )
    return [total, { state: nextState, output }]
  }
  const lossAndGrad = O.valueAndGrad(objective, { hasAux: true })
  // The key goes in as an int32 tensor: a Key record would be a fixed value of the signature, so
  // every new key would stage the step again.
  const trainStep = (
    params: P,
    state: S,
    optState: O,
    x: Tensor,
    y: Tensor,
    keyData: Tensor | undefined,
  ): StepOutputs<P, S, O> => {
    const [value, grads, aux] = lossAndGrad(
      params,
      state,
      x,
      y,
      keyData === undefined ? undefined : T.random.wrapKey(keyData),
    )
    const [nextParams, nextOptState] = applyGradients(optimizer, grads, optState, params)
    return { value, output: aux.output, params: nextParams, state: aux.state, optState: nextOptState }
  }
  // Parameters, layer state and optimizer state: the first three arguments.
  const donated = options.donate === true ? [0, 1, 2] : []
  const staged =
    options.jit === false
      ? undefined
      : O.jit(trainStep, {
          ...(options.executor === undefined ? {} : { executor: options.executor }),
          donate: donated,
        })
  // An eager step donates the same way, so turning jit off changes no semantics.
  const run: typeof trainStep =
    staged ??
    (donated.length === 0
      ? trainStep
      : (params, state, optState, x, y, keyData) => {
          const out = trainStep(params, state, optState, x, y, keyData)
          T.donateAllBut(
            T.flatten([params, state, optState]).leaves,
            T.flatten(out).leaves,
            'it was donated to a training step (makeTrainStep option donate); use the trees that step returned',
          )
          return out
        })
  const step: TrainStep<P, S, O> = (params, state, optState, batch, key) => {
    const result = run(
      params,
      state,
      optState,
      batch.x,
      batch.y,
      key === undefined ? undefined : T.random.keyData(key),
    )
    const batchSize = batch.y.shape[0] ?? 0
    // Metrics from the step's concrete outputs, after it ran (never read inside the staged graph).
    const metrics: StepMetrics =
      isClassification(result.output, batch.y) && batchSize > 0
        ? { loss: T.item(result.value), accuracy: countCorrect(result.output, batch.y) / batchSize }
        : { loss: T.item(result.value) }
    return { params: result.params, state: result.state, optState: result.optState, metrics }
  }
  return Object.assign(step, { stats: (): JitStats | undefined => staged?.stats() })
}

/** What the (possibly staged) step returns: the loss and output of the batch, and the next trees. */
interface StepOutputs<P, S, O> {
  readonly value: Tensor
  readonly output: Tensor
  readonly params: P
  readonly state: S
  readonly optState: O
}
