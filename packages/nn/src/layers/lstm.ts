import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import * as t from 'io-ts/lib/index.js'
import type { Layer, LayerConfig, NoState } from '../layer'
import * as F from '../config/fields'
import { intAttribute, intsAttribute } from '../onnx/graph'
import { uniform } from '../init/random'
import {
  badShape,
  checkLayerOptions,
  configOf,
  fail,
  notPositiveInteger,
  paramDType,
  splitKey,
} from './common'
import { leafKind } from './define'

/**
 * Parameters of `lstm`: PyTorch's `nn.LSTM` names (one layer, one direction) and layouts, the four
 * gates stacked in PyTorch's order (input, forget, cell, output) along the first axis.
 * @since 0.3.0
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

/** Parameters of `lstm(n, { bias: false })`. @since 0.3.0 */
export interface LstmParamsNoBias {
  readonly weight_ih_l0: Tensor
  readonly weight_hh_l0: Tensor
}

/** `LstmParams`, without the biases when `bias` is the literal `false`. @since 0.3.0 */
export type LstmParamsFor<B extends boolean> = B extends false ? LstmParamsNoBias : LstmParams

/** Options of `lstm`. @since 0.3.0 */
export interface LstmOptions<B extends boolean = boolean> {
  /** Learn `bias_ih_l0` and `bias_hh_l0` (PyTorch's `bias`, default true). */
  readonly bias?: B
  /** Output every step's hidden state `[seq, hidden]` instead of the last one `[hidden]` (default false). */
  readonly returnSequences?: boolean
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

/** The config of an `lstm` layer, as `encodeModel` writes it. @since 0.3.0 */
export interface LstmConfig extends LayerConfig {
  readonly kind: 'lstm'
  readonly hiddenSize: number
  readonly bias?: boolean
  readonly returnSequences?: boolean
  readonly dtype?: DType
}

const LSTM_OPTIONS = O.optionSchema({
  bias: O.option.boolean,
  returnSequences: O.option.boolean,
  dtype: O.option.anything,
})

/** Gate `k` (0 i, 1 f, 2 g, 3 o in PyTorch's order) of gates stacked on axis `axis`. */
const gate = (x: Tensor, k: number, hidden: number, axis: number): Tensor =>
  O.slice(x, [...new Array<undefined>(axis).fill(undefined), { start: k * hidden, stop: (k + 1) * hidden }])

/**
 * A long short-term memory layer (Hochreiter & Schmidhuber 1997), one layer and one direction, as
 * PyTorch's `nn.LSTM(input, hidden, batch_first=True)`: on `[N, seq, input]`, per step
 * `i, f, g, o = σ, σ, tanh, σ of (x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`, `c = f·c + i·g`, `h = o·tanh(c)`,
 * from `h = c = 0`. Parameter names, layouts, gate order (i, f, g, o) and initialisation
 * (U(−1/√hidden, 1/√hidden)) are PyTorch's, so a PyTorch state dict loads as it is. The loop over
 * time is `scan`. The output is the last hidden state `[N, hidden]`, or every step's `[N, seq, hidden]`
 * with `returnSequences: true`.
 * @example
 * const layer = layers.lstm(32)
 * layer.init(T.random.key(0), [10, 8]) // params weight_ih_l0 [128, 8], weight_hh_l0 [128, 32], bias_ih_l0, bias_hh_l0 [128]; outShape [32]
 * layers.lstm(32, { returnSequences: true }).init(T.random.key(0), [10, 8]) // outShape [10, 32]
 * @throws ValueError for an unknown option or an option of the wrong type (other bad arguments make `init` return a `LayerError`).
 * @since 0.3.0
 */
export const lstm = <B extends boolean = true>(
  hiddenSize: number,
  opts: LstmOptions<B> = {},
): Layer<LstmParamsFor<B>, NoState> => {
  const kind = 'lstm'
  checkLayerOptions(kind, opts, LSTM_OPTIONS)
  const useBias = opts.bias ?? true
  const returnSequences = opts.returnSequences ?? false
  const hidden = hiddenSize
  const layer: Layer<LstmParams | LstmParamsNoBias, NoState> = {
    kind,
    config: configOf(kind, { hiddenSize, bias: useBias, returnSequences, dtype: opts.dtype }),
    init: (key, inShape) => {
      const problem = badShape(inShape) ?? notPositiveInteger('hiddenSize', hiddenSize)
      if (problem !== undefined) return fail(kind, problem)
      if (inShape.length !== 2)
        return fail(
          kind,
          `expected a per-example input of rank 2 ([seq, input], batch first), got ${T.fmtShape(inShape)} (rank ${inShape.length})`,
        )
      const [seq, input] = [inShape[0]!, inShape[1]!]
      return E.map((dtype: DType) => {
        // PyTorch's nn.LSTM.reset_parameters: every parameter U(−1/√hidden, 1/√hidden).
        const bound = 1 / Math.sqrt(hidden)
        const draw = uniform({ min: -bound, max: bound })
        const [k1, k2, k3, k4] = splitKey(key, 4)
        const weights = {
          weight_ih_l0: draw(k1!, [4 * hidden, input], dtype),
          weight_hh_l0: draw(k2!, [4 * hidden, hidden], dtype),
        }
        const params = useBias
          ? {
              ...weights,
              bias_ih_l0: draw(k3!, [4 * hidden], dtype),
              bias_hh_l0: draw(k4!, [4 * hidden], dtype),
            }
          : weights
        return { params, state: {}, outShape: returnSequences ? [seq, hidden] : [hidden] }
      })(paramDType(kind, opts.dtype))
    },
    apply: (params, state, x) => {
      if (x.shape.length !== 3)
        throw new T.ShapeError(
          kind,
          `expected a batch [N, seq, input] (batch first), got ${T.fmtShape(x.shape)}`,
        )
      const input = params.weight_ih_l0.shape[1]
      if (x.shape[2] !== input)
        throw new T.ShapeError(
          kind,
          `the input has ${x.shape[2]} features per step but weight_ih_l0 ${T.fmtShape(params.weight_ih_l0.shape)} expects ${String(input)}`,
        )
      const bIh = 'bias_ih_l0' in params ? params.bias_ih_l0 : undefined
      const bHh = 'bias_hh_l0' in params ? params.bias_hh_l0 : undefined
      const n = x.shape[0]!
      // The state starts in the dtype the steps compute in (x promoted with the parameters, as
      // dense promotes), so scan's carry keeps one dtype.
      const dtype = [params.weight_ih_l0, params.weight_hh_l0, bIh, bHh].reduce(
        (d: DType, p) => (p === undefined ? d : T.promoteTypes(d, p.dtype)),
        x.dtype,
      )
      const zero = O.zeros([n, hidden], dtype)
      const xs = O.transpose(x, [1, 0, 2]) // [seq, N, input]: scan steps over axis 0
      const [[h], hs] = O.scan(
        ([hPrev, cPrev]: [Tensor, Tensor], xt: Tensor): [[Tensor, Tensor], Tensor | []] => {
          const gates = O.add(
            O.linear(xt, params.weight_ih_l0, bIh),
            O.linear(hPrev, params.weight_hh_l0, bHh),
          )
          const i = O.sigmoid(gate(gates, 0, hidden, 1))
          const f = O.sigmoid(gate(gates, 1, hidden, 1))
          const g = O.tanh(gate(gates, 2, hidden, 1))
          const o = O.sigmoid(gate(gates, 3, hidden, 1))
          const c = O.add(O.mul(f, cPrev), O.mul(i, g))
          const hNext = O.mul(o, O.tanh(c))
          // No per-step output unless asked: an empty tree keeps scan from stacking every h.
          return [[hNext, c], returnSequences ? hNext : []]
        },
        [zero, zero] as [Tensor, Tensor],
        xs,
      )
      return [returnSequences ? O.transpose(hs as Tensor, [1, 0, 2]) : h, state]
    },
  }
  // Safe: the biases are present exactly when bias is not false, which is what LstmParamsFor<B> says.
  return layer as Layer<LstmParamsFor<B>, NoState>
}

/** PyTorch's gate blocks (i, f, g, o) reordered to ONNX's (i, o, f, c), stacked on axis 0 with a leading direction axis. */
const onnxGates = (x: Tensor, hidden: number): Tensor => {
  const [i, f, g, o] = [0, 1, 2, 3].map((k) => gate(x, k, hidden, 0))
  const stacked = O.concat([i!, o!, f!, g!], { axis: 0 })
  return O.reshape(stacked, [1, ...stacked.shape])
}

/**
 * The `lstm` kind: config fields, allocation, and ONNX export as the ONNX `LSTM` operator (the
 * weights reordered into ONNX's gate order i, o, f, c; the input transposed to time-major).
 * @since 0.3.0
 */
export const lstmKind = /* @__PURE__ */ leafKind({
  kind: 'lstm',
  required: { hiddenSize: F.positiveInt },
  optional: { bias: t.boolean, returnSequences: t.boolean, dtype: F.dtype },
  build: (f) =>
    lstm(f['hiddenSize'] as number, {
      bias: f['bias'] !== false,
      returnSequences: f['returnSequences'] === true,
      ...(f['dtype'] === undefined ? {} : { dtype: f['dtype'] as DType }),
    }),
  allocation: (c, inShape) => {
    const hidden = typeof c['hiddenSize'] === 'number' ? c['hiddenSize'] : 0
    if (inShape.length !== 2) return undefined
    const size = 4 * hidden * (inShape[1]! + hidden) + (c['bias'] === false ? 0 : 8 * hidden)
    return { size, outShape: c['returnSequences'] === true ? [inShape[0]!, hidden] : [hidden] }
  },
  onnx: {
    emit: (ctx) => {
      const x = ctx.rank(2, '[seq, input]')
      if (E.isLeft(x)) return x
      const hidden = ctx.config['hiddenSize']
      if (typeof hidden !== 'number' || !Number.isInteger(hidden) || hidden < 1)
        return ctx.fail(`config.hiddenSize must be a positive integer, got ${JSON.stringify(hidden)}`)
      const returnSequences = ctx.config['returnSequences'] === true
      const [seq, input] = x.right.shape
      const wIh = ctx.param('weight_ih_l0', [4 * hidden, typeof input === 'number' ? input : null])
      if (E.isLeft(wIh)) return wIh
      const wHh = ctx.param('weight_hh_l0', [4 * hidden, hidden])
      if (E.isLeft(wHh)) return wHh
      const bIh = ctx.optionalParam('bias', 'bias_ih_l0', [4 * hidden])
      if (E.isLeft(bIh)) return bIh
      const bHh = ctx.optionalParam('bias', 'bias_hh_l0', [4 * hidden])
      if (E.isLeft(bHh)) return bHh
      // ONNX's B is [Wb; Rb] per direction, [1, 8·hidden].
      const biases =
        bIh.right === undefined || bHh.right === undefined
          ? []
          : [
              ctx.initializer(
                'B',
                O.reshape(
                  O.concat([onnxGates(bIh.right, hidden), onnxGates(bHh.right, hidden)], { axis: 1 }),
                  [1, 8 * hidden],
                ),
              ),
            ]
      const timeMajor = ctx.node('Transpose', [x.right.name], [intsAttribute('perm', [1, 0, 2])])
      // Y: [seq, 1 (direction), N, hidden].
      const y = ctx.node(
        'LSTM',
        [
          timeMajor,
          ctx.initializer('W', onnxGates(wIh.right, hidden)),
          ctx.initializer('R', onnxGates(wHh.right, hidden)),
          ...biases,
        ],
        [intAttribute('hidden_size', hidden)],
      )
      const shapeOf = (dims: ReadonlyArray<number>): string =>
        ctx.node('Constant', [], [intsAttribute('value_ints', dims)])
      if (returnSequences) {
        const batchMajor = ctx.node('Transpose', [y], [intsAttribute('perm', [2, 0, 1, 3])])
        return E.right({
          name: ctx.node('Reshape', [batchMajor, shapeOf([0, 0, hidden])]),
          shape: [seq ?? null, hidden],
          elem: 'float',
        })
      }
      // The last step of Y (the LSTM's Y_h output, taken from Y so the node keeps one output).
      const last = ctx.node(
        'Gather',
        [y, ctx.node('Constant', [], [intAttribute('value_int', -1)])],
        [intAttribute('axis', 0)],
      )
      return E.right({
        name: ctx.node('Reshape', [last, shapeOf([-1, hidden])]),
        shape: [hidden],
        elem: 'float',
      })
    },
  },
})
