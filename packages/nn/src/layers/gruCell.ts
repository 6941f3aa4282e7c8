import * as E from 'fp-ts/lib/Either.js'
import type { DType, Tensor } from '@backfold/tensor'
import type { Layer, LayerConfig, NoState } from '../layer'
import { leafKind } from './define'
import { gruOnnx, gruRecurrence } from './gru'
import {
  cellAllocation,
  cellFields,
  cellLayer,
  cellOptionsOf,
  emitCellParts,
  emitRecurrence,
  hiddenOf,
  int64s,
  onnxWeights,
} from './recurrent'

/**
 * Parameters of `gruCell`: PyTorch's `nn.GRUCell` names and layouts, gates stacked r, z, n.
 * @since 0.2.0
 */
export interface GruCellParams {
  /** `[3·hidden, input]`. */
  readonly weight_ih: Tensor
  /** `[3·hidden, hidden]`. */
  readonly weight_hh: Tensor
  /** `[3·hidden]`. */
  readonly bias_ih: Tensor
  /** `[3·hidden]`. */
  readonly bias_hh: Tensor
}

/** Parameters of `gruCell(n, { bias: false })`. @since 0.2.0 */
export interface GruCellParamsNoBias {
  readonly weight_ih: Tensor
  readonly weight_hh: Tensor
}

/** `GruCellParams`, without the biases when `bias` is the literal `false`. @since 0.2.0 */
export type GruCellParamsFor<B extends boolean> = B extends false ? GruCellParamsNoBias : GruCellParams

/** Options of `gruCell`. @since 0.2.0 */
export interface GruCellOptions<B extends boolean = boolean> {
  /** Learn `bias_ih` and `bias_hh` (PyTorch's `bias`, default true). */
  readonly bias?: B
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

/** The config of a `gruCell` layer, as `encodeModel` writes it. @since 0.2.0 */
export interface GruCellConfig extends LayerConfig {
  readonly kind: 'gruCell'
  readonly hiddenSize: number
  readonly bias?: boolean
  readonly dtype?: DType
}

/**
 * One GRU step as a layer, PyTorch's `nn.GRUCell(input, hidden)`: the same gate math as `gru` (one
 * step function; `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`), names `weight_ih`, `weight_hh`,
 * `bias_ih`, `bias_hh`, gates r, z, n, initialisation U(−1/√hidden, 1/√hidden). A layer takes one
 * tensor, so the state travels packed on the last axis: the per-example input is `[x, h]`
 * (`[input + hidden]`) and the output is `h'` (`[hidden]`), the state part of the next input.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import * as O from '@backfold/ops'
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const cell = layers.gruCell(4)
 * const init = cell.init(T.random.key(0), [3 + 4]) // x of 3 features; params weight_ih [12, 3], ...
 * if (E.isLeft(init)) throw new Error(init.left.message)
 * const x = T.random.normal(T.random.key(1), [2, 3])
 * const h = T.zeros([2, 4])
 * const [next] = cell.apply(init.right.params, {}, O.concat([x, h], { axis: -1 }), { training: false }) // h' [2, 4]
 * @throws ValueError for an unknown option or an option of the wrong type (other bad arguments make `init` return a `LayerError`).
 * @since 0.2.0
 */
export const gruCell = <B extends boolean = true>(
  hiddenSize: number,
  opts: GruCellOptions<B> = {},
): Layer<GruCellParamsFor<B>, NoState> =>
  // Safe: the biases are present exactly when bias is not false, which is what GruCellParamsFor<B> says.
  cellLayer(gruRecurrence, hiddenSize, opts) as unknown as Layer<GruCellParamsFor<B>, NoState>

/**
 * The `gruCell` kind: config fields, allocation, and ONNX export as ONNX's `GRU` operator over one
 * step (`linear_before_reset = 1`, the weights reordered to z, r, h as for `gru`): Gather splits the
 * packed input into x and h, Unsqueeze makes them `[1, N, ·]` (X and `initial_h`), and the step's
 * `Y` is squeezed back to `[N, hidden]`.
 * @since 0.2.0
 */
export const gruCellKind = /* @__PURE__ */ leafKind({
  kind: 'gruCell',
  ...cellFields,
  build: (f) => gruCell(f['hiddenSize'] as number, cellOptionsOf(f)),
  allocation: (c, inShape) => cellAllocation(3, 1, c, inShape),
  onnx: {
    emit: (ctx) => {
      const hidden = hiddenOf(ctx)
      if (E.isLeft(hidden)) return hidden
      const h = hidden.right
      const parts = emitCellParts(ctx, 1, h)
      if (E.isLeft(parts)) return parts
      const w = onnxWeights(ctx, '', 3, h, parts.right.input)
      if (E.isLeft(w)) return w
      const step = (name: string): string => ctx.node('Unsqueeze', [name, int64s(ctx, 'step_axis', [0])])
      // [1 (seq), N, hidden] after the direction axis is dropped.
      const y = emitRecurrence(ctx, gruOnnx, h, w.right, step(parts.right.x), [step(parts.right.states[0]!)])
      return E.right({
        name: ctx.node('Squeeze', [y, int64s(ctx, 'step_axis', [0])]),
        shape: [h],
        elem: 'float',
      })
    },
  },
})
