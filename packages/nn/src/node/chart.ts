import type * as E from 'fp-ts/lib/Either.js'
import { historyChartSvg } from '../train/chart'
import type { HistoryChartOptions } from '../train/chart'
import type { History } from '../train/history'
import { writeFileAtomic } from './files'
import type { FileError } from './files'

/**
 * Writes `historyChartSvg(history, opts)` to `file` atomically: a standalone SVG (loss and accuracy
 * per epoch) that opens in any browser.
 * @example
 * await writeHistoryChart('out/training.svg', result.history, { labels: { valAccuracy: 'test accuracy' } })
 * @since 0.1.0
 */
export const writeHistoryChart = (
  file: string,
  history: History,
  opts: HistoryChartOptions = {},
): Promise<E.Either<FileError, void>> => writeFileAtomic(file, historyChartSvg(history, opts))
