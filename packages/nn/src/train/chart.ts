import { checkOptions, option, optionSchema } from '@backfold/ops'
import { ValueError } from '@backfold/tensor'
import type { EpochMetric, EpochRecord, History } from './history'

/** Options of `historyChartSvg`. @since 0.1.0 */
export interface HistoryChartOptions {
  /** Drawn above the panels (default none). */
  readonly title?: string
  /** Width in pixels (default 720). */
  readonly width?: number
  /** Height of each panel in pixels (default 260). */
  readonly panelHeight?: number
  /**
   * Legend text per series (defaults: 'training loss', 'validation loss', 'training accuracy',
   * 'validation accuracy'). E.g. `{ valAccuracy: 'test accuracy' }` when the validation data is a test set.
   */
  readonly labels?: Partial<Readonly<Record<EpochMetric, string>>>
  /** Label of the x axis (default 'epoch'). @since 0.2.0 */
  readonly xLabel?: string
  /**
   * The x value of each record (default `record.epoch + 1`), e.g. the training step of a record
   * written every few hundred steps; only integer ticks are labelled. @since 0.2.0
   */
  readonly x?: (record: EpochRecord, index: number) => number
}

const CHART_OPTIONS = optionSchema({
  title: option.string,
  width: option.number,
  panelHeight: option.number,
  labels: option.record,
  xLabel: option.string,
  x: option.function,
})

const DEFAULT_LABELS: Readonly<Record<EpochMetric, string>> = {
  loss: 'training loss',
  valLoss: 'validation loss',
  accuracy: 'training accuracy',
  valAccuracy: 'validation accuracy',
}

// Colour-blind-safe pair (Okabe-Ito blue and vermillion); validation series are also dashed.
const COLORS: Readonly<Record<EpochMetric, string>> = {
  loss: '#0072B2',
  valLoss: '#D55E00',
  accuracy: '#0072B2',
  valAccuracy: '#D55E00',
}

const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** A coordinate with at most two decimals: keeps the file small and stable across platforms. */
const coord = (value: number): string => String(Math.round(value * 100) / 100)

/**
 * "Nice" axis ticks (steps of 1, 2 or 5 times a power of ten) covering `[lo, hi]` with about
 * `target` intervals, and the number of decimals their labels need.
 * @internal
 */
export const niceTicks = (
  lo: number,
  hi: number,
  target = 5,
): { readonly ticks: ReadonlyArray<number>; readonly decimals: number } => {
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1
    return niceTicks(lo - pad, lo + pad, target)
  }
  const rough = (hi - lo) / target
  const magnitude = 10 ** Math.floor(Math.log10(rough))
  const fraction = rough / magnitude
  const unit = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
  const stepSize = unit * magnitude
  const decimals = Math.min(100, Math.max(0, -Math.floor(Math.log10(stepSize) + 1e-9)))
  // Multiplying integers by the step (not accumulating), then rounding to the step's decimals,
  // keeps labels like 0.30000000000000004 away.
  const tick = (i: number): number => Number((i * stepSize).toFixed(decimals))
  let first = Math.floor(lo / stepSize + 1e-9)
  let last = Math.ceil(hi / stepSize - 1e-9)
  // The divisions above can round across a tick when lo or hi is huge relative to the step. A few
  // corrections suffice; more would mean a step below the resolution of the numbers themselves.
  const slack = stepSize * 1e-9
  for (let n = 0; n < 4 && tick(first) > lo + slack; n++) first--
  for (let n = 0; n < 4 && tick(last) < hi - slack; n++) last++
  const ticks: number[] = []
  for (let i = first; i <= last; i++) ticks.push(tick(i))
  return { ticks, decimals }
}

interface Series {
  readonly metric: EpochMetric
  readonly label: string
  readonly points: ReadonlyArray<readonly [number, number]>
}

interface PanelSpec {
  readonly name: string
  readonly series: ReadonlyArray<Series>
  /** Clamp the value axis to this range (accuracy lives in [0, 1]). */
  readonly clamp?: readonly [number, number]
}

const seriesOf = (
  history: History,
  xs: ReadonlyArray<number>,
  metric: EpochMetric,
  label: string,
): Series | undefined => {
  const points: Array<readonly [number, number]> = []
  history.forEach((record, i) => {
    const value = record[metric]
    if (value !== undefined && Number.isFinite(value)) points.push([xs[i]!, value])
  })
  return points.length > 0 ? { metric, label, points } : undefined
}

const panelSvg = (
  panel: PanelSpec,
  top: number,
  width: number,
  height: number,
  epochRange: readonly [number, number],
  xLabel: string,
): string => {
  const margin = { left: 64, right: 24, top: 28, bottom: 44 }
  const plotLeft = margin.left
  const plotRight = width - margin.right
  const plotTop = top + margin.top
  const plotBottom = top + height - margin.bottom
  const values = panel.series.flatMap((s) => s.points.map(([, v]) => v))
  let lo = Math.min(...values)
  let hi = Math.max(...values)
  const yTicks = niceTicks(lo, hi)
  lo = yTicks.ticks[0]!
  hi = yTicks.ticks[yTicks.ticks.length - 1]!
  if (panel.clamp !== undefined) {
    lo = Math.max(lo, panel.clamp[0])
    hi = Math.min(hi, panel.clamp[1])
  }
  const [firstEpoch, lastEpoch] = epochRange
  const xTicks = niceTicks(firstEpoch, lastEpoch, Math.min(10, Math.max(1, lastEpoch - firstEpoch)))
  const xLo = lastEpoch > firstEpoch ? firstEpoch : firstEpoch - 1
  const xHi = lastEpoch > firstEpoch ? lastEpoch : lastEpoch + 1
  const x = (epoch: number): number => plotLeft + ((epoch - xLo) / (xHi - xLo)) * (plotRight - plotLeft)
  const y = (value: number): number => plotBottom - ((value - lo) / (hi - lo)) * (plotBottom - plotTop)
  const parts: string[] = []
  parts.push(
    `<text x="${coord(plotLeft)}" y="${coord(top + 18)}" font-size="14" font-weight="bold">${escapeXml(panel.name)}</text>`,
  )
  for (const tick of yTicks.ticks) {
    if (tick < lo - 1e-12 || tick > hi + 1e-12) continue
    const ty = coord(y(tick))
    parts.push(
      `<line x1="${coord(plotLeft)}" y1="${ty}" x2="${coord(plotRight)}" y2="${ty}" stroke="#e5e5e5"/>`,
    )
    parts.push(
      `<text x="${coord(plotLeft - 8)}" y="${ty}" text-anchor="end" dominant-baseline="middle" font-size="11">${tick.toFixed(yTicks.decimals)}</text>`,
    )
  }
  for (const tick of xTicks.ticks) {
    if (!Number.isInteger(tick) || tick < xLo || tick > xHi) continue
    const tx = coord(x(tick))
    parts.push(
      `<line x1="${tx}" y1="${coord(plotBottom)}" x2="${tx}" y2="${coord(plotBottom + 5)}" stroke="#333"/>`,
    )
    parts.push(
      `<text x="${tx}" y="${coord(plotBottom + 18)}" text-anchor="middle" font-size="11">${tick}</text>`,
    )
  }
  parts.push(
    `<polyline points="${coord(plotLeft)},${coord(plotTop)} ${coord(plotLeft)},${coord(plotBottom)} ${coord(plotRight)},${coord(plotBottom)}" fill="none" stroke="#333"/>`,
  )
  parts.push(
    `<text x="${coord((plotLeft + plotRight) / 2)}" y="${coord(plotBottom + 36)}" text-anchor="middle" font-size="12">${escapeXml(xLabel)}</text>`,
  )
  // The legend goes in the top or bottom right corner, whichever covers fewer data points
  // (losses fall towards the bottom right, accuracies rise towards the top right).
  const legendWidth = 176
  const legendHeight = 12 + 18 * panel.series.length
  const legendLeft = plotRight - legendWidth - 8
  const covered = (legendTop: number): number =>
    panel.series.reduce(
      (n, s) =>
        n +
        s.points.filter(([e, v]) => {
          const px = x(e)
          const py = y(v)
          return px >= legendLeft - 4 && py >= legendTop - 4 && py <= legendTop + legendHeight + 4
        }).length,
      0,
    )
  const topCandidate = plotTop + 4
  const bottomCandidate = plotBottom - legendHeight - 4
  const legendTop = covered(bottomCandidate) < covered(topCandidate) ? bottomCandidate : topCandidate
  parts.push(
    `<rect x="${coord(legendLeft)}" y="${coord(legendTop)}" width="${legendWidth}" height="${legendHeight}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`,
  )
  panel.series.forEach((series) => {
    const color = COLORS[series.metric]
    const dash = series.metric.startsWith('val') ? ' stroke-dasharray="6 4"' : ''
    const path = series.points.map(([e, v]) => `${coord(x(e))},${coord(y(v))}`).join(' ')
    parts.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`)
    if (series.points.length <= 60)
      for (const [e, v] of series.points)
        parts.push(`<circle cx="${coord(x(e))}" cy="${coord(y(v))}" r="2.5" fill="${color}"/>`)
  })
  panel.series.forEach((series, i) => {
    const color = COLORS[series.metric]
    const dash = series.metric.startsWith('val') ? ' stroke-dasharray="6 4"' : ''
    const rowY = legendTop + 15 + 18 * i
    parts.push(
      `<line x1="${coord(legendLeft + 8)}" y1="${coord(rowY)}" x2="${coord(legendLeft + 32)}" y2="${coord(rowY)}" stroke="${color}" stroke-width="2"${dash}/>`,
    )
    parts.push(
      `<text x="${coord(legendLeft + 38)}" y="${coord(rowY)}" dominant-baseline="middle" font-size="12">${escapeXml(series.label)}</text>`,
    )
  })
  return parts.join('\n')
}

/**
 * A self-contained SVG line chart of a training history, as a string (pure: write it with
 * `writeHistoryChart` from `@backfold/nn/node`, or put it in a page). One panel for training and
 * validation loss, one for training and validation accuracy (when recorded), each with axes, ticks
 * and a legend; the x axis counts epochs from 1 (or is the `x` option's value of each record, labelled
 * `xLabel`). Non-finite values (a diverged loss) are left out.
 * @example
 * const svg = historyChartSvg(result.history, { title: 'digits MLP', labels: { valAccuracy: 'test accuracy' } })
 * @since 0.1.0
 */
export const historyChartSvg = (history: History, opts: HistoryChartOptions = {}): string => {
  checkOptions('historyChartSvg', opts, CHART_OPTIONS)
  const width = opts.width ?? 720
  const panelHeight = opts.panelHeight ?? 260
  const labels = { ...DEFAULT_LABELS, ...opts.labels }
  const xOf = opts.x ?? ((record: EpochRecord) => record.epoch + 1)
  const xs = history.map((record, i) => xOf(record, i))
  const badX = xs.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v))
  if (badX >= 0)
    throw new ValueError(
      'historyChartSvg',
      `the x option gave ${String(xs[badX])} for record ${badX}; expected a finite number for every record`,
    )
  const pick = (metrics: ReadonlyArray<EpochMetric>): Series[] =>
    metrics.flatMap((m) => {
      const s = seriesOf(history, xs, m, labels[m])
      return s === undefined ? [] : [s]
    })
  const panels: PanelSpec[] = []
  const lossSeries = pick(['loss', 'valLoss'])
  if (lossSeries.length > 0) panels.push({ name: 'loss', series: lossSeries })
  const accuracySeries = pick(['accuracy', 'valAccuracy'])
  if (accuracySeries.length > 0) panels.push({ name: 'accuracy', series: accuracySeries, clamp: [0, 1] })
  const titleHeight = opts.title === undefined ? 0 : 32
  const height = titleHeight + Math.max(1, panels.length) * panelHeight
  const epochRange: readonly [number, number] = xs.length > 0 ? [Math.min(...xs), Math.max(...xs)] : [1, 1]
  const body: string[] = []
  if (opts.title !== undefined)
    body.push(
      `<text x="${coord(width / 2)}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(opts.title)}</text>`,
    )
  panels.forEach((panel, i) =>
    body.push(
      panelSvg(panel, titleHeight + i * panelHeight, width, panelHeight, epochRange, opts.xLabel ?? 'epoch'),
    ),
  )
  if (panels.length === 0)
    body.push(
      `<text x="${coord(width / 2)}" y="${coord(titleHeight + panelHeight / 2)}" text-anchor="middle" font-size="14">no epochs recorded</text>`,
    )
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n')
}
