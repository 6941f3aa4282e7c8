import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import * as t from 'io-ts/lib/index.js'
import type { Layer, LayerConfig, NoState } from '../layer'
import * as F from '../config/fields'
import { intAttribute, intsAttribute } from '../onnx/graph'
import { DataType } from '@backfold/ops/onnx'
import { badShape, checkLayerOptions, configOf, fail, notPositiveInteger, paramDType } from './common'
import { leafKind } from './define'

/**
 * Parameters of `gru`, with PyTorch's `nn.GRU` names and layouts (one layer, one direction), so a
 * PyTorch state dict loads as is. The three gates are stacked by rows in PyTorch's order r, z, n.
 * @since 0.3.0
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

/** Parameters of `gru(n, { bias: false })`: PyTorch's names, without the biases. @since 0.3.0 */
export interface GruParamsNoBias {
  readonly weight_ih_l0: Tensor
  readonly weight_hh_l0: Tensor
}

/** `GruParams`, without biases when `bias` is the literal `false`. @since 0.3.0 */
export type GruParamsFor<B extends boolean> = B extends false ? GruParamsNoBias : GruParams

/** Options of `gru`. @since 0.3.0 */
export interface GruOptions<B extends boolean = boolean> {
  /** Biases `bias_ih_l0` and `bias_hh_l0` (PyTorch's `bias`, default true). */
  readonly bias?: B
  /** Output every step's hidden state `[batch, seq, hidden]` instead of the last one `[batch, hidden]` (default false). */
  readonly returnSequences?: boolean
  /** Parameter dtype, default float32. */
  readonly dtype?: DType
}

const OPTIONS = O.optionSchema({
  bias: O.option.boolean,
  returnSequences: O.option.boolean,
  // Checked by init (a Left naming the layer).
  dtype: O.option.anything,
})

/** `x Wᵀ (+ b)` over the last axis (W stored [out, in] as PyTorch). */
const project = (x: Tensor, w: Tensor, b: Tensor | undefined): Tensor => {
  const y = O.matmul(x, w, { transposeB: true })
  return b === undefined ? y : O.add(y, b)
}

/**
 * A gated recurrent unit over a sequence (Cho et al. 2014; PyTorch's `nn.GRU` with
 * `batch_first=True`, one layer, one direction, zero initial state): `[batch, seq, input] →
 * [batch, hidden]` (the last hidden state), or `[batch, seq, hidden]` with `returnSequences`. Per
 * step, with PyTorch's gate order r, z, n:
 * `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z = σ(W_iz x + b_iz + W_hz h + b_hz)`,
 * `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`.
 * The input projections of all steps are one matmul; the loop over time is `scan`, so its VJP keeps
 * the stacked hidden states instead of one tape entry per op. Parameters use PyTorch's names and
 * layouts (see `GruParams`) and its initialisation, every tensor uniform in ±1/√hidden.
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const rnn = layers.gru(32, { returnSequences: true })
 * const built = rnn.init(T.random.key(0), [20, 8]) // weight_ih_l0 [96, 8], weight_hh_l0 [96, 32]; out [20, 32]
 * @throws ValueError for an unknown option or an option of the wrong type (bad values make `init` return a `LayerError`).
 * @since 0.3.0
 */
export const gru = <B extends boolean = true>(
  hiddenSize: number,
  opts: GruOptions<B> = {},
): Layer<GruParamsFor<B>, NoState> => {
  const kind = 'gru'
  checkLayerOptions(kind, opts, OPTIONS)
  const useBias = opts.bias ?? true
  const returnSequences = opts.returnSequences ?? false
  const problem = notPositiveInteger('hiddenSize', hiddenSize)
  const layer: Layer<GruParams | GruParamsNoBias, NoState> = {
    kind,
    config: configOf(kind, { hiddenSize, bias: useBias, returnSequences, dtype: opts.dtype }),
    init: (key, inShape) => {
      const shapeProblem = problem ?? badShape(inShape)
      if (shapeProblem !== undefined) return fail(kind, shapeProblem)
      if (inShape.length !== 2)
        return fail(
          kind,
          `expected a per-example input of rank 2 ([seq, input]), got ${T.fmtShape(inShape)} (rank ${inShape.length})`,
        )
      const [seq, input] = inShape as [number, number]
      if (seq < 1) return fail(kind, `the sequence length must be at least 1, got ${T.fmtShape(inShape)}`)
      const dtypeE = paramDType(kind, opts.dtype)
      if (E.isLeft(dtypeE)) return dtypeE
      const dtype = dtypeE.right
      const bound = 1 / Math.sqrt(hiddenSize)
      const [k1, k2, k3, k4] = O.splitKeys(key, 4)
      const draw = (k: typeof key, shape: number[]): Tensor =>
        T.random.uniform(k, shape, { min: -bound, max: bound, dtype })
      const g = 3 * hiddenSize
      const weights = {
        weight_ih_l0: draw(k1!, [g, input]),
        weight_hh_l0: draw(k2!, [g, hiddenSize]),
      }
      const params: GruParams | GruParamsNoBias = useBias
        ? { ...weights, bias_ih_l0: draw(k3!, [g]), bias_hh_l0: draw(k4!, [g]) }
        : weights
      return E.right({
        params,
        state: {},
        outShape: returnSequences ? [seq, hiddenSize] : [hiddenSize],
      })
    },
    apply: (params, state, x) => {
      if (problem !== undefined) throw new T.ValueError(kind, problem)
      if (x.shape.length !== 3)
        throw new T.ShapeError(
          kind,
          `expected a batch of rank 3 ([batch, seq, input]), got ${T.fmtShape(x.shape)}`,
        )
      const [batch, seq, input] = x.shape as [number, number, number]
      const g = 3 * hiddenSize
      if (!T.shapesEqual(params.weight_ih_l0.shape, [g, input]))
        throw new T.ShapeError(
          kind,
          `weight_ih_l0 has shape ${T.fmtShape(params.weight_ih_l0.shape)} but the input's last axis is ${input} (expected [${g},${input}])`,
        )
      if (seq < 1)
        throw new T.ShapeError(kind, `the sequence length must be at least 1, got ${T.fmtShape(x.shape)}`)
      const bih = 'bias_ih_l0' in params ? params.bias_ih_l0 : undefined
      const bhh = 'bias_hh_l0' in params ? params.bias_hh_l0 : undefined
      // All steps' input projections at once, then time first for scan: [seq, batch, 3·hidden].
      const gi = O.transpose(project(x, params.weight_ih_l0, bih), [1, 0, 2])
      const whh = params.weight_hh_l0
      const h0 = T.zeros([batch, hiddenSize], x.dtype)
      const [last, hs] = O.scan(
        (h: Tensor, giT: Tensor): readonly [Tensor, Tensor] => {
          const [ir, iz, inn] = O.split(giT, 3, { axis: -1 }) as [Tensor, Tensor, Tensor]
          const [hr, hz, hn] = O.split(project(h, whh, bhh), 3, { axis: -1 }) as [Tensor, Tensor, Tensor]
          const r = O.sigmoid(O.add(ir, hr))
          const z = O.sigmoid(O.add(iz, hz))
          const n = O.tanh(O.add(inn, O.mul(r, hn)))
          // (1 − z) n + z h = n + z (h − n)
          const next = O.add(n, O.mul(z, O.sub(h, n)))
          return [next, next]
        },
        h0,
        gi,
      )
      return [returnSequences ? O.transpose(hs, [1, 0, 2]) : last, state]
    },
  }
  // Safe: the biases are present exactly when `bias` is not false, which is what GruParamsFor<B> says.
  return layer as unknown as Layer<GruParamsFor<B>, NoState>
}

/** The config of a `gru` layer, as `encodeModel` writes it. @since 0.3.0 */
export interface GruConfig extends LayerConfig {
  readonly kind: 'gru'
  readonly hiddenSize: number
  readonly bias?: boolean
  readonly returnSequences?: boolean
  readonly dtype?: DType
}

/** PyTorch's gate blocks r, z, n (rows of `[3·hidden, ...]`, or entries of `[3·hidden]`) reordered to ONNX's z, r, h. */
const zrn = (w: Tensor, hidden: number): Tensor => {
  const block = (i: number): Tensor => T.slice(w, [{ start: i * hidden, stop: (i + 1) * hidden }])
  return T.concat([block(1), block(0), block(2)], 0)
}

/**
 * The `gru` kind: config fields, allocation, and ONNX export as ONNX's `GRU` operator (one
 * direction, `linear_before_reset = 1`, which is PyTorch's n gate: `r ⊙ (W_hn h + b_hn)`). ONNX
 * stacks the gates z, r, h, so the PyTorch weights are reordered into initializers `W` `[1, 3H, I]`,
 * `R` `[1, 3H, H]` and `B` `[1, 6H]`; the batch-first input is transposed to time first, and the
 * output `Y` `[seq, 1, batch, H]` is gathered to the last step or transposed back to batch first.
 * @since 0.3.0
 */
export const gruKind = /* @__PURE__ */ leafKind({
  kind: 'gru',
  required: { hiddenSize: F.positiveInt },
  optional: { bias: t.boolean, returnSequences: t.boolean, dtype: F.dtype },
  build: (f) =>
    gru(f['hiddenSize'] as number, {
      bias: f['bias'] !== false,
      ...(f['returnSequences'] === undefined ? {} : { returnSequences: f['returnSequences'] as boolean }),
      ...(f['dtype'] === undefined ? {} : { dtype: f['dtype'] as DType }),
    }),
  allocation: (c, inShape) => {
    const hidden = c['hiddenSize']
    if (inShape.length !== 2 || typeof hidden !== 'number') return undefined
    const g = 3 * hidden
    return {
      size: g * inShape[1]! + g * hidden + (c['bias'] === false ? 0 : 2 * g),
      outShape: c['returnSequences'] === true ? [inShape[0]!, hidden] : [hidden],
    }
  },
  onnx: {
    emit: (ctx) => {
      const x = ctx.rank(2, '[seq, input]')
      if (E.isLeft(x)) return x
      const hidden = ctx.config['hiddenSize']
      if (typeof hidden !== 'number' || !Number.isInteger(hidden) || hidden < 1)
        return ctx.fail(`config.hiddenSize must be a positive integer, got ${JSON.stringify(hidden)}`)
      const [seq, inDim] = x.right.shape
      const g = 3 * hidden
      const wih = ctx.param('weight_ih_l0', [g, typeof inDim === 'number' ? inDim : null])
      if (E.isLeft(wih)) return wih
      const whh = ctx.param('weight_hh_l0', [g, hidden])
      if (E.isLeft(whh)) return whh
      const bih = ctx.optionalParam('bias', 'bias_ih_l0', [g])
      if (E.isLeft(bih)) return bih
      const bhh = ctx.optionalParam('bias', 'bias_hh_l0', [g])
      if (E.isLeft(bhh)) return bhh
      const input = wih.right.shape[1]!
      const w = ctx.initializer('W', T.reshape(zrn(wih.right, hidden), [1, g, input]))
      const r = ctx.initializer('R', T.reshape(zrn(whh.right, hidden), [1, g, hidden]))
      const inputs = [ctx.node('Transpose', [x.right.name], [intsAttribute('perm', [1, 0, 2])]), w, r]
      if (bih.right !== undefined && bhh.right !== undefined)
        inputs.push(
          ctx.initializer(
            'B',
            T.reshape(T.concat([zrn(bih.right, hidden), zrn(bhh.right, hidden)], 0), [1, 2 * g]),
          ),
        )
      // Y: [seq, 1, batch, hidden] (time first, one direction).
      const y = ctx.node('GRU', inputs, [
        intAttribute('hidden_size', hidden),
        intAttribute('linear_before_reset', 1),
      ])
      // The graph builder writes float initializers only, so the int64 indices are cast from them.
      const index = (value: number): string =>
        ctx.node('Cast', [ctx.constant(value)], [intAttribute('to', DataType.INT64)])
      // A scalar index drops the axis it gathers on.
      const steps = ctx.node('Gather', [y, index(0)], [intAttribute('axis', 1)]) // [seq, batch, hidden]
      if (ctx.config['returnSequences'] === true)
        return E.right({
          name: ctx.node('Transpose', [steps], [intsAttribute('perm', [1, 0, 2])]),
          shape: [seq ?? null, hidden],
          elem: 'float',
        })
      return E.right({
        name: ctx.node('Gather', [steps, index(-1)], [intAttribute('axis', 0)]),
        shape: [hidden],
        elem: 'float',
      })
    },
  },
})
