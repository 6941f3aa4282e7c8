import type { ElementwiseProgram } from '../backend'
import type { DType } from '../dtype'
import type { Shape } from '../shape'
import { getBackend } from '../backend'
import { DTypeError, ShapeError, fmtShape } from '../errors'
import { isFloat } from '../dtype'
import { requireAllConcrete, requireConcrete, type Tensor } from '../tensor'
import { matmulPlan, type MatmulOptions } from './matmul'
import { programOutput } from './program'

const OP = 'matmulEpilogue'

const sameShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i])

/**
 * The shape and dtype of `matmulEpilogue(a, b, opts, program, extras)`: the product's
 * (`[...batch, m, n]`; both operands of rank >= 2 and one float dtype). The program's inputs (the
 * product, then `extras`) must broadcast to exactly that shape: an epilogue never enlarges the product.
 * @example
 * const addBias = { arity: 2, instructions: [{ kind: 'binary', op: 'add', a: 0, b: 1 }] } as const
 * matmulEpilogueOutput({ shape: [8, 4], dtype: 'float32' }, { shape: [3, 4], dtype: 'float32' },
 *   { transposeB: true }, addBias, [{ shape: [3], dtype: 'float32' }]) // { shape: [8, 3], dtype: 'float32' }
 * @throws ShapeError or DTypeError, naming `matmulEpilogue`, as `matmul` and `elementwiseProgram` would.
 * @since 0.2.0
 */
export const matmulEpilogueOutput = (
  a: { readonly shape: Shape; readonly dtype: DType },
  b: { readonly shape: Shape; readonly dtype: DType },
  opts: MatmulOptions,
  program: ElementwiseProgram,
  extras: ReadonlyArray<{ readonly shape: Shape; readonly dtype: DType }>,
): { readonly shape: Shape; readonly dtype: DType } => {
  if (a.shape.length < 2 || b.shape.length < 2)
    throw new ShapeError(
      OP,
      `operands must have rank >= 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    )
  if (a.dtype !== b.dtype || !isFloat(a.dtype))
    throw new DTypeError(OP, `operands must share one float dtype, got ${a.dtype} and ${b.dtype}`)
  const { outShape } = matmulPlan(a.shape, b.shape, opts)
  const out = programOutput(program, [{ shape: outShape, dtype: a.dtype }, ...extras])
  if (!sameShape(out.shape, outShape))
    throw new ShapeError(
      OP,
      `the epilogue's inputs broadcast the product ${fmtShape(outShape)} to ${fmtShape(out.shape)}; ` +
        `an epilogue must keep the product's shape`,
    )
  return { shape: outShape, dtype: a.dtype }
}

/**
 * `program(op(a) · op(b), ...extras)`: a matmul (operands of rank >= 2, batch axes broadcast,
 * transpose flags as `matmul`'s) whose product is input 0 of an elementwise program (bias add,
 * activation, residual add, ...), run as one kernel where the backend has one (the wasm backend
 * applies the program to the product in wasm memory), else as `matmul` then `elementwiseProgram`,
 * which is the definition. `jit`'s epilogue pass builds these from a matmul and the elementwise
 * chain that reads it.
 * @example
 * // relu(x wᵀ + b)
 * matmulEpilogue(x, w, { transposeB: true }, {
 *   arity: 2,
 *   instructions: [{ kind: 'binary', op: 'add', a: 0, b: 1 }, { kind: 'unary', op: 'relu', x: 2 }],
 * }, [b])
 * @since 0.2.0
 */
export const matmulEpilogue = (
  a: Tensor,
  b: Tensor,
  opts: MatmulOptions,
  program: ElementwiseProgram,
  extras: ReadonlyArray<Tensor>,
): Tensor => {
  requireConcrete(OP, 'a', a)
  requireConcrete(OP, 'b', b)
  requireAllConcrete(OP, 'extras', extras)
  const { shape, dtype } = matmulEpilogueOutput(a, b, opts, program, extras)
  const { spec } = matmulPlan(a.shape, b.shape, opts)
  const backend = getBackend()
  if (backend.matmulEpilogue !== undefined)
    return backend.matmulEpilogue(a, b, spec, program, extras, shape, dtype)
  const product = backend.matmul(a, b, spec)
  return backend.elementwiseProgram(program, [product, ...extras], shape, dtype)
}
