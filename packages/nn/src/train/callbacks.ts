import { checkOptions, concrete, option, optionSchema } from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Key } from '@backfold/tensor'
import { flattenNamed } from '../tree'
import type { EpochMetric, EpochRecord, History } from './history'

/**
 * Everything needed to continue training: parameters, layer state, optimizer state, and how many
 * epochs are complete. Resuming is `fit({ ...options, params, state, optState, initialEpoch: epoch, key })`
 * with the same `key`, and gives bitwise the same result as an uninterrupted run.
 * @since 0.1.0
 */
export interface TrainingState<P, S, O> {
  readonly params: P
  readonly state: S
  readonly optState: O
  /** Number of epochs completed (the `initialEpoch` to resume from). */
  readonly epoch: number
}

/** Told to `onTrainBegin`. @since 0.1.0 */
export interface TrainBeginInfo {
  readonly initialEpoch: number
  readonly epochs: number
}

/** Told to `onBatchEnd`. @since 0.1.0 */
export interface BatchEndInfo {
  readonly epoch: number
  /** 0-based index of the batch in the epoch. */
  readonly batch: number
  readonly batchesPerEpoch: number
  /** Objective on this batch (before the update). */
  readonly loss: number
  /** Accuracy on this batch, when the labels are class indices. */
  readonly accuracy?: number
  /** Optimizer steps taken by this `fit` call so far. */
  readonly step: number
}

/** Told to `onEpochEnd`: the epoch's record, the history so far and the state to resume from. @since 0.1.0 */
export interface EpochEndInfo<P, S, O> extends TrainingState<P, S, O> {
  readonly record: EpochRecord
  /** All records so far, this epoch's last. */
  readonly history: History
  /** The key `fit` was given (per-epoch keys are derived from it, so it is all a resume needs). */
  readonly key: Key
}

/** What a callback hook may return: `'stop'` ends training after the current batch or epoch. @since 0.1.0 */
export type CallbackSignal = 'stop' | void

/**
 * Hooks `fit` calls while training, e.g. to checkpoint or stop early. Every hook is optional.
 * `onBatchEnd` returning `'stop'` ends the epoch after that batch (its record covers the batches run)
 * and then training; `onEpochEnd` returning `'stop'` ends training after the epoch. `onTrainEnd` may
 * return a different `TrainingState` to be the result of `fit` (how `earlyStopping` restores the best
 * parameters); callbacks run in the order given.
 * @since 0.1.0
 */
export interface Callback<P = unknown, S = unknown, O = unknown> {
  /** Called once before the first batch. */
  readonly onTrainBegin?: (info: TrainBeginInfo) => void
  /** Called after every batch; return `'stop'` to end training after it. */
  readonly onBatchEnd?: (info: BatchEndInfo) => CallbackSignal
  /** Called after every epoch with its metrics and the training state; return `'stop'` to end training. */
  readonly onEpochEnd?: (info: EpochEndInfo<P, S, O>) => CallbackSignal
  /** Called once at the end; may return a different final state (e.g. the best epoch's). */
  readonly onTrainEnd?: (final: TrainingState<P, S, O>) => TrainingState<P, S, O> | void
}

/** Options of `earlyStopping`. @since 0.1.0 */
export interface EarlyStoppingOptions {
  /** The metric to watch (default `'valLoss'`, which needs `validationData`). */
  readonly monitor?: EpochMetric
  /** Epochs without improvement to tolerate before stopping (default 0: stop at the first). */
  readonly patience?: number
  /** A change smaller than this is not an improvement (default 0). */
  readonly minDelta?: number
  /** `'min'` for losses, `'max'` for accuracies; default by the metric's name. */
  readonly mode?: 'min' | 'max'
  /**
   * Make `fit` return the parameters, state and optimizer state of the best epoch (default false).
   * Unlike Keras, this also applies when all epochs ran without stopping.
   */
  readonly restoreBest?: boolean
}

/**
 * The callback `earlyStopping` returns. Its hooks are generic, so one value fits the `callbacks` of
 * any `fit`, whatever the model's parameter types.
 * @since 0.1.0
 */
export interface EarlyStoppingCallback {
  /** Resets the best value and the count of epochs without improvement. */
  readonly onTrainBegin: (info: TrainBeginInfo) => void
  /** Stops training after `patience` epochs without improvement of the monitored metric. */
  readonly onEpochEnd: <P, S, O>(info: EpochEndInfo<P, S, O>) => CallbackSignal
  /** With `restoreBest`, replaces the final state by the best epoch's. */
  readonly onTrainEnd: <P, S, O>(final: TrainingState<P, S, O>) => TrainingState<P, S, O>
}

const EARLY_STOPPING_OPTIONS = optionSchema({
  monitor: option.oneOf('loss', 'accuracy', 'valLoss', 'valAccuracy'),
  patience: option.number,
  minDelta: option.number,
  mode: option.oneOf('min', 'max'),
  restoreBest: option.boolean,
})

/**
 * Stops training when `monitor` has not improved by more than `minDelta` for `patience` epochs
 * (Keras's `EarlyStopping` rule: an epoch improves when it beats the best so far by more than
 * `minDelta`; after an epoch that does not, the count of epochs without improvement is compared with
 * `patience`, and reaching it stops). Its memory is reset at the start of every `fit`, so one value
 * may be reused across runs (not concurrently).
 * @example
 * fit({ ...options, validationData: test, callbacks: [earlyStopping({ patience: 3, restoreBest: true })] })
 * @since 0.1.0
 */
export const earlyStopping = (opts: EarlyStoppingOptions = {}): EarlyStoppingCallback => {
  checkOptions('earlyStopping', opts, EARLY_STOPPING_OPTIONS)
  const monitor = opts.monitor ?? 'valLoss'
  const patience = opts.patience ?? 0
  const minDelta = Math.abs(opts.minDelta ?? 0)
  const mode = opts.mode ?? (monitor === 'accuracy' || monitor === 'valAccuracy' ? 'max' : 'min')
  if (!Number.isInteger(patience) || patience < 0)
    throw new T.ValueError('earlyStopping', `patience must be a non-negative integer, got ${patience}`)
  if (!Number.isFinite(minDelta))
    throw new T.ValueError('earlyStopping', `minDelta must be finite, got ${opts.minDelta}`)
  const improves = (value: number, best: number): boolean =>
    mode === 'min' ? value < best - minDelta : value > best + minDelta
  let best = mode === 'min' ? Infinity : -Infinity
  let wait = 0
  let bestState: TrainingState<unknown, unknown, unknown> | undefined
  return {
    onTrainBegin: () => {
      best = mode === 'min' ? Infinity : -Infinity
      wait = 0
      bestState = undefined
    },
    onEpochEnd: (info) => {
      const value = info.record[monitor]
      if (value === undefined)
        throw new T.ValueError(
          'earlyStopping',
          `monitor '${monitor}' is not in the epoch record (it has ${Object.keys(info.record).join(', ')}); ` +
            (monitor.startsWith('val')
              ? 'pass validationData to fit, or monitor a training metric'
              : 'use labels that are class indices'),
        )
      if (improves(value, best)) {
        best = value
        wait = 0
        bestState = { params: info.params, state: info.state, optState: info.optState, epoch: info.epoch }
        return undefined
      }
      wait++
      return wait >= patience ? 'stop' : undefined
    },
    onTrainEnd: <P, S, O>(final: TrainingState<P, S, O>): TrainingState<P, S, O> =>
      opts.restoreBest === true && bestState !== undefined
        ? // why: bestState was recorded by onEpochEnd of this same fit run (onTrainBegin clears it), so it has this run's P, S, O.
          (bestState as TrainingState<P, S, O>)
        : final,
  }
}

/**
 * Thrown by `stopOnNaN` (on by default in `fit`) when training diverges: a batch loss, an epoch's
 * validation loss, or a parameter, layer-state or optimizer-state value is NaN or infinite.
 * Training stops at once, before any later callback sees the bad values (so `fitWithCheckpoints`
 * never saves them). `lastFinite` is the state at the end of the last epoch that passed the check,
 * to resume from with a lower learning rate (undefined when the first epoch diverged).
 * @since 0.2.0
 */
export class TrainingDivergedError extends T.ValueError {
  /** 0-based epoch in which the non-finite value appeared. */
  readonly epoch: number
  /** 0-based batch of that epoch whose loss was non-finite; undefined when found at the epoch's end. */
  readonly batch: number | undefined
  /** What was non-finite, e.g. `'the loss'` or `"params 'layers.0.weight'"`. */
  readonly what: string
  /** The training state at the end of the last epoch that passed the check; undefined when the first one diverged. */
  readonly lastFinite: TrainingState<unknown, unknown, unknown> | undefined
  /** `where` the non-finite value appeared, `what` it was, its `value` and the last finite training state. */
  constructor(
    where: {
      readonly epoch: number
      readonly batch?: number | undefined
      readonly step?: number | undefined
    },
    what: string,
    value: number,
    lastFinite: TrainingState<unknown, unknown, unknown> | undefined,
  ) {
    const at =
      where.batch === undefined
        ? `at the end of epoch ${where.epoch}`
        : `at epoch ${where.epoch}, batch ${where.batch}${where.step === undefined ? '' : ` (step ${where.step})`}`
    super(
      'stopOnNaN',
      `${what} is ${value} ${at}: training diverged and was stopped (nothing after this point was saved). ` +
        'Lower the learning rate, clip the gradients (clipByGlobalNorm), or look for NaN or infinite values in ' +
        `the data${lastFinite === undefined ? '' : `; error.lastFinite holds the state after epoch ${lastFinite.epoch}`}. ` +
        'Pass stopOnNaN: false to fit to train on regardless.',
    )
    this.name = 'TrainingDivergedError'
    this.epoch = where.epoch
    this.batch = where.batch
    this.what = what
    this.lastFinite = lastFinite
  }
}

/** The callback `stopOnNaN` returns; generic, so one value fits any `fit`. @since 0.2.0 */
export interface StopOnNaNCallback {
  /** Forgets the last finite state of an earlier run. */
  readonly onTrainBegin: (info: TrainBeginInfo) => void
  /** Throws `TrainingDivergedError` when the batch's loss is not finite. */
  readonly onBatchEnd: (info: BatchEndInfo) => CallbackSignal
  /** Throws `TrainingDivergedError` when the validation loss, a parameter, state or optimizer-state value is not finite. */
  readonly onEpochEnd: <P, S, O>(info: EpochEndInfo<P, S, O>) => CallbackSignal
}

/** The first non-finite value among a tree's float tensors, with its leaf name, or undefined. */
const firstNonFinite = (tree: unknown): { readonly name: string; readonly value: number } | undefined => {
  for (const [name, x] of flattenNamed(tree)) {
    if (x.dtype === 'int32') continue
    const data = concrete(x).data
    for (let i = 0; i < data.length; i++) {
      const value = data[i]!
      if (!Number.isFinite(value)) return { name, value }
    }
  }
  return undefined
}

/**
 * Stops training with a `TrainingDivergedError` (naming the epoch and the batch) as soon as the
 * loss of a batch is NaN or infinite, and at the end of each epoch when the validation loss, a
 * parameter, the layer state or the optimizer state holds a NaN or infinite value (the update of
 * an epoch's last batch can diverge after its loss was measured). Keras's `TerminateOnNaN`, but
 * loud: the parameters at that point are garbage, so `fit` throws instead of returning them.
 *
 * `fit` runs one before every other callback unless given `stopOnNaN: false`. The end-of-epoch
 * scan reads every parameter once per epoch, a small cost next to an epoch of training.
 * @example
 * fit({ ...options, stopOnNaN: false, callbacks: [stopOnNaN()] }) // the same as the default
 * @since 0.2.0
 */
export const stopOnNaN = (): StopOnNaNCallback => {
  let lastFinite: TrainingState<unknown, unknown, unknown> | undefined
  return {
    onTrainBegin: () => {
      lastFinite = undefined
    },
    onBatchEnd: (info) => {
      if (!Number.isFinite(info.loss))
        throw new TrainingDivergedError(info, 'the training loss', info.loss, lastFinite)
      return undefined
    },
    onEpochEnd: (info) => {
      // info.epoch counts completed epochs; the epoch that just ran is the one before.
      const epoch = info.epoch - 1
      const valLoss = info.record.valLoss
      if (valLoss !== undefined && !Number.isFinite(valLoss))
        throw new TrainingDivergedError({ epoch }, 'the validation loss', valLoss, lastFinite)
      for (const [treeName, tree] of [
        ['params', info.params],
        ['state', info.state],
        ['optState', info.optState],
      ] as const) {
        const bad = firstNonFinite(tree)
        if (bad !== undefined)
          throw new TrainingDivergedError({ epoch }, `${treeName} '${bad.name}'`, bad.value, lastFinite)
      }
      lastFinite = { params: info.params, state: info.state, optState: info.optState, epoch: info.epoch }
      return undefined
    },
  }
}
