/**
 * A model summary: per-layer output shape and parameter count, and the totals, as data and as a
 * printable table (Keras's `model.summary()`, torchinfo's `summary`).
 * @since 0.2.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { Shape } from '@backfold/tensor'
import type { JsonValue, Layer, LayerConfig, LayerError } from './layer'
import { decodeModel } from './config/index'
import { size } from './tree'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** One layer of a summary. @since 0.2.0 */
export interface SummaryRow {
  /**
   * The dotted prefix of the layer's parameter names (`'features.1'`; `''` for the model itself), as
   * `tree.flattenNamed` and checkpoints spell them. A residual's body has its residual's path: its
   * parameters are the body's, with no naming level of their own.
   */
  readonly path: string
  /** The layer's name in its parent (`'0'`, `'head'`); `''` for the model itself and for a residual's body. */
  readonly name: string
  /** Nesting level: 0 for the model, 1 for its children, ... */
  readonly depth: number
  /** The layer's kind (`'dense'`, `'sequential'`, ...). */
  readonly kind: string
  /** Shape of one example going in (no batch dimension). */
  readonly inShape: Shape
  /** Shape of one example coming out (no batch dimension). */
  readonly outShape: Shape
  /** Trainable parameters (elements of the layer's params tree, its children's included). */
  readonly params: number
  /** Non-trainable state elements (batch-norm running statistics, ...), children's included. */
  readonly state: number
  /**
   * Why the layer's children are not listed although it has some, when that is the case: a custom
   * layer or a combinator holding one, which has no config to take apart.
   */
  readonly note?: string
}

/** What `summary` returns. @since 0.2.0 */
export interface ModelSummary {
  /** The model first, then every layer inside it, depth first in application order. */
  readonly rows: ReadonlyArray<SummaryRow>
  readonly inShape: Shape
  readonly outShape: Shape
  /** Trainable parameters of the whole model (`tree.size(params)`). */
  readonly totalParams: number
  /** Non-trainable state elements of the whole model (`tree.size(state)`). */
  readonly totalState: number
}

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * What `summary` needs of a layer: its kind, `init` and config (never `apply`), so a layer of any
 * params and state types fits without a cast.
 * @since 0.2.0
 */
export type Summarizable = Pick<Layer<unknown, unknown>, 'kind' | 'init' | 'config'>

/** Shapes and counts do not depend on the key: any fixed key will do. */
const SUMMARY_KEY = T.random.key(0)

interface Child {
  readonly name: string
  readonly config: JsonValue
}

/** The children of a built-in combinator's config, and whether they all see the same input. */
const childrenOf = (
  config: LayerConfig,
):
  | { readonly children: ReadonlyArray<Child>; readonly nesting: 'chain' | 'branches' | 'body' }
  | undefined => {
  const entries = (value: JsonValue | undefined): ReadonlyArray<Child> | undefined => {
    if (Array.isArray(value)) return value.map((c: JsonValue, i) => ({ name: String(i), config: c }))
    if (typeof value === 'object' && value !== null)
      return Object.entries(value).map(([name, c]) => ({ name, config: c }))
    return undefined
  }
  switch (config.kind) {
    case 'sequential': {
      const children = entries(config['layers'])
      return children && { children, nesting: 'chain' }
    }
    case 'parallel': {
      const children = entries(config['layers'])
      return children && { children, nesting: 'branches' }
    }
    case 'residual': {
      const body = config['body']
      return body === undefined ? undefined : { children: [{ name: '', config: body }], nesting: 'body' }
    }
    default:
      return undefined
  }
}

const join = (path: string, name: string): string =>
  name === '' ? path : path === '' ? name : `${path}.${name}`

/**
 * Rows for the children of the layer described by `config` (at `path`, fed `inShape`). Each child is
 * rebuilt from its config (`decodeModel`) and initialised on its own input shape: the public Layer
 * interface exposes a combinator's children only through its config.
 */
const childRows = (
  config: LayerConfig,
  path: string,
  depth: number,
  inShape: Shape,
): Either<LayerError, { readonly rows: ReadonlyArray<SummaryRow>; readonly note?: string }> => {
  const structure = childrenOf(config)
  if (structure === undefined) return E.right({ rows: [] })
  const rows: SummaryRow[] = []
  let shape = inShape
  for (const child of structure.children) {
    const layer = decodeModel(child.config)
    // A child of a kind the config decoder does not know: the parent's row stands for all of them.
    if (E.isLeft(layer))
      return E.right({
        rows: [],
        note: `children not listed: '${join(path, child.name) || '(body)'}' cannot be rebuilt from its config (${layer.left.message})`,
      })
    const childIn = structure.nesting === 'chain' ? shape : inShape
    const row = layerRows(layer.right, child.name, join(path, child.name), depth + 1, childIn)
    if (E.isLeft(row)) return row
    rows.push(...row.right.rows)
    shape = row.right.outShape
  }
  return E.right({ rows })
}

const layerRows = (
  layer: Summarizable,
  name: string,
  path: string,
  depth: number,
  inShape: Shape,
): Either<
  LayerError,
  {
    readonly rows: ReadonlyArray<SummaryRow>
    readonly outShape: Shape
    readonly params: number
    readonly state: number
  }
> => {
  const built = layer.init(SUMMARY_KEY, inShape)
  if (E.isLeft(built)) return built
  const { outShape } = built.right
  const params = size(built.right.params)
  const state = size(built.right.state)
  const row = (note: string | undefined): SummaryRow => ({
    path,
    name,
    depth,
    kind: layer.kind,
    inShape,
    outShape,
    params,
    state,
    ...(note === undefined ? {} : { note }),
  })
  const config = layer.config
  if (config === undefined) {
    const isCombinator = ['sequential', 'parallel', 'residual'].includes(layer.kind)
    const note = isCombinator ? 'children not listed: one of them is a layer without a config' : undefined
    return E.right({ rows: [row(note)], outShape, params, state })
  }
  const children = childRows(config, path, depth, inShape)
  if (E.isLeft(children)) return children
  return E.right({ rows: [row(children.right.note), ...children.right.rows], outShape, params, state })
}

/**
 * Summarises a model for one example of shape `inShape` (no batch dimension): one row per layer with
 * its path, kind, input and output shapes, parameter and state counts, and the totals. A badly wired
 * model is a `Left` (the `LayerError` of its `init`). Nothing runs on data.
 *
 * Built on the public Layer interface: the model is initialised once (with a fixed key: shapes and
 * counts do not depend on it), and the children of `sequential`, `parallel` and `residual` are
 * rebuilt from their configs and initialised on their own input shapes. A custom layer is one row;
 * a combinator holding a layer without a config is one row too, with a `note` saying why.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { layers, summary, formatSummary } from '@backfold/nn'
 * const mlp = layers.sequential(layers.dense(64), layers.relu(), layers.dense(10))
 * const s = summary(mlp, [784])
 * if (E.isRight(s)) console.log(s.right.totalParams, '\n' + formatSummary(s.right)) // 50890
 * @since 0.2.0
 */
export const summary = (model: Summarizable, inShape: Shape): Either<LayerError, ModelSummary> => {
  const rows = layerRows(model, '', '', 0, inShape)
  if (E.isLeft(rows)) return rows
  return E.right({
    rows: rows.right.rows,
    inShape,
    outShape: rows.right.outShape,
    totalParams: rows.right.params,
    totalState: rows.right.state,
  })
}

// -------------------------------------------------------------------------------------
// destructors
// -------------------------------------------------------------------------------------

const count = (n: number): string => n.toLocaleString('en-US')

/**
 * A summary as a fixed-width table, one line per layer (indented by depth), then the totals:
 *
 * ```text
 * layer              kind        output    params  state
 * (model)            sequential  [10]      50,890      0
 *   0                dense       [64]      50,240      0
 *   ...
 * total: 50,890 parameters, 0 state elements; input [784], output [10]
 * ```
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { layers, summary, formatSummary } from '@backfold/nn'
 * const s = summary(layers.sequential(layers.dense(8), layers.relu()), [4])
 * if (E.isRight(s)) console.log(formatSummary(s.right))
 * @since 0.2.0
 */
export const formatSummary = (s: ModelSummary): string => {
  const table = [
    ['layer', 'kind', 'output', 'params', 'state'],
    ...s.rows.map((r) => [
      `${'  '.repeat(r.depth)}${r.depth === 0 ? '(model)' : r.name === '' ? '(body)' : r.name}`,
      r.note === undefined ? r.kind : `${r.kind} (${r.note})`,
      T.fmtShape(r.outShape),
      count(r.params),
      count(r.state),
    ]),
  ]
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)))
  const line = (row: ReadonlyArray<string>): string =>
    row
      .map((cell, c) => (c >= 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd()
  return [
    ...table.map(line),
    `total: ${count(s.totalParams)} parameters, ${count(s.totalState)} state elements; ` +
      `input ${T.fmtShape(s.inShape)}, output ${T.fmtShape(s.outShape)}`,
  ].join('\n')
}
