import * as O from '@backfold/ops'
import { checkOptions, option, optionSchema } from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import type { Dataset } from '../data/dataset'
import { evaluateWith, evaluateWithPass, evaluationForward, evaluationPass } from './evaluate'
import { stopOnNaN } from './callbacks'
import type { Callback, CallbackSignal, TrainingState } from './callbacks'
import type { EpochRecord, History } from './history'
import type { FitStartInfo, Reporter } from './reporter'
import { silentReporter } from './reporter'
import { makeTrainStep } from './step'
import type { TrainStepOptions } from './step'
import { batchEnd, runSync, settle } from './loop'
import type { AsyncCallback, Loop } from './loop'

/** Options of `fit`. @since 0.1.0 */
export interface FitOptions<P, S, O> extends TrainStepOptions<P, S, O> {
  /** Initial parameters and layer state, usually from `model.init(key, inShape)`. */
  readonly params: P
  readonly state: S
  /** Initial optimizer state (default `optimizer.init(params)`); pass it when resuming. */
  readonly optState?: O
  /** Training data; examples are shuffled every epoch. */
  readonly data: Dataset
  /**
   * Evaluated after every epoch (loss and, for class labels, accuracy), in evaluation mode; the
   * model's forward pass is staged with `jit` like the step (eager with `jit: false`).
   */
  readonly validationData?: Dataset
  /** Training runs epochs `initialEpoch .. epochs - 1` (Keras's meaning: `epochs` is where it stops). */
  readonly epochs: number
  /** 0-based epoch to start from when resuming (default 0). */
  readonly initialEpoch?: number
  /** Examples per step (default 32); the last batch of an epoch holds the remainder. */
  readonly batchSize?: number
  /** Examples per forward pass when validating (default 256). */
  readonly validationBatchSize?: number
  /**
   * All randomness of training: epoch `e` shuffles with and feeds dropout from keys derived from
   * `foldIn(key, e)`, so the same key gives bitwise the same parameters, and resuming at epoch `e`
   * continues exactly as an uninterrupted run would.
   */
  readonly key: Key
  /** Shuffle the training examples every epoch (default true). */
  readonly shuffle?: boolean
  // NoInfer: P, S and O come from the model and optimizer, and generic callbacks such as
  // `earlyStopping()` then take their types from here instead of widening them to unknown.
  readonly callbacks?: ReadonlyArray<Callback<NoInfer<P>, NoInfer<S>, NoInfer<O>>>
  /** Progress display (default `silentReporter`). */
  readonly reporter?: Reporter
  /** Records of earlier epochs (when resuming): they start the returned history. */
  readonly history?: History
  /**
   * Stop with a `TrainingDivergedError` naming the epoch and batch when the loss, the validation
   * loss, the parameters or the optimizer state become NaN or infinite (default true; see `stopOnNaN`).
   * `false` trains on regardless, which is rarely what you want.
   */
  readonly stopOnNaN?: boolean
}

const { anything, boolean, function: fn, number } = option
/** The options `fit` accepts (`fitAsync` adds its own). @internal */
export const FIT_OPTION_SPECS = {
  model: option.required(anything),
  loss: option.required(fn),
  optimizer: option.required(anything),
  regularizer: fn,
  params: option.required(anything),
  state: option.required(anything),
  optState: anything,
  data: option.required(anything),
  validationData: anything,
  epochs: option.required(number),
  initialEpoch: number,
  batchSize: number,
  validationBatchSize: number,
  key: option.required(anything),
  shuffle: boolean,
  callbacks: { expected: 'an array of callbacks', check: Array.isArray },
  reporter: anything,
  history: { expected: 'an array of epoch records', check: Array.isArray },
  stopOnNaN: boolean,
  jit: boolean,
  executor: {
    expected: "'wasm' or 'onnxruntime'",
    check: (v: unknown) => v === 'wasm' || v === 'onnxruntime',
  },
}
const FIT_OPTIONS = optionSchema(FIT_OPTION_SPECS)

/** What `fit` returns: the trained state, the per-epoch history, and whether a callback stopped it. @since 0.1.0 */
export interface FitResult<P, S, O> extends TrainingState<P, S, O> {
  readonly history: History
  /** True when a callback (e.g. `earlyStopping`) asked training to stop. */
  readonly stopped: boolean
}

/** @internal */
export const requireInteger = (name: string, value: number, min: number, op = 'fit'): void => {
  if (!Number.isInteger(value) || value < min)
    throw new T.ValueError(op, `${name} must be an integer >= ${min}, got ${value}`)
}

const requireDataset = (name: string, dataset: Dataset, op: string): number => {
  const { x, y } = dataset
  if (x.shape.length === 0 || y.shape.length === 0 || x.shape[0] !== y.shape[0])
    throw new T.ShapeError(
      op,
      `${name}.x has shape ${T.fmtShape(x.shape)} and ${name}.y has shape ${T.fmtShape(y.shape)}; ` +
        'expected the same number of examples along axis 0',
    )
  return x.shape[0]!
}

/** Elements gathered at once when shuffling: a block of whole batches, not the whole data set (bounded memory). */
const GATHER_ELEMENTS = 1 << 20

/** Rows `start .. stop` of `x` as a view of its data (no copy: `x` is the loop's own). */
const rowsOf = (x: Tensor, start: number, stop: number): Tensor => {
  const row = T.sizeOf(x.shape.slice(1))
  return T.unsafeTensor(
    x.dtype,
    [stop - start, ...x.shape.slice(1)],
    x.data.subarray(start * row, stop * row),
  )
}

/**
 * Rows `order[start .. stop)` of `x`, copied into a new tensor: `T.gather` along axis 0 for indices
 * that are a permutation's (in range by construction), as one typed-array copy per row without the
 * kernel's index checks and strided loops.
 */
const gatherRows = (x: Tensor, order: T.TypedArray, start: number, stop: number): Tensor => {
  const row = T.sizeOf(x.shape.slice(1))
  const src = x.data
  const out = T.allocate(x.dtype, (stop - start) * row)
  // One native copy per row: in a short run, faster than an element loop that is not yet optimised.
  if (row === 1) for (let i = start; i < stop; i++) out[i - start] = src[order[i]!]!
  else
    for (let i = start, at = 0; i < stop; i++, at += row) {
      const from = order[i]! * row
      out.set(src.subarray(from, from + row), at)
    }
  return T.unsafeTensor(x.dtype, [stop - start, ...x.shape.slice(1)], out)
}

/**
 * The batches of one epoch, in order: with `order`, the examples `order[start .. stop)` of each,
 * gathered a block of batches at a time (one gather per block, not two small ones per step); without
 * it, consecutive rows. Each batch is a view of the block's (or the data set's) rows.
 */
const batchesOf = (
  data: Dataset,
  order: T.TypedArray | undefined,
  samples: number,
  batchSize: number,
): ((batch: number) => Dataset) => {
  if (order === undefined) {
    return (batch) => {
      const start = batch * batchSize
      const stop = Math.min(start + batchSize, samples)
      return { x: rowsOf(data.x, start, stop), y: rowsOf(data.y, start, stop) }
    }
  }
  const rowElements = Math.max(1, T.sizeOf(data.x.shape.slice(1)) + T.sizeOf(data.y.shape.slice(1)))
  const perBlock = Math.max(1, Math.floor(GATHER_ELEMENTS / (batchSize * rowElements)))
  let block = -1
  let blockStart = 0
  let rows: Dataset = data
  return (batch) => {
    const start = batch * batchSize
    const stop = Math.min(start + batchSize, samples)
    if (Math.floor(batch / perBlock) !== block) {
      block = Math.floor(batch / perBlock)
      blockStart = block * perBlock * batchSize
      const blockStop = Math.min(blockStart + perBlock * batchSize, samples)
      rows = {
        x: gatherRows(data.x, order, blockStart, blockStop),
        y: gatherRows(data.y, order, blockStart, blockStop),
      }
    }
    return {
      x: rowsOf(rows.x, start - blockStart, stop - blockStart),
      y: rowsOf(rows.y, start - blockStart, stop - blockStart),
    }
  }
}

const now = (): number => performance.now() / 1000

/**
 * Trains a model: for each epoch, shuffles the training data with a key derived from `key` and the
 * epoch number, runs the pure training step (`makeTrainStep`) over consecutive batches, records the
 * epoch's mean training loss and accuracy, evaluates `validationData`, and calls the reporter and
 * callbacks. Deterministic: the same options give bitwise identical parameters on every run.
 * Within an epoch each step donates the trees the step before returned (`makeTrainStep`'s `donate`:
 * they stay in wasm memory); the trees you pass in and those callbacks receive are never invalidated.
 *
 * Throws (typed errors) on bad options (an unknown key included) or data whose shapes do not fit
 * the model, and a `TrainingDivergedError` naming the epoch and batch when training diverges to NaN
 * or infinity (see `stopOnNaN`, on by default); `model.init` errors are the caller's to handle
 * before calling `fit`.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import * as T from '@backfold/tensor'
 * import { layers, fit, adam, crossEntropy } from '@backfold/nn'
 * const model = layers.sequential(layers.dense(128), layers.relu(), layers.dense(10))
 * const [initKey, fitKey] = T.random.split(T.random.key(0))
 * const built = model.init(initKey, [64])
 * if (E.isRight(built)) {
 *   const { params, history } = fit({
 *     model, loss: crossEntropy, optimizer: adam(1e-3),
 *     params: built.right.params, state: built.right.state,
 *     data: train, validationData: test, epochs: 30, batchSize: 32, key: fitKey,
 *   })
 * }
 * @since 0.1.0
 */
export const fit = <P, S, O>(options: FitOptions<P, S, O>): FitResult<P, S, O> => {
  checkOptions('fit', options, FIT_OPTIONS)
  return runSync('fit', fitLoop('fit', options))
}

/**
 * The options of the shared loop: `fit`'s, with callbacks whose hooks may return a Promise (which
 * only `fitAsync`'s driver accepts).
 * @internal
 */
export interface FitLoopOptions<P, S, O> extends Omit<FitOptions<P, S, O>, 'callbacks'> {
  readonly callbacks?: ReadonlyArray<AsyncCallback<NoInfer<P>, NoInfer<S>, NoInfer<O>>>
}

/**
 * `fit`'s training loop, once for both drivers (`runSync` for `fit`, `runAsync` for `fitAsync`):
 * it suspends for every hook's result and after every batch. `op` names the caller in errors; the
 * options record is already checked.
 * @internal
 */
export function* fitLoop<P, S, O>(op: string, options: FitLoopOptions<P, S, O>): Loop<FitResult<P, S, O>> {
  const { data, validationData, epochs, key, optimizer } = options
  const initialEpoch = options.initialEpoch ?? 0
  const batchSize = options.batchSize ?? 32
  const shuffle = options.shuffle ?? true
  // The divergence guard goes first, so no other callback (a checkpoint saver) sees NaN values.
  const callbacks: ReadonlyArray<AsyncCallback<P, S, O>> = [
    ...(options.stopOnNaN === false ? [] : [stopOnNaN()]),
    ...(options.callbacks ?? []),
  ]
  const reporter = options.reporter ?? silentReporter
  requireInteger('epochs', epochs, 0, op)
  requireInteger('initialEpoch', initialEpoch, 0, op)
  requireInteger('batchSize', batchSize, 1, op)
  if (initialEpoch > epochs)
    throw new T.ValueError(
      op,
      `initialEpoch ${initialEpoch} is past epochs ${epochs}; expected initialEpoch <= epochs`,
    )
  const samples = requireDataset('data', data, op)
  const validationSamples =
    validationData === undefined ? 0 : requireDataset('validationData', validationData, op)
  const batchesPerEpoch = Math.ceil(samples / batchSize)
  const step = makeTrainStep({
    model: options.model,
    loss: options.loss,
    optimizer,
    ...(options.regularizer === undefined ? {} : { regularizer: options.regularizer }),
    ...(options.jit === undefined ? {} : { jit: options.jit }),
    ...(options.executor === undefined ? {} : { executor: options.executor }),
    // The loop gives each step the trees the step before returned and never reads them again, so
    // the step may write over them (see `detach` below for the trees anyone else has seen).
    donate: true,
  })
  // Validation: the model's evaluation-mode forward pass over the whole validation set (in batches)
  // and the loss over its outputs, staged like the step as one graph (one call per epoch) unless
  // the step runs eagerly.
  const evaluateOptions = {
    loss: options.loss,
    ...(options.validationBatchSize === undefined ? {} : { batchSize: options.validationBatchSize }),
  }
  const validationPass =
    options.jit === false || validationSamples === 0
      ? undefined
      : O.jit(
          evaluationPass(options.model, options.loss, options.validationBatchSize),
          options.executor === undefined ? {} : { executor: options.executor },
        )

  let params = options.params
  let state = options.state
  let optState = options.optState ?? optimizer.init(params)
  let completed = initialEpoch
  let stopped = false
  let steps = 0
  const history: EpochRecord[] = [...(options.history ?? [])]
  const startInfo: FitStartInfo = {
    initialEpoch,
    epochs,
    samples,
    batchSize,
    batchesPerEpoch,
    validationSamples,
  }
  const signal = (results: ReadonlyArray<CallbackSignal>): boolean => results.some((r) => r === 'stop')

  for (const callback of callbacks) yield* settle(callback.onTrainBegin?.({ initialEpoch, epochs }))
  reporter.start?.(startInfo)

  for (let epoch = initialEpoch; epoch < epochs && !stopped; epoch++) {
    const epochKeys = T.random.split(T.random.foldIn(key, epoch), 2)
    const stepKey = epochKeys[1]!
    const order = shuffle ? T.random.permutation(epochKeys[0]!, samples).data : undefined
    const batchAt = batchesOf(data, order, samples, batchSize)
    // The first step of an epoch donates trees that the caller (the initial ones) or callbacks
    // (`onEpochEnd`) may hold: it gets new records over the same values instead.
    params = detach(params)
    state = detach(state)
    optState = detach(optState)
    const started = now()
    let lossSum = 0
    let correct = 0
    let hasAccuracy = true
    let seen = 0
    for (let batch = 0; batch < batchesPerEpoch; batch++) {
      const start = batch * batchSize
      const stop = Math.min(start + batchSize, samples)
      const result = step(params, state, optState, batchAt(batch), T.random.foldIn(stepKey, batch))
      params = result.params
      state = result.state
      optState = result.optState
      steps++
      const size = stop - start
      const { loss, accuracy } = result.metrics
      seen += size
      lossSum += loss * size
      if (accuracy === undefined) hasAccuracy = false
      else correct += Math.round(accuracy * size)
      reporter.batch?.({
        epoch,
        batch,
        batchesPerEpoch,
        loss: lossSum / seen,
        ...(hasAccuracy ? { accuracy: correct / seen } : {}),
        samples: seen,
        seconds: now() - started,
      })
      const info = {
        epoch,
        batch,
        batchesPerEpoch,
        loss,
        ...(accuracy === undefined ? {} : { accuracy }),
        step: steps,
      }
      const signals: CallbackSignal[] = []
      for (const c of callbacks) signals.push(yield* settle(c.onBatchEnd?.(info)))
      yield* batchEnd()
      if (signal(signals)) {
        stopped = true
        break
      }
    }
    const seconds = now() - started
    const regularization = options.regularizer === undefined ? 0 : T.item(options.regularizer(params))
    const validation =
      validationData === undefined
        ? undefined
        : validationPass === undefined
          ? evaluateWith(evaluationForward(options.model), params, state, validationData, evaluateOptions)
          : evaluateWithPass(validationPass, params, state, validationData)
    const valLoss = validation?.['loss']
    const valAccuracy = validation?.['accuracy']
    const record: EpochRecord = {
      epoch,
      loss: seen > 0 ? lossSum / seen : NaN,
      ...(hasAccuracy && seen > 0 ? { accuracy: correct / seen } : {}),
      ...(valLoss === undefined ? {} : { valLoss: valLoss + regularization }),
      ...(valAccuracy === undefined ? {} : { valAccuracy }),
      seconds,
      samples: seen,
    }
    history.push(record)
    completed = epoch + 1
    reporter.epoch?.(record, startInfo)
    const endInfo = { params, state, optState, epoch: completed, record, history: [...history], key }
    const signals: CallbackSignal[] = []
    for (const c of callbacks) signals.push(yield* settle(c.onEpochEnd?.(endInfo)))
    if (signal(signals)) stopped = true
  }

  let final: TrainingState<P, S, O> = { params, state, optState, epoch: completed }
  for (const callback of callbacks) final = (yield* settle(callback.onTrainEnd?.(final))) ?? final
  reporter.end?.(history)
  return { ...final, history, stopped }
}

/**
 * The same tree with new tensor records over the same data: donating them invalidates only the
 * records, never the tensors they were made from (whose data the step never writes).
 */
const detach = <A>(tree: A): A => {
  const { leaves, def } = T.flatten(tree)
  return T.unflatten<A>(
    def,
    leaves.map((x) => T.unsafeTensor(x.dtype, x.shape, x.data)),
  )
}
