import * as O from '@backfold/ops'
import type { DType, Tensor } from '@backfold/tensor'
import type { Layer, LayerConfig, NoState } from '../layer'
import { leafKind } from './define'
import {
  emitSequence,
  gateOf,
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
 * Parameters of `lstm`: PyTorch's `nn.LSTM` names (one layer, one direction) and layouts, the four
 * gates stacked in PyTorch's order (input, forget, cell, output) along the first axis.
 * @since 0.2.0
 */
export interface LstmParams {
  /** `[4·hidden, input]`. */
  readonly weight_ih_l0: Tensor
  /** `[4·hidden, hidden]`. */
  readonly weight_hh_l0: Tensor
  /** `[4·hidden]`. */
  readonly bias_ih_l0: Tensor
  /** `[4·hidden]`. */
  readonly bias_hh_l0: Tensor
}

/** Parameters of `lstm(n, { bias: false })`. @since 0.2.0 */
export interface LstmParamsNoBias {
  readonly weight_ih_l0: Tensor
  readonly weight_hh_l0: Tensor
}

/**
 * The learned initial state of `lstm(n, { initialState: 'learned' })`, beside the weights (not a
 * PyTorch name: `nn.LSTM` has no learned initial state).
 * @since 0.2.0
 */
export interface LstmInitialState {
  /** `[hidden]`, broadcast over the batch; starts at zero. */
  readonly h0: Tensor
  /** `[hidden]`, broadcast over the batch; starts at zero. */
  readonly c0: Tensor
}

/**
 * `LstmParams`, without the biases when `bias` is the literal `false`, with `h0` and `c0` when
 * `initialState` is `'learned'`.
 * @since 0.2.0
 */
export type LstmParamsFor<B extends boolean, I extends InitialState = 'zeros'> = I extends 'learned'
  ? (B extends false ? LstmParamsNoBias : LstmParams) & LstmInitialState
  : B extends false
    ? LstmParamsNoBias
    : LstmParams

/** Options of `lstm`. @since 0.2.0 */
export interface LstmOptions<B extends boolean = boolean, I extends InitialState = InitialState> {
  /** Learn `bias_ih_l0` and `bias_hh_l0` (PyTorch's `bias`, default true). */
  readonly bias?: B
  /** Output every step's hidden state `[seq, hidden]` instead of the last one `[hidden]` (default false). */
  readonly returnSequences?: boolean
  /**
   * `'zeros'` (default, PyTorch's): h and c start at zero. `'learned'`: they start at the
   * parameters `h0` and `c0` (`[hidden]`, initialised to zero, trained like the weights). To pass
   * them per batch instead, call `lstmSequence`.
   */
  readonly initialState?: I
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

/** The config of an `lstm` layer, as `encodeModel` writes it. @since 0.2.0 */
export interface LstmConfig extends LayerConfig {
  readonly kind: 'lstm'
  readonly hiddenSize: number
  readonly bias?: boolean
  readonly returnSequences?: boolean
  readonly initialState?: InitialState
  readonly dtype?: DType
}

/**
 * One LSTM step, PyTorch's formulas with gates i, f, g, o stacked in that order:
 * `i, f, g, o = σ, σ, tanh, σ of (gi + h W_hhᵀ + b_hh)` where `gi = x W_ihᵀ + b_ih`,
 * `c' = f·c + i·g`, `h' = o·tanh(c')`. The one definition of the gate math: `lstm` runs it in
 * `scan`, `lstmCell` once.
 */
export const lstmStep: Step<readonly [Tensor, Tensor]> = (w, [h, c], gi) => {
  const hidden = w.wHh.shape[1]!
  const gates = O.add(gi, project(h, w.wHh, w.bHh))
  const i = O.sigmoid(gateOf(gates, 0, hidden))
  const f = O.sigmoid(gateOf(gates, 1, hidden))
  const g = O.tanh(gateOf(gates, 2, hidden))
  const o = O.sigmoid(gateOf(gates, 3, hidden))
  const next = O.add(O.mul(f, c), O.mul(i, g))
  return [O.mul(o, O.tanh(next)), next]
}

/** The LSTM recurrence: names, gate count, state (h, c) and step. */
export const lstmRecurrence: Recurrence<readonly [Tensor, Tensor]> = {
  sequenceKind: 'lstm',
  cellKind: 'lstmCell',
  gates: 4,
  states: ['h', 'c'],
  step: lstmStep,
}

/**
 * A long short-term memory layer (Hochreiter & Schmidhuber 1997), one layer and one direction, as
 * PyTorch's `nn.LSTM(input, hidden, batch_first=True)`: on `[N, seq, input]`, per step
 * `i, f, g, o = σ, σ, tanh, σ of (x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`, `c = f·c + i·g`, `h = o·tanh(c)`,
 * from `h = c = 0` (or learned `h0`, `c0` with `initialState: 'learned'`). Parameter names, layouts,
 * gate order (i, f, g, o) and initialisation (U(−1/√hidden, 1/√hidden)) are PyTorch's, so a PyTorch
 * state dict loads as it is. The loop over time is `scan`. The output is the last hidden state
 * `[N, hidden]` (h_n), or every step's `[N, seq, hidden]` with `returnSequences: true`; for initial
 * states given per batch and the final cell state c_n, call `lstmSequence` with the same params.
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const layer = layers.lstm(32)
 * layer.init(T.random.key(0), [10, 8]) // params weight_ih_l0 [128, 8], weight_hh_l0 [128, 32], bias_ih_l0, bias_hh_l0 [128]; outShape [32]
 * layers.lstm(32, { returnSequences: true }).init(T.random.key(0), [10, 8]) // outShape [10, 32]
 * layers.lstm(32, { initialState: 'learned' }).init(T.random.key(0), [10, 8]) // also h0, c0 [32]
 * @throws ValueError for an unknown option or an option of the wrong type (other bad arguments make `init` return a `LayerError`).
 * @since 0.2.0
 */
export const lstm = <B extends boolean = true, I extends InitialState = 'zeros'>(
  hiddenSize: number,
  opts: LstmOptions<B, I> = {},
): Layer<LstmParamsFor<B, I>, NoState> =>
  // Safe: the params init makes hold the biases exactly when bias is not false, and h0, c0 exactly
  // when initialState is 'learned' (apply checks the latter), which is what LstmParamsFor<B, I> says.
  sequenceLayer(lstmRecurrence, hiddenSize, opts) as unknown as Layer<LstmParamsFor<B, I>, NoState>

/** Initial states for `lstmSequence`: `[N, hidden]` each, or `[hidden]` (broadcast over the batch). @since 0.2.0 */
export interface LstmInitial {
  /** The initial hidden state (default: the params' `h0` if learned, else zeros). */
  readonly h0?: Tensor
  /** The initial cell state (default: the params' `c0` if learned, else zeros). */
  readonly c0?: Tensor
}

/** What `lstmSequence` returns: PyTorch's `output, (h_n, c_n)`. @since 0.2.0 */
export interface LstmSequenceResult {
  /** Every step's hidden state, `[N, seq, hidden]`. */
  readonly output: Tensor
  /** The final hidden state `[N, hidden]`. */
  readonly h: Tensor
  /** The final cell state `[N, hidden]`. */
  readonly c: Tensor
}

const INITIAL_OPTIONS = O.optionSchema({ h0: O.option.anything, c0: O.option.anything })

/**
 * An `lstm` layer's computation as a function, with PyTorch's `nn.LSTM(x, (h0, c0))` signature:
 * `params` of an `lstm` layer (any `bias` and `initialState`), `x` `[N, seq, input]` (batch first),
 * and optional initial states `[N, hidden]` or `[hidden]`. A state given here replaces the params'
 * learned one; a state neither given nor learned is zero. Returns every step's h and the final h and c,
 * so a sequence can be run in pieces (the next piece starts from the previous one's `h`, `c`).
 * Differentiable in every argument.
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * import * as E from 'fp-ts/lib/Either.js'
 * const init = layers.lstm(4).init(T.random.key(0), [5, 3])
 * if (E.isLeft(init)) throw new Error(init.left.message)
 * const params = init.right.params
 * const x = T.random.normal(T.random.key(1), [2, 5, 3])
 * const first = layers.lstmSequence(params, x) // output [2, 5, 4], h [2, 4], c [2, 4]
 * const next = layers.lstmSequence(params, x, { h0: first.h, c0: first.c }) // continues from there
 * @throws ValueError / ShapeError naming `lstmSequence` for an unknown option, a missing weight or a state of the wrong shape.
 * @since 0.2.0
 */
export const lstmSequence = (
  params: LstmParams | LstmParamsNoBias,
  x: Tensor,
  initial: LstmInitial = {},
): LstmSequenceResult => {
  O.checkOptions('lstmSequence', initial, INITIAL_OPTIONS)
  const run = runSequence(lstmRecurrence, 'lstmSequence', params, x, { ...initial }, true)
  return { output: run.outputs!, h: run.final[0], c: run.final[1] }
}

/** The LSTM operator: ONNX stacks the gates i, o, f, c (PyTorch: i, f, g, o). */
export const lstmOnnx: OnnxRecurrence = {
  opType: 'LSTM',
  gates: 4,
  states: ['h0', 'c0'],
  reorder: (w, hidden) => reorderBlocks([0, 3, 1, 2], w, hidden),
  attributes: [],
}

/**
 * The `lstm` kind: config fields, allocation, and ONNX export as the ONNX `LSTM` operator (the
 * weights reordered into ONNX's gate order i, o, f, c; the input transposed to time-major; learned
 * initial states as `initial_h`, `initial_c` expanded over the batch).
 * @since 0.2.0
 */
export const lstmKind = /* @__PURE__ */ leafKind({
  kind: 'lstm',
  ...sequenceFields,
  build: (f) => lstm(f['hiddenSize'] as number, sequenceOptionsOf(f)),
  allocation: (c, inShape) => sequenceAllocation(4, 2, c, inShape),
  onnx: { emit: (ctx) => emitSequence(ctx, lstmOnnx) },
})
