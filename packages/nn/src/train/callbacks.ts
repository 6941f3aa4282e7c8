import * as T from '@backfold/tensor'
import type { Key } from '@backfold/tensor'
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
  readonly onTrainBegin?: (info: TrainBeginInfo) => void
  readonly onBatchEnd?: (info: BatchEndInfo) => CallbackSignal
  readonly onEpochEnd?: (info: EpochEndInfo<P, S, O>) => CallbackSignal
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
  readonly onTrainBegin: (info: TrainBeginInfo) => void
  readonly onEpochEnd: <P, S, O>(info: EpochEndInfo<P, S, O>) => CallbackSignal
  readonly onTrainEnd: <P, S, O>(final: TrainingState<P, S, O>) => TrainingState<P, S, O>
}

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
