import * as O from '@backfold/ops'
import type { DType, Tensor } from '@backfold/tensor'
import type { Layer, LayerConfig, NoState } from '../layer'
import { intAttribute } from '../onnx/graph'
import { leafKind } from './define'
import {
  emitSequence,
  project,
  reorderBlocks,
  runSequence,
  sequenceAllocation,
  sequenceFields,
  sequenceLayer,
  sequenceOptionsOf,
  type InitialState,
  type OnnxRecurrence,
  type Recurrence,
  type Step,
} from './recurrent'

/**
 * Parameters of `gru`, with PyTorch's `nn.GRU` names and layouts (one layer, one direction), so a
 * PyTorch state dict loads as is. The three gates are stacked by rows in PyTorch's order r, z, n.
 * @since 0.2.0
 */
export interface GruParams {
  /** `[3·hidden, input]`: `W_ir`, `W_iz`, `W_in` stacked (rows). */
  readonly weight_ih_l0: Tensor
  /** `[3·hidden, hidden]`: `W_hr`, `W_hz`, `W_hn` stacked (rows). */
  readonly weight_hh_l0: Tensor
  /** `[3·hidden]`. */
  readonly bias_ih_l0: Tensor
  /** `[3·hidden]`. */
  readonly bias_hh_l0: Tensor
}

/** Parameters of `gru(n, { bias: false })`: PyTorch's names, without the biases. @since 0.2.0 */
export interface GruParamsNoBias {
  readonly weight_ih_l0: Tensor
  readonly weight_hh_l0: Tensor
}

/**
 * The learned initial state of `gru(n, { initialState: 'learned' })`, beside the weights (not a
 * PyTorch name: `nn.GRU` has no learned initial state).
 * @since 0.2.0
 */
export interface GruInitialState {
  /** `[hidden]`, broadcast over the batch; starts at zero. */
  readonly h0: Tensor
}

/**
 * `GruParams`, without biases when `bias` is the literal `false`, with `h0` when `initialState` is
 * `'learned'`.
 * @since 0.2.0
 */
export type GruParamsFor<B extends boolean, I extends InitialState = 'zeros'> = I extends 'learned'
  ? (B extends false ? GruParamsNoBias : GruParams) & GruInitialState
  : B extends false
    ? GruParamsNoBias
    : GruParams

/** Options of `gru`. @since 0.2.0 */
export interface GruOptions<B extends boolean = boolean, I extends InitialState = InitialState> {
  /** Biases `bias_ih_l0` and `bias_hh_l0` (PyTorch's `bias`, default true). */
  readonly bias?: B
  /** Output every step's hidden state `[batch, seq, hidden]` instead of the last one `[batch, hidden]` (default false). */
  readonly returnSequences?: boolean
  /**
   * `'zeros'` (default, PyTorch's): h starts at zero. `'learned'`: it starts at the parameter `h0`
   * (`[hidden]`, initialised to zero, trained like the weights). To pass it per batch instead, call
   * `gruSequence`.
   */
  readonly initialState?: I
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

/** The config of a `gru` layer, as `encodeModel` writes it. @since 0.2.0 */
export interface GruConfig extends LayerConfig {
  readonly kind: 'gru'
  readonly hiddenSize: number
  readonly bias?: boolean
  readonly returnSequences?: boolean
  readonly initialState?: InitialState
  readonly dtype?: DType
}

/**
 * One GRU step, PyTorch's formulas with gates r, z, n: with `gi = x W_ihᵀ + b_ih` and
 * `gh = h W_hhᵀ + b_hh` split into their r, z, n blocks, `r = σ(gi_r + gh_r)`,
 * `z = σ(gi_z + gh_z)`, `n = tanh(gi_n + r ⊙ gh_n)` (r multiplies `W_hn h + b_hn`, as PyTorch and
 * ONNX's `linear_before_reset`), `h' = (1 − z) ⊙ n + z ⊙ h`. The one definition of the gate math:
 * `gru` runs it in `scan`, `gruCell` once.
 */
export const gruStep: Step<readonly [Tensor]> = (w, [h], gi) => {
  const [ir, iz, inn] = O.split(gi, 3, { axis: -1 }) as [Tensor, Tensor, Tensor]
  const [hr, hz, hn] = O.split(project(h, w.wHh, w.bHh), 3, { axis: -1 }) as [Tensor, Tensor, Tensor]
  const r = O.sigmoid(O.add(ir, hr))
  const z = O.sigmoid(O.add(iz, hz))
  const n = O.tanh(O.add(inn, O.mul(r, hn)))
  // (1 − z) n + z h = n + z (h − n)
  return [O.add(n, O.mul(z, O.sub(h, n)))]
}

/** The GRU recurrence: names, gate count, state (h) and step. */
export const gruRecurrence: Recurrence<readonly [Tensor]> = {
  sequenceKind: 'gru',
  cellKind: 'gruCell',
  gates: 3,
  states: ['h'],
  step: gruStep,
}

/**
 * A gated recurrent unit over a sequence (Cho et al. 2014; PyTorch's `nn.GRU` with
 * `batch_first=True`, one layer, one direction, zero initial state unless `initialState:
 * 'learned'`): `[batch, seq, input] → [batch, hidden]` (the last hidden state, h_n), or
 * `[batch, seq, hidden]` with `returnSequences`. Per step, with PyTorch's gate order r, z, n:
 * `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
 * `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.
 * The input projections of all steps are one matmul; the loop over time is `scan`, so its VJP keeps
 * the stacked hidden states instead of one tape entry per op. Parameters use PyTorch's names and
 * layouts (see `GruParams`) and its initialisation, every tensor uniform in ±1/√hidden. For an
 * initial state given per batch, call `gruSequence` with the same params.
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const rnn = layers.gru(32, { returnSequences: true })
 * const built = rnn.init(T.random.key(0), [20, 8]) // weight_ih_l0 [96, 8], weight_hh_l0 [96, 32]; out [20, 32]
 * @throws ValueError for an unknown option or an option of the wrong type (bad values make `init` return a `LayerError`).
 * @since 0.2.0
 */
export const gru = <B extends boolean = true, I extends InitialState = 'zeros'>(
  hiddenSize: number,
  opts: GruOptions<B, I> = {},
): Layer<GruParamsFor<B, I>, NoState> =>
  // Safe: the params init makes hold the biases exactly when bias is not false, and h0 exactly
  // when initialState is 'learned' (apply checks the latter), which is what GruParamsFor<B, I> says.
  sequenceLayer(gruRecurrence, hiddenSize, opts) as unknown as Layer<GruParamsFor<B, I>, NoState>

/** Initial state for `gruSequence`: `[N, hidden]`, or `[hidden]` (broadcast over the batch). @since 0.2.0 */
export interface GruInitial {
  /** The initial hidden state (default: the params' `h0` if learned, else zeros). */
  readonly h0?: Tensor
}

/** What `gruSequence` returns: PyTorch's `output, h_n`. @since 0.2.0 */
export interface GruSequenceResult {
  /** Every step's hidden state, `[N, seq, hidden]`. */
  readonly output: Tensor
  /** The final hidden state `[N, hidden]`. */
  readonly h: Tensor
}

const INITIAL_OPTIONS = O.optionSchema({ h0: O.option.anything })

/**
 * A `gru` layer's computation as a function, with PyTorch's `nn.GRU(x, h0)` signature: `params` of
 * a `gru` layer (any `bias` and `initialState`), `x` `[N, seq, input]` (batch first), and an optional
 * initial state `[N, hidden]` or `[hidden]`, which replaces the params' learned `h0`; neither given
 * nor learned, it is zero. Returns every step's h and the final h. Differentiable in every argument.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const init = layers.gru(4).init(T.random.key(0), [5, 3])
 * if (E.isLeft(init)) throw new Error(init.left.message)
 * const x = T.random.normal(T.random.key(1), [2, 5, 3])
 * const first = layers.gruSequence(init.right.params, x) // output [2, 5, 4], h [2, 4]
 * const next = layers.gruSequence(init.right.params, x, { h0: first.h }) // continues from there
 * @throws ValueError / ShapeError naming `gruSequence` for an unknown option, a missing weight or a state of the wrong shape.
 * @since 0.2.0
 */
export const gruSequence = (
  params: GruParams | GruParamsNoBias,
  x: Tensor,
  initial: GruInitial = {},
): GruSequenceResult => {
  O.checkOptions('gruSequence', initial, INITIAL_OPTIONS)
  const run = runSequence(gruRecurrence, 'gruSequence', params, x, { ...initial }, true)
  return { output: run.outputs!, h: run.final[0] }
}

/** The GRU operator: ONNX stacks the gates z, r, h (PyTorch: r, z, n); `linear_before_reset = 1` is PyTorch's n gate. */
export const gruOnnx: OnnxRecurrence = {
  opType: 'GRU',
  gates: 3,
  states: ['h0'],
  reorder: (w, hidden) => reorderBlocks([1, 0, 2], w, hidden),
  attributes: [/* @__PURE__ */ intAttribute('linear_before_reset', 1)],
}

/**
 * The `gru` kind: config fields, allocation, and ONNX export as ONNX's `GRU` operator (one
 * direction, `linear_before_reset = 1`, which is PyTorch's n gate: `r ⊙ (W_hn h + b_hn)`). ONNX
 * stacks the gates z, r, h, so the PyTorch weights are reordered into initializers `W` `[1, 3H, I]`,
 * `R` `[1, 3H, H]` and `B` `[1, 6H]`; the batch-first input is transposed to time first, and the
 * output `Y` `[seq, 1, batch, H]` is gathered to the last step or transposed back to batch first. A
 * learned `h0` is `initial_h`, expanded over the batch.
 * @since 0.2.0
 */
export const gruKind = /* @__PURE__ */ leafKind({
  kind: 'gru',
  ...sequenceFields,
  build: (f) => gru(f['hiddenSize'] as number, sequenceOptionsOf(f)),
  allocation: (c, inShape) => sequenceAllocation(3, 1, c, inShape),
  onnx: { emit: (ctx) => emitSequence(ctx, gruOnnx) },
})
