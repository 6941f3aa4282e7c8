import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import type { Layer, LayerConfig, NoState } from '../layer'
import { intAttribute } from '../onnx/graph'
import { leafKind } from './define'
import { lstmRecurrence } from './lstm'
import {
  cellAllocation,
  cellFields,
  cellLayer,
  cellOptionsOf,
  emitCellParts,
  hiddenOf,
  onnxWeights,
} from './recurrent'

/**
 * Parameters of `lstmCell`: PyTorch's `nn.LSTMCell` names and layouts, gates stacked i, f, g, o.
 * @since 0.2.0
 */
export interface LstmCellParams {
  /** `[4·hidden, input]`. */
  readonly weight_ih: Tensor
  /** `[4·hidden, hidden]`. */
  readonly weight_hh: Tensor
  /** `[4·hidden]`. */
  readonly bias_ih: Tensor
  /** `[4·hidden]`. */
  readonly bias_hh: Tensor
}

/** Parameters of `lstmCell(n, { bias: false })`. @since 0.2.0 */
export interface LstmCellParamsNoBias {
  readonly weight_ih: Tensor
  readonly weight_hh: Tensor
}

/** `LstmCellParams`, without the biases when `bias` is the literal `false`. @since 0.2.0 */
export type LstmCellParamsFor<B extends boolean> = B extends false ? LstmCellParamsNoBias : LstmCellParams

/** Options of `lstmCell`. @since 0.2.0 */
export interface LstmCellOptions<B extends boolean = boolean> {
  /** Learn `bias_ih` and `bias_hh` (PyTorch's `bias`, default true). */
  readonly bias?: B
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

/** The config of an `lstmCell` layer, as `encodeModel` writes it. @since 0.2.0 */
export interface LstmCellConfig extends LayerConfig {
  readonly kind: 'lstmCell'
  readonly hiddenSize: number
  readonly bias?: boolean
  readonly dtype?: DType
}

/**
 * One LSTM step as a layer, PyTorch's `nn.LSTMCell(input, hidden)`: the same gate math as `lstm`
 * (one step function), names `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`, gates i, f, g, o,
 * initialisation U(−1/√hidden, 1/√hidden). A layer takes and returns one tensor, so the state
 * travels packed on the last axis: the per-example input is `[x, h, c]` (`[input + 2·hidden]`) and
 * the output `[h', c']` (`[2·hidden]`), which is the state part of the next step's input. Run it
 * over a sequence with `scan`, concatenating each step's x with the previous output.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import * as O from '@backfold/ops'
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const cell = layers.lstmCell(4)
 * const init = cell.init(T.random.key(0), [3 + 2 * 4]) // x of 3 features; params weight_ih [16, 3], ...
 * if (E.isLeft(init)) throw new Error(init.left.message)
 * const x = T.random.normal(T.random.key(1), [2, 3])
 * const hc = T.zeros([2, 8]) // [h, c] of a batch of 2
 * const [next] = cell.apply(init.right.params, {}, O.concat([x, hc], { axis: -1 }), { training: false }) // [2, 8]: [h', c']
 * @throws ValueError for an unknown option or an option of the wrong type (other bad arguments make `init` return a `LayerError`).
 * @since 0.2.0
 */
export const lstmCell = <B extends boolean = true>(
  hiddenSize: number,
  opts: LstmCellOptions<B> = {},
): Layer<LstmCellParamsFor<B>, NoState> =>
  // Safe: the biases are present exactly when bias is not false, which is what LstmCellParamsFor<B> says.
  cellLayer(lstmRecurrence, hiddenSize, opts) as unknown as Layer<LstmCellParamsFor<B>, NoState>

/**
 * The `lstmCell` kind: config fields, allocation, and ONNX export as a subgraph of standard
 * operators (ONNX's `LSTM` would give `c'` only as a second output): Gather splits the packed input
 * into `[x, h]` and `c`; per gate one MatMul by `[W_ih; W_hh]ᵀ` of that gate and one Add of
 * `b_ih + b_hh`; Sigmoid/Tanh; `c' = f·c + i·g`, `h' = o·tanh(c')`; Concat `[h', c']`.
 * @since 0.2.0
 */
export const lstmCellKind = /* @__PURE__ */ leafKind({
  kind: 'lstmCell',
  ...cellFields,
  build: (f) => lstmCell(f['hiddenSize'] as number, cellOptionsOf(f)),
  allocation: (c, inShape) => cellAllocation(4, 2, c, inShape),
  onnx: {
    emit: (ctx) => {
      const hidden = hiddenOf(ctx)
      if (E.isLeft(hidden)) return hidden
      const h = hidden.right
      const parts = emitCellParts(ctx, 2, h)
      if (E.isLeft(parts)) return parts
      const w = onnxWeights(ctx, '', 4, h, parts.right.input)
      if (E.isLeft(w)) return w
      const [hPrev, cPrev] = parts.right.states as [string, string]
      const xh = ctx.node('Concat', [parts.right.x, hPrev], [intAttribute('axis', 1)])
      const block = (t: Tensor, k: number): Tensor => T.slice(t, [{ start: k * h, stop: (k + 1) * h }])
      const { wIh, wHh, bIh, bHh } = w.right
      const gate = (k: number, name: string, activation: 'Sigmoid' | 'Tanh'): string => {
        // [input + hidden, hidden]: x's rows of W_ih above h's rows of W_hh, transposed.
        const weight = T.transpose(T.concat([block(wIh, k), block(wHh, k)], 1), [1, 0])
        const product = ctx.node('MatMul', [xh, ctx.initializer(`${name}_weight`, weight)])
        const pre =
          bIh === undefined || bHh === undefined
            ? product
            : ctx.node('Add', [product, ctx.initializer(`${name}_bias`, T.add(block(bIh, k), block(bHh, k)))])
        return ctx.node(activation, [pre])
      }
      const [i, f, g, o] = [
        gate(0, 'input_gate', 'Sigmoid'),
        gate(1, 'forget_gate', 'Sigmoid'),
        gate(2, 'cell_gate', 'Tanh'),
        gate(3, 'output_gate', 'Sigmoid'),
      ]
      const c = ctx.node('Add', [ctx.node('Mul', [f, cPrev]), ctx.node('Mul', [i, g])])
      const hNext = ctx.node('Mul', [o, ctx.node('Tanh', [c])])
      return E.right({
        name: ctx.node('Concat', [hNext, c], [intAttribute('axis', 1)]),
        shape: [2 * h],
        elem: 'float',
      })
    },
  },
})
