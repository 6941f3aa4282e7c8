// y = act(x wᵀ + b) ; z̄ = ȳ ⊙ act'(z), x̄ = z̄ w, w̄ = z̄ᵀ x, b̄ = Σ_batch z̄
import * as T from '@backfold/tensor'
import type { DType, Shape, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { moveAxis } from '../core/batching'
import { foldExamples, foldFor, unfoldExamples } from '../internal/foldBatch'
import { add } from '../binary/add'
import { relu } from '../elementwise/relu'
import { reluGrad } from '../elementwise/reluGrad'
import { reshape } from '../shape/reshape'
import { sum } from '../reduce/sum'
import { matmul } from './matmul'

/** The activations `linear` applies: none, or ReLU. @since 0.2.0 */
export type LinearActivation = 'none' | 'relu'

/** Parameters of the dense op. @since 0.1.0 */
export interface LinearParams {
  readonly activation: LinearActivation
}

/** What the shape rule reads of an operand. */
type Described = { readonly shape: Shape; readonly dtype: DType }

/**
 * Validates `linear(x, w, b, activation)` from the operands' shapes and dtypes: `x` [batch, in], `w`
 * [out, in], `b` [out] or undefined, a float result dtype; the result is [batch, out] in the
 * promoted dtype. The forward pass and the shape rule both call it, so staging and eager mode
 * throw the same errors.
 */
const linearOutput = (
  x: Described,
  w: Described,
  b: Described | undefined,
  activation: LinearActivation,
): { readonly shape: number[]; readonly dtype: DType } => {
  if (activation !== 'none' && activation !== 'relu')
    throw new T.ValueError('linear', `activation must be 'none' or 'relu', got ${String(activation)}`)
  if (x.shape.length !== 2 || w.shape.length !== 2)
    throw new T.ShapeError(
      'linear',
      `x has shape ${T.fmtShape(x.shape)} and w has shape ${T.fmtShape(w.shape)}; expected x [batch, in] and w [out, in]`,
    )
  const { spec, outShape } = T.matmulPlan(x.shape, w.shape, { transposeB: true })
  if (b !== undefined && (b.shape.length !== 1 || b.shape[0] !== spec.n))
    throw new T.ShapeError(
      'linear',
      `b has shape ${T.fmtShape(b.shape)}; expected [${spec.n}] (one bias per output of w ${T.fmtShape(w.shape)})`,
    )
  const dtype = T.promoteTypes(T.promoteTypes(x.dtype, w.dtype), b?.dtype ?? x.dtype)
  if (!T.isFloat(dtype))
    throw new T.DTypeError('linear', `operands are int32; linear needs float32 or float64`)
  return { shape: [...outShape], dtype }
}

/**
 * The dense layer from primitives: the product `x wᵀ` (matmul kernel, `w` read transposed in
 * place), the bias added (broadcast over the rows), then the ReLU. Not one elementwise program for
 * bias and ReLU: programs with a broadcast row operand run on the reference loop today, and
 * measured 41-46 µs for a [32, 128] layer against 11 µs for the add and relu kernels.
 */
const dense = (x: Tensor, w: Tensor, b: Tensor | undefined, activation: LinearActivation): Tensor => {
  const { dtype } = linearOutput(x, w, b, activation)
  const as = (t: Tensor): Tensor => (t.dtype === dtype ? t : T.astype(t, dtype))
  const y = T.matmul(as(x), as(w), { transposeB: true })
  const z = b === undefined ? y : T.add(y, as(b))
  return activation === 'relu' ? T.relu(z) : z
}

/**
 * The dense op's inputs: `x` and `w`, then the bias `b` when the layer has one (a union
 * rather than an optional element, which would let `undefined` into the tensor tuple).
 * @since 0.2.0
 */
export type LinearInputs = [x: Tensor, w: Tensor] | [x: Tensor, w: Tensor, b: Tensor]

/**
 * `y` with the bias added and the activation applied, as separate ops: for the batching rules,
 * where the op takes one bias row and one weight matrix.
 */
const biasAndActivation = (y: Tensor, bias: Tensor | undefined, activation: LinearActivation): Tensor => {
  const z = bias === undefined ? y : add(y, bias)
  return activation === 'relu' ? relu(z) : z
}

/** The dense op: inputs `[x, w]` or `[x, w, b]`. @since 0.1.0 */
export const linearOp = defineOp<'linear', LinearInputs, LinearParams>({
  name: 'linear',
  forward: ([x, w, b], p) => dense(x, w, b, p.activation),
  vjp: (ct, [x, w, b], y, p, [needX, needW, needB]) => {
    // ReLU's derivative read off the output (y > 0 exactly where z > 0); relu'(0) = 0 as everywhere.
    const dz = p.activation === 'relu' ? reluGrad(ct, y) : ct
    // The first layer's input is the data: its cotangent (a whole product) is usually not needed.
    const xCotangent = needX ? matmul(dz, w) : undefined
    const wCotangent = needW ? matmul(dz, x, { transposeA: true }) : undefined
    if (b === undefined) return [xCotangent, wCotangent]
    // With a bias, `needed` has its third entry; were it missing, computing the cotangent is the safe side.
    return [xCotangent, wCotangent, needB !== false ? sum(dz, { axis: 0 }) : undefined]
  },
  batch: ([x, w, b], [xAxis, wAxis, bAxis], p, self) => {
    if (wAxis === undefined) {
      // Shared weights: the examples of x fold into its rows, one product B times as tall. A mapped
      // bias cannot enter the op (one bias row per example); it is added afterwards.
      const fusedBias = bAxis === undefined ? b : undefined
      const fusedActivation = bAxis === undefined ? p.activation : 'none'
      if (xAxis === undefined) {
        if (b === undefined || bAxis === undefined)
          throw new T.TraceError('linear', 'a batching rule ran with no mapped input (a bug in backfold)')
        // Only the bias varies: one shared product, the examples' biases [B, 1, out] broadcast over it.
        const y = self([x, w], { activation: 'none' })
        const bias = reshape(moveAxis(b, bAxis, 0), [-1, 1, y.shape[1]!])
        return [biasAndActivation(y, bias, p.activation), 0]
      }
      const size = x.shape[xAxis]!
      // [B, rows, in] and [rows, B, in] merge their first two axes as they are; [rows, in, B] moves.
      const ready = xAxis === 2 ? moveAxis(x, 2, 0) : x
      const examplesFirst = xAxis !== 1
      const rows = ready.shape[examplesFirst ? 1 : 0]!
      const folded = reshape(ready, [size * rows, ready.shape[2]!])
      const y = self(fusedBias === undefined ? [folded, w] : [folded, w, fusedBias], {
        activation: fusedActivation,
      })
      const outputs = y.shape[1]!
      const unfolded = reshape(y, examplesFirst ? [size, rows, outputs] : [rows, size, outputs])
      const outAxis = examplesFirst ? 0 : 1
      if (b === undefined || bAxis === undefined) return [unfolded, outAxis]
      // The examples' biases [B, out] broadcast against the output's rows.
      const bias = moveAxis(b, bAxis, 0)
      const aligned = examplesFirst ? reshape(bias, [size, 1, outputs]) : bias
      return [biasAndActivation(unfolded, aligned, p.activation), outAxis]
    }
    if (xAxis === undefined) {
      // Shared x, weights per example: the examples' weights are more outputs (output b·O + o, or
      // o·B + b), their biases likewise, and bias and activation stay in the op: one call.
      const fold = foldFor(wAxis, w.shape[wAxis]!, [0])
      const weights = foldExamples(w, wAxis, fold)
      const y = self(b === undefined ? [x, weights] : [x, weights, foldExamples(b, bAxis, fold)], p)
      return unfoldExamples(y, 1, fold)
    }
    // Both per example: the op takes one weight matrix, so the product is a batched
    // matmul (x wᵀ per example, the examples as its batch axis), bias and activation separate ops.
    const weights = moveAxis(w, wAxis, 0)
    const y = matmul(moveAxis(x, xAxis, 0), weights, { transposeB: true })
    const bias =
      b === undefined
        ? undefined
        : bAxis === undefined
          ? b
          : reshape(moveAxis(b, bAxis, 0), [-1, 1, y.shape[2]!])
    return [biasAndActivation(y, bias, p.activation), 0]
  },
  abstract: ([x, w, b], p) => linearOutput(x, w, b, p.activation),
  // One Gemm (x wᵀ + b), then Relu: the wasm kernel's dense, as ONNX Runtime fuses it itself.
  onnx: (g, [x, w, b], p, { inputs: [ax, aw, ab], output }) => {
    const operands = [g.cast(x, ax.dtype, output.dtype), g.cast(w, aw.dtype, output.dtype)]
    if (b !== undefined && ab !== undefined) operands.push(g.cast(b, ab.dtype, output.dtype))
    const z = g.node('Gemm', operands, { transB: 1 })
    return p.activation === 'relu' ? g.node('Relu', [z]) : z
  },
})

/**
 * A dense layer in one op: `activation(x wᵀ + b)` with `x` [batch, in], `w` [out, in] (PyTorch's
 * layout), optional `b` [out], activation `'none'` (default) or `'relu'`. Same values and gradients
 * as `relu(add(matmul(x, w, { transposeB: true }), b))`, which is how it computes them; its VJP
 * masks with `reluGrad`.
 * @example
 * const hidden = linear(x, params.weight, params.bias, 'relu')
 * @since 0.1.0
 */
export const linear = (x: Tensor, w: Tensor, b?: Tensor, activation: LinearActivation = 'none'): Tensor =>
  applyOp(linearOp, b === undefined ? [x, w] : [x, w, b], { activation })
