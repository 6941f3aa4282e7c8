import { fmtShape, sizeOf, unsafeTensor, allocate, type Tensor } from '@backfold/tensor'
import { TraceError } from '../core/trace'
import { checkOptions, option, optionSchema } from '../core/options'
import { vjp } from './vjp'

const JACOBIAN_OPTIONS = optionSchema({ argnum: option.integer }, { argnums: 'argnum' })

/**
 * The full Jacobian of `f` with respect to argument `argnum` (a single tensor), with shape
 * `[...out.shape, ...x.shape]`, built from one pullback per output element. Meant for small
 * problems (tests, analysis); prefer `vjp`, `jvp` or `hvp` otherwise.
 * @example
 * import { jacobian, mul } from '@backfold/ops'
 * import { tensor } from '@backfold/tensor'
 * jacobian((x: Tensor) => mul(x, x))(tensor([1, 2])) // [[2, 0], [0, 4]]
 * @since 0.1.0
 */
export const jacobian = <Args extends ReadonlyArray<unknown>>(
  f: (...args: Args) => Tensor,
  opts: { readonly argnum?: number } = {},
): ((...args: Args) => Tensor) => {
  checkOptions('jacobian', opts, JACOBIAN_OPTIONS)
  return (...args: Args): Tensor => {
    const argnum = opts.argnum ?? 0
    const x = args[argnum]
    if (typeof x !== 'object' || x === null || !('shape' in x))
      throw new TraceError('jacobian', `argument ${argnum} must be a single tensor`)
    const [out, pullback] = vjp(f, { argnums: [argnum] })(...args)
    const xTensor = x as Tensor
    const outSize = sizeOf(out.shape)
    const inSize = sizeOf(xTensor.shape)
    if (outSize * inSize > 1 << 24)
      throw new TraceError(
        'jacobian',
        `a ${fmtShape(out.shape)} by ${fmtShape(xTensor.shape)} Jacobian is too large to form; use vjp, jvp or hvp`,
      )
    if (out.dtype === 'int32')
      throw new TraceError('jacobian', 'the function returns int32 values, which have no derivative')
    const data = allocate(out.dtype, outSize * inSize)
    const basis = allocate(out.dtype, outSize)
    for (let i = 0; i < outSize; i++) {
      basis.fill(0)
      basis[i] = 1
      const [row] = pullback(unsafeTensor(out.dtype, out.shape, basis.slice())) as [Tensor]
      data.set(row.data, i * inSize)
    }
    return unsafeTensor(out.dtype, [...out.shape, ...xTensor.shape], data)
  }
}
