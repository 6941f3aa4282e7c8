// y = P(op(A) op(B), e₁ … eₙ), a matmul whose product feeds an elementwise program ;
// the chain's pullback: P's VJP (elementwiseProgram's) gives the product's and eᵢ's cotangents, matmul's VJP Ā, B̄
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp, type Batched } from '../core/op'
import { batchElementwise } from '../core/batching'
import { elementwiseProgramOp, programOnnx } from '../elementwise/elementwiseProgram'
import { matmulOp, type MatmulParams } from './matmul'

/**
 * Parameters of `matmulEpilogue`: the product's transpose flags and the program applied to it
 * (input 0 is the product, inputs 1… the op's inputs after `a` and `b`).
 * @since 0.2.0
 */
export interface MatmulEpilogueParams extends MatmulParams {
  readonly program: T.ElementwiseProgram
}

const productParams = (p: MatmulEpilogueParams): MatmulParams => ({
  transposeA: p.transposeA,
  transposeB: p.transposeB,
})

/**
 * The pullback of the chain this op replaced: the product recomputed with `matmul` (so the result
 * stays differentiable), the program's pullback, then matmul's.
 */
const epilogueVjp = (
  ct: Tensor,
  xs: ReadonlyArray<Tensor>,
  y: Tensor,
  p: MatmulEpilogueParams,
  needed: ReadonlyArray<boolean>,
): Array<Tensor | undefined> => {
  const [a, b, ...extras] = xs as [Tensor, Tensor, ...Tensor[]]
  const mp = productParams(p)
  const needProduct = needed[0] === true || needed[1] === true
  const product = applyOp(matmulOp, [a, b], mp)
  const programCts = elementwiseProgramOp.vjp(ct, [product, ...extras], y, { program: p.program }, [
    needProduct,
    ...needed.slice(2),
  ])
  const productCt = programCts[0]
  const [aCt, bCt] =
    needProduct && productCt !== undefined
      ? matmulOp.vjp(productCt, [a, b], product, mp, [needed[0] === true, needed[1] === true])
      : [undefined, undefined]
  return [aCt, bCt, ...programCts.slice(1)]
}

/** Under `vmap`: matmul's batching rule, then the program's (elementwise). */
const epilogueBatch = (
  xs: ReadonlyArray<Tensor>,
  axes: ReadonlyArray<number | undefined>,
  p: MatmulEpilogueParams,
): Batched => {
  const [a, b, ...extras] = xs as [Tensor, Tensor, ...Tensor[]]
  const mp = productParams(p)
  const [aAxis, bAxis, ...extraAxes] = axes
  const [product, axis] =
    aAxis === undefined && bAxis === undefined
      ? ([applyOp(matmulOp, [a, b], mp), undefined] as const)
      : matmulOp.batch([a, b], [aAxis, bAxis], mp, (ys, q) => applyOp(matmulOp, ys, q))
  return batchElementwise([product, ...extras], [axis, ...extraAxes], { program: p.program }, (ys, q) =>
    applyOp(elementwiseProgramOp, ys, q),
  )
}

/** The `matmulEpilogue` op: inputs `[a, b, ...extras]`. @since 0.2.0 */
export const matmulEpilogueOp = defineOp<'matmulEpilogue', ReadonlyArray<Tensor>, MatmulEpilogueParams>({
  name: 'matmulEpilogue',
  forward: ([a, b, ...extras], p) => T.matmulEpilogue(a!, b!, productParams(p), p.program, extras),
  abstract: ([a, b, ...extras], p) => T.matmulEpilogueOutput(a!, b!, productParams(p), p.program, extras),
  vjp: epilogueVjp,
  batch: epilogueBatch,
  // The product (matmul's own lowering), then the program with the product as its input 0.
  onnx: (b, [a, m, ...extras], p, { inputs: [aa, am, ...extraAvals], output }) => {
    const product = {
      shape: T.matmulShape(aa!.shape, am!.shape, p),
      dtype: T.promoteTypes(aa!.dtype, am!.dtype),
    }
    const y = matmulOp.onnx(b, [a!, m!], productParams(p), { inputs: [aa!, am!], output: product })
    return programOnnx(b, p.program, [y, ...extras], [product, ...extraAvals], output)
  },
  formatParams: (p) =>
    `${p.transposeA ? 'aᵀ' : 'a'}·${p.transposeB ? 'bᵀ' : 'b'} → ${T.programText(p.program)}`,
})

/**
 * `program(op(a) · op(b), ...extras)` as one op: the product is the program's input 0 (see
 * `T.matmulEpilogue`). `jit`'s epilogue pass builds these from a matmul and the elementwise chain
 * that reads it; calling it by hand is for tests and custom compilers. Differentiable like the
 * matmul and chain it stands for, and batchable.
 * @example
 * // relu(x wᵀ + b)
 * matmulEpilogue(x, w, { arity: 2, instructions: [
 *   { kind: 'binary', op: 'add', a: 0, b: 1 }, { kind: 'unary', op: 'relu', x: 2 },
 * ] }, [b], { transposeB: true })
 * @since 0.2.0
 */
export const matmulEpilogue = (
  a: Tensor,
  b: Tensor,
  program: T.ElementwiseProgram,
  extras: ReadonlyArray<Tensor> = [],
  opts: { readonly transposeA?: boolean; readonly transposeB?: boolean } = {},
): Tensor =>
  applyOp(matmulEpilogueOp, [a, b, ...extras], {
    transposeA: opts.transposeA === true,
    transposeB: opts.transposeB === true,
    program,
  })
