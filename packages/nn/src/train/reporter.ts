import { checkOptions, option, optionSchema } from '@backfold/ops'
import type { EpochRecord, History } from './history'

/** Told to a `Reporter` when `fit` starts. @since 0.1.0 */
export interface FitStartInfo {
  /** First epoch to run (0-based; nonzero when resuming). */
  readonly initialEpoch: number
  /** Training stops before this epoch index: epochs `initialEpoch .. epochs - 1` run. */
  readonly epochs: number
  readonly samples: number
  readonly batchSize: number
  readonly batchesPerEpoch: number
  /** Number of validation examples (0 without validation data). */
  readonly validationSamples: number
}

/** Told to a `Reporter` after every training batch. @since 0.1.0 */
export interface BatchProgress {
  readonly epoch: number
  /** 0-based index of the batch just finished. */
  readonly batch: number
  readonly batchesPerEpoch: number
  /** Mean objective over the epoch's batches so far. */
  readonly loss: number
  /** Accuracy over the epoch's batches so far, when the labels are class indices. */
  readonly accuracy?: number
  /** Examples seen in this epoch so far. */
  readonly samples: number
  /** Seconds since the epoch began. */
  readonly seconds: number
}

/**
 * A progress display. `fit` calls `start` once, `batch` after every batch, `epoch` after every epoch
 * (with its record, including validation metrics) and `end` once. Every hook is optional; a
 * reporter only displays, it cannot change training (use a callback for that). The default,
 * `silentReporter`, shows nothing; `@backfold/nn/node` has a terminal progress bar.
 * @since 0.1.0
 */
export interface Reporter {
  /** Called once before training, with the number of examples, batches and epochs. */
  readonly start?: (info: FitStartInfo) => void
  /** Called after every batch with the progress of the epoch. */
  readonly batch?: (progress: BatchProgress) => void
  /** Called after every epoch with its metrics. */
  readonly epoch?: (record: EpochRecord, info: FitStartInfo) => void
  /** Called once after training with the whole history. */
  readonly end?: (history: History) => void
}

/** Shows nothing: the default reporter of `fit`. @since 0.1.0 */
export const silentReporter: Reporter = {}

const fixed = (value: number, digits: number): string =>
  Number.isFinite(value) ? value.toFixed(digits) : String(value)

/** Options of `formatEpochRecord`. @since 0.1.0 */
export interface FormatEpochOptions {
  /** Prefix of the validation metrics (default `'val'`; `'test'` when the validation data is a test set). */
  readonly validationName?: string
}

const FORMAT_EPOCH_OPTIONS = optionSchema({
  validationName: option.string,
})

/**
 * One line summing up an epoch, as the reporters print it:
 * `epoch  3/30  loss 0.2154  acc 0.9391  val_loss 0.1862  val_acc 0.9444  0.41s  3520 samples/s`.
 * @since 0.1.0
 */
export const formatEpochRecord = (
  record: EpochRecord,
  epochs: number,
  opts: FormatEpochOptions = {},
): string => {
  checkOptions('formatEpochRecord', opts, FORMAT_EPOCH_OPTIONS)
  const prefix = opts.validationName ?? 'val'
  const width = String(epochs).length
  const parts = [
    `epoch ${String(record.epoch + 1).padStart(width)}/${epochs}`,
    `loss ${fixed(record.loss, 4)}`,
  ]
  if (record.accuracy !== undefined) parts.push(`acc ${fixed(record.accuracy, 4)}`)
  if (record.valLoss !== undefined) parts.push(`${prefix}_loss ${fixed(record.valLoss, 4)}`)
  if (record.valAccuracy !== undefined) parts.push(`${prefix}_acc ${fixed(record.valAccuracy, 4)}`)
  parts.push(`${record.seconds.toFixed(2)}s`)
  if (record.seconds > 0) parts.push(`${Math.round(record.samples / record.seconds)} samples/s`)
  return parts.join('  ')
}
