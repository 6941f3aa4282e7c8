import { formatEpochRecord } from '../train/reporter'
import type { Reporter } from '../train/reporter'

/** Where `terminalReporter` writes: `process.stdout`, or anything with `write`. @since 0.1.0 */
export interface ProgressStream {
  /** Writes `text` as it is (no newline added). */
  readonly write: (text: string) => unknown
  readonly isTTY?: boolean
}

/** Options of `terminalReporter`. @since 0.1.0 */
export interface TerminalReporterOptions {
  /** Default `process.stdout`. */
  readonly stream?: ProgressStream
  /** Redraw a live bar (default: when the stream is a terminal). Off, one line per epoch is printed. */
  readonly live?: boolean
  /** Characters in the bar (default 24). */
  readonly barWidth?: number
  /** Minimum seconds between redraws of the live bar (default 0.1), so drawing never slows training. */
  readonly refreshSeconds?: number
  /** Prefix of the validation metrics (default `'val'`; `'test'` when validating on a test set). */
  readonly validationName?: string
}

const CLEAR_LINE = '\r\x1b[K'

/**
 * A progress display for `fit` in a terminal. On a TTY it redraws one line in place (`\r`) with the
 * epoch, a bar, batch `i/n`, the running loss and accuracy and the throughput, and leaves one summary
 * line per epoch; elsewhere (CI logs, pipes) it prints only the summary lines:
 * `epoch  3/30  loss 0.2154  acc 0.9391  val_loss 0.1862  val_acc 0.9444  0.41s  3520 samples/s`.
 * @example
 * import { terminalReporter } from '@backfold/nn/node'
 * import { fit } from '@backfold/nn'
 * fit({ ...options, reporter: terminalReporter() })
 * @since 0.1.0
 */
export const terminalReporter = (opts: TerminalReporterOptions = {}): Reporter => {
  const stream = opts.stream ?? process.stdout
  const live = opts.live ?? stream.isTTY === true
  const barWidth = opts.barWidth ?? 24
  const refreshSeconds = opts.refreshSeconds ?? 0.1
  const formatOptions = opts.validationName === undefined ? {} : { validationName: opts.validationName }
  let lastDrawn = -Infinity
  let epochs = 0
  return {
    start: (info) => {
      epochs = info.epochs
      const batches = `${info.batchesPerEpoch} batch${info.batchesPerEpoch === 1 ? '' : 'es'} of ${info.batchSize}`
      const validation =
        info.validationSamples > 0
          ? `, evaluating on ${info.validationSamples} ${opts.validationName ?? 'validation'} examples`
          : ''
      stream.write(`training on ${info.samples} examples (${batches})${validation}\n`)
    },
    batch: (progress) => {
      if (!live) return
      const done = progress.batch + 1
      const last = done === progress.batchesPerEpoch
      if (progress.batch === 0) lastDrawn = -Infinity
      if (!last && progress.seconds - lastDrawn < refreshSeconds) return
      lastDrawn = progress.seconds
      const filled = Math.round((done / progress.batchesPerEpoch) * barWidth)
      const bar =
        '='.repeat(Math.max(0, filled - 1)) +
        (filled > 0 ? (last ? '=' : '>') : '') +
        '.'.repeat(barWidth - filled)
      const width = String(progress.batchesPerEpoch).length
      const parts = [
        `epoch ${String(progress.epoch + 1).padStart(String(epochs).length)}/${epochs}`,
        `[${bar}]`,
        `${String(done).padStart(width)}/${progress.batchesPerEpoch}`,
        `loss ${progress.loss.toFixed(4)}`,
      ]
      if (progress.accuracy !== undefined) parts.push(`acc ${progress.accuracy.toFixed(4)}`)
      if (progress.seconds > 0) parts.push(`${Math.round(progress.samples / progress.seconds)} samples/s`)
      stream.write(CLEAR_LINE + parts.join('  '))
    },
    epoch: (record, info) => {
      stream.write((live ? CLEAR_LINE : '') + formatEpochRecord(record, info.epochs, formatOptions) + '\n')
    },
  }
}
