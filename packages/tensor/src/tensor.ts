import type { DType, TypedArray } from './dtype'
import { claimSingleCopy } from './copies'
import { TraceError } from './errors'
import type { Shape } from './shape'

/** The package version, inlined by the build (tsup `define`); absent when running from sources. */
declare const __BACKFOLD_VERSION__: string | undefined

// The backend choice and the thread pool are process-wide: a second copy of this package would
// keep its own and silently ignore the first one's settings.
claimSingleCopy(
  '@backfold/tensor',
  typeof __BACKFOLD_VERSION__ === 'string' ? __BACKFOLD_VERSION__ : 'sources',
  import.meta.url,
)

/**
 * The key of the brand carried by an *abstract value*: something that stands where a tensor would
 * (it has a dtype and a shape) but has no data a kernel may read, such as a value being traced by
 * a transformation of `@backfold/ops`. The brand's value, a sentence, says what the value is and
 * what to compute with instead. Every kernel refuses a branded operand with a `TraceError` that
 * names the kernel and carries that sentence, rather than computing on data that is not there.
 * Created with `Symbol.for`, so every copy and every bundle of every package agrees on it.
 * @example
 * import { abstractValue, exp, type Tensor } from '@backfold/tensor'
 * // a value whose data nobody may read: kernels refuse it
 * const shaped: Tensor = {
 *   dtype: 'float32',
 *   shape: [2],
 *   get data(): never { throw new Error('no data') },
 *   [abstractValue]: 'a shape-only placeholder; evaluate the program to get values',
 * }
 * exp(shaped) // throws TraceError: exp: x is an abstract value ... a shape-only placeholder ...
 * @since 0.2.0
 */
export const abstractValue: unique symbol = Symbol.for('@backfold/tensor.abstractValue')

/**
 * An immutable n-dimensional array: a dtype, a shape and a contiguous row-major typed array.
 *
 * Tensors are plain records. No function in backfold mutates a tensor it is given, so two
 * tensors may share one `data` buffer (reshape does). Never write into `data` yourself.
 * Memory is the garbage collector's: there is no `dispose`.
 * @since 0.1.0
 */
export interface Tensor {
  readonly dtype: DType
  readonly shape: Shape
  readonly data: TypedArray
  /**
   * Present only on abstract values (see `abstractValue`): what this value is and what to compute
   * with instead. Concrete tensors never have it.
   */
  readonly [abstractValue]?: string | undefined
}

/**
 * Wraps `data` as a tensor without copying or checking. Internal to kernels and backends:
 * the caller guarantees `data.length === sizeOf(shape)` and that the array matches `dtype`.
 * @since 0.1.0
 */
export const unsafeTensor = (dtype: DType, shape: Shape, data: TypedArray): Tensor => ({ dtype, shape, data })

/** True for tensors (and for values that behave as tensors, such as traced values). @since 0.1.0 */
export const isTensor = (value: unknown): value is Tensor =>
  typeof value === 'object' && value !== null && 'dtype' in value && 'shape' in value && 'data' in value

/**
 * True for abstract values (values that carry the `abstractValue` brand and have no data a kernel may
 * read); false for concrete tensors.
 * @since 0.2.0
 */
export const isAbstract = (x: Tensor): boolean => x[abstractValue] !== undefined

/**
 * Throws a `TraceError` when an operand of kernel `op` is an abstract value. One property read per
 * operand and no allocation, because it guards every kernel call. `name` is the operand's name in the
 * kernel's signature (`'x'`, `'b'`, `'xs[2]'`).
 * @internal
 */
export const requireConcrete = (op: string, name: string, x: Tensor | number): void => {
  if (typeof x === 'number') return
  const what = x[abstractValue]
  if (what !== undefined) throw abstractOperand(op, name, what)
}

/** Every operand of `op` in `xs` concrete (see `requireConcrete`). @internal */
export const requireAllConcrete = (op: string, name: string, xs: ReadonlyArray<Tensor>): void => {
  for (let i = 0; i < xs.length; i++) {
    const what = xs[i]![abstractValue]
    if (what !== undefined) throw abstractOperand(op, `${name}[${i}]`, what)
  }
}

// Kept out of line so the guard above stays small enough to inline.
const abstractOperand = (op: string, name: string, what: string): TraceError =>
  new TraceError(
    op,
    `${name} is an abstract value, which has no data a kernel of @backfold/tensor may read: ${what}`,
  )
