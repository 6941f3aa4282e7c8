import type { DType } from './dtype'
import type { Shape } from './shape'
import type { Tensor } from './tensor'
import { automaticBackend, automaticWasmUnavailable } from './automatic'

/**
 * The loops behind every kernel. The public kernel functions (in `kernels/`) validate
 * arguments, resolve shapes and dtypes, then call exactly one backend method; a backend
 * receives only valid, normalised input and allocates every output it returns.
 *
 * The reference backend (plain TypeScript) is always present. Faster backends implement the
 * same interface and are selected with `setBackend`; nothing above this package can tell
 * which one ran.
 * @since 0.1.0
 */
export interface Backend {
  readonly name: string

  /** `out[i] = f(x[i])`; `outDtype` is already resolved (e.g. exp of int32 → float32; x is cast first). */
  readonly unary: (op: UnaryOp, x: Tensor, outDtype: DType) => Tensor
  /** Broadcasting binary op. `a` and `b` share one dtype; `outShape` is their broadcast shape. */
  readonly binary: (op: BinaryOp, a: Tensor, b: Tensor, outShape: Shape, outDtype: DType) => Tensor
  /** Broadcasting select: `cond` nonzero picks `a`, else `b`. `a` and `b` share `outDtype`. */
  readonly where: (cond: Tensor, a: Tensor, b: Tensor, outShape: Shape, outDtype: DType) => Tensor
  /** Elementwise conversion (float → int32 truncates toward zero, as `Math.trunc`). */
  readonly cast: (x: Tensor, dtype: DType) => Tensor
  /** Reduces over sorted distinct `axes`; the result drops those axes (callers re-insert for keepDims). */
  readonly reduce: (op: ReduceOp, x: Tensor, axes: ReadonlyArray<number>, outDtype: DType) => Tensor
  /** Cumulative product along `axis` (normalised), same shape and dtype; see the `cumprod` kernel. */
  readonly cumprod: (x: Tensor, axis: number, exclusive: boolean, reverse: boolean) => Tensor
  /** Cumulative sum along `axis` (normalised), same shape and dtype; see the `cumsum` kernel. */
  readonly cumsum: (x: Tensor, axis: number, exclusive: boolean, reverse: boolean) => Tensor
  /** Stable sorting positions along `axis` (normalised), int32; see the `argsort` kernel. */
  readonly argsort: (x: Tensor, axis: number, descending: boolean) => Tensor

  /**
   * Batched matmul: `a` is `[...batchA, m, k]` (or `[..., k, m]` when `transposeA`), `b` is
   * `[...batchB, k, n]` (or `[..., n, k]` when `transposeB`); batch dimensions broadcast to `batchShape`.
   * Both inputs share `dtype`, rank >= 2.
   */
  readonly matmul: (a: Tensor, b: Tensor, opts: MatmulSpec) => Tensor

  /** `out[i...] = x[perm-indexed]`; `perm` is a full permutation of the axes. */
  readonly transpose: (x: Tensor, perm: ReadonlyArray<number>) => Tensor
  /** Materialises a broadcast (x's shape already right-aligned and compatible with `shape`). */
  readonly broadcastTo: (x: Tensor, shape: Shape) => Tensor
  /** Strided slice: element `j` along axis `i` is `x[start[i] + j * step[i]]`; `outShape` is precomputed. */
  readonly slice: (
    x: Tensor,
    start: ReadonlyArray<number>,
    step: ReadonlyArray<number>,
    outShape: Shape,
  ) => Tensor
  /** Constant padding; `pads[i] = [before, after]`, both >= 0. */
  readonly pad: (x: Tensor, pads: ReadonlyArray<readonly [number, number]>, value: number) => Tensor
  /** Concatenation along `axis`; all inputs share dtype and every other dimension. */
  readonly concat: (xs: ReadonlyArray<Tensor>, axis: number) => Tensor
  /** NumPy `take`: out shape = x.shape[:axis] + indices.shape + x.shape[axis+1:]; indices int32, in range. */
  readonly gather: (x: Tensor, indices: Tensor, axis: number) => Tensor
  /** Adjoint of `gather`: zeros of `outShape`, then `out[..., indices[j], ...] += updates[..., j, ...]`. */
  readonly scatterAdd: (updates: Tensor, indices: Tensor, axis: number, outShape: Shape) => Tensor
  /** NumPy `take_along_axis`: indices int32 of x's rank, in range. */
  readonly takeAlongAxis: (x: Tensor, indices: Tensor, axis: number) => Tensor
  /** Adjoint of `takeAlongAxis`: zeros of `outShape`, then `out[..., indices[i], ...] += updates[i]`. */
  readonly scatterAddAlongAxis: (updates: Tensor, indices: Tensor, axis: number, outShape: Shape) => Tensor
  /** `out[..., j] = indices[...] === j ? 1 : 0`; indices int32 in [0, depth). */
  readonly oneHot: (indices: Tensor, depth: number, dtype: DType) => Tensor

  /** NCHW input, OIHW weights (groups = 1). */
  readonly conv2d: (x: Tensor, w: Tensor, p: Conv2dSpec) => Tensor
  /** Gradient of conv2d w.r.t. its input (a transposed convolution of `dy` with `w`). */
  readonly conv2dBackwardInput: (dy: Tensor, w: Tensor, xShape: Shape, p: Conv2dSpec) => Tensor
  /** Gradient of conv2d w.r.t. its weights (a correlation of `x` with `dy`). */
  readonly conv2dBackwardFilter: (x: Tensor, dy: Tensor, wShape: Shape, p: Conv2dSpec) => Tensor
  /** Max pooling of NCHW `x`. */
  readonly maxPool2d: (x: Tensor, p: Pool2dSpec) => Tensor
  /** Routes each `dy` element to the first maximum of its window (PyTorch's tie rule). */
  readonly maxPool2dBackward: (dy: Tensor, x: Tensor, p: Pool2dSpec) => Tensor
  /**
   * For each window, reads `src` at the position of `x`'s first maximum (shape of the pooled output).
   * `maxPool2dSelect(x, x, p)` equals `maxPool2d(x, p)`; it is the adjoint of `maxPool2dBackward` in `dy`,
   * which makes max pooling twice differentiable.
   */
  readonly maxPool2dSelect: (src: Tensor, x: Tensor, p: Pool2dSpec) => Tensor
  /** Average over the window; padded positions count in the divisor (PyTorch's `count_include_pad=True`). */
  readonly avgPool2d: (x: Tensor, p: Pool2dSpec) => Tensor
  /** The cotangent of average pooling's input `[N, C, H, W]` (`xShape`) from the output's `dy`. */
  readonly avgPool2dBackward: (dy: Tensor, xShape: Shape, p: Pool2dSpec) => Tensor

  /**
   * Runs an elementwise `program` (see `ElementwiseProgram`) once per output element. The inputs
   * share the float `outDtype` and broadcast to `outShape`. Every step computes in float64 with the
   * arithmetic of `unary` and `binary`, and the result is rounded to `outDtype` once, at the end:
   * a fused float32 chain rounds once where the same ops run one by one round after each op.
   */
  readonly elementwiseProgram: (
    program: ElementwiseProgram,
    inputs: ReadonlyArray<Tensor>,
    outShape: Shape,
    outDtype: DType,
  ) => Tensor

  /**
   * Runs a `program` with reductions along the last axis (see `ReductionProgram`) once per row of
   * `rowShape` (the inputs' broadcast shape). Every step computes in float64 and the result is
   * rounded to `outDtype` once. The result has shape `rowShape`, or `rowShape` with its last axis 1
   * when the program's result is constant along the rows.
   */
  readonly reductionProgram: (
    program: ReductionProgram,
    inputs: ReadonlyArray<Tensor>,
    rowShape: Shape,
    outDtype: DType,
  ) => Tensor

  /**
   * Optional: `program(a·b, ...extras)`, a matmul whose product feeds an elementwise program (its
   * input 0; `extras` are the program's other inputs, broadcast to `outShape` = `[...batch, m, n]`),
   * run as one kernel that applies the program before the product leaves the backend. A backend
   * without it runs `matmul` then `elementwiseProgram`, which is the definition.
   */
  readonly matmulEpilogue?: (
    a: Tensor,
    b: Tensor,
    spec: MatmulSpec,
    program: ElementwiseProgram,
    extras: ReadonlyArray<Tensor>,
    outShape: Shape,
    outDtype: DType,
  ) => Tensor
}

/** How a reduction program reduces a row. @since 0.2.0 */
export type RowReduceOp = 'sum' | 'max' | 'min' | 'mean'

/**
 * One step of a reduction program: an elementwise step, or a reduction of a value along the row
 * (its result is the same at every position of the row).
 * @since 0.2.0
 */
export type ReductionInstruction =
  ProgramInstruction | { readonly kind: 'reduce'; readonly op: RowReduceOp; readonly x: number }

/**
 * An elementwise program that may also reduce along the last axis: per row, values are either
 * row vectors or constant along the row (reductions, and inputs whose last axis is 1), and
 * elementwise steps broadcast them as NumPy would. Softmax is one: max, sub, exp, sum, div.
 * @example
 * // softmax along the last axis
 * const softmax: ReductionProgram = {
 *   arity: 1,
 *   instructions: [
 *     { kind: 'reduce', op: 'max', x: 0 }, // value 1
 *     { kind: 'binary', op: 'sub', a: 0, b: 1 }, // value 2
 *     { kind: 'unary', op: 'exp', x: 2 }, // value 3
 *     { kind: 'reduce', op: 'sum', x: 3 }, // value 4
 *     { kind: 'binary', op: 'div', a: 3, b: 4 }, // value 5, the result
 *   ],
 * }
 * @since 0.2.0
 */
export interface ReductionProgram {
  readonly arity: number
  readonly instructions: ReadonlyArray<ReductionInstruction>
}

/** The binary ops an elementwise program may apply: the arithmetic ones (comparisons give int32). @since 0.2.0 */
export type ArithmeticOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'

/**
 * One step of an elementwise program. Operands are value numbers: the program's inputs are values
 * `0 … arity - 1`, and instruction `i` defines value `arity + i`; an operand names an earlier value.
 * @since 0.2.0
 */
export type ProgramInstruction =
  | { readonly kind: 'constant'; readonly value: number }
  | { readonly kind: 'unary'; readonly op: UnaryOp; readonly x: number }
  | { readonly kind: 'binary'; readonly op: ArithmeticOp; readonly a: number; readonly b: number }

/**
 * A straight-line elementwise computation over `arity` broadcast inputs, as one kernel runs it
 * (the staging pass that fuses chains of elementwise ops builds these). Its result is the value of
 * the last instruction.
 * @example
 * // sigmoid(x) * y + 1
 * const program: ElementwiseProgram = {
 *   arity: 2,
 *   instructions: [
 *     { kind: 'unary', op: 'sigmoid', x: 0 }, // value 2
 *     { kind: 'binary', op: 'mul', a: 2, b: 1 }, // value 3
 *     { kind: 'constant', value: 1 }, // value 4
 *     { kind: 'binary', op: 'add', a: 3, b: 4 }, // value 5, the result
 *   ],
 * }
 * @since 0.2.0
 */
export interface ElementwiseProgram {
  readonly arity: number
  readonly instructions: ReadonlyArray<ProgramInstruction>
}

/** @since 0.1.0 */
export type UnaryOp =
  | 'neg'
  | 'abs'
  | 'sign'
  | 'exp'
  | 'expm1'
  | 'log'
  | 'log1p'
  | 'sqrt'
  | 'rsqrt'
  | 'square'
  | 'reciprocal'
  | 'sin'
  | 'cos'
  | 'tanh'
  | 'erf'
  | 'sigmoid'
  | 'relu'
  | 'softplus'
  | 'floor'
  | 'ceil'
  | 'round'
  | 'tan'
  | 'asin'
  | 'acos'
  | 'atan'
  | 'sinh'
  | 'cosh'

/** @since 0.1.0 */
export type BinaryOp =
  | 'add'
  | 'sub'
  | 'mul'
  | 'div'
  | 'pow'
  | 'maximum'
  | 'minimum'
  | 'equal'
  | 'notEqual'
  | 'less'
  | 'lessEqual'
  | 'greater'
  | 'greaterEqual'
  | 'atan2'

/** @since 0.1.0 */
export type ReduceOp = 'sum' | 'prod' | 'max' | 'min' | 'argmax' | 'argmin' | 'logsumexp'

/** Normalised matmul arguments. @since 0.1.0 */
export interface MatmulSpec {
  readonly transposeA: boolean
  readonly transposeB: boolean
  /** Broadcast batch shape of the result. */
  readonly batchShape: Shape
  readonly m: number
  readonly n: number
  readonly k: number
}

/** Normalised conv2d geometry. @since 0.1.0 */
export interface Conv2dSpec {
  readonly stride: readonly [number, number]
  /** [top, bottom, left, right] */
  readonly padding: readonly [number, number, number, number]
  readonly dilation: readonly [number, number]
  /**
   * Channel groups (PyTorch's `groups`): x's C and w's O split into this many blocks, block g of the
   * output reading only block g of the input, w being `[O, C / groups, kH, kW]`. Absent means 1
   * (`conv2dSpec` leaves it out then, so an ungrouped spec has one form). @since 0.2.0
   */
  readonly groups?: number
}

/** Normalised pooling geometry. @since 0.1.0 */
export interface Pool2dSpec {
  readonly kernel: readonly [number, number]
  readonly stride: readonly [number, number]
  /** [top, bottom, left, right] */
  readonly padding: readonly [number, number, number, number]
}

let current: Backend | undefined

// Chosen once: WebAssembly SIMD where the engine supports it and may compile it, else the plain
// TypeScript reference.
let automatic: Backend | undefined

/**
 * The backend kernels run on: the one set with `setBackend`, else the fastest available one
 * (WebAssembly SIMD where supported and allowed, the reference backend otherwise; `backendStatus`
 * says which and why).
 * @since 0.1.0
 */
export const getBackend = (): Backend => current ?? (automatic ??= automaticBackend())

/**
 * Selects the backend every later kernel call uses (`undefined` restores the automatic choice).
 * @since 0.1.0
 */
export const setBackend = (b: Backend | undefined): void => {
  current = b
}

/** What `backendStatus` reports. @since 0.2.0 */
export interface BackendStatus {
  /** Name of the backend kernels run on now (`getBackend().name`): `'wasm'` or `'reference'`, or a custom one. */
  readonly backend: string
  /** `'setBackend'` when one was set explicitly, `'automatic'` when backfold chose the fastest available one. */
  readonly chosenBy: 'automatic' | 'setBackend'
  /**
   * Why the WebAssembly backend cannot run here (no WebAssembly, no SIMD, or a page whose
   * Content-Security-Policy refuses to compile WebAssembly); absent when it can.
   */
  readonly wasmUnavailable?: string
}

/**
 * Which backend kernels run on, how it was chosen, and, when the WebAssembly backend cannot run
 * here, why. A page served with `Content-Security-Policy: script-src 'self'` (no
 * `'wasm-unsafe-eval'`) may not compile WebAssembly: backfold then runs on the reference backend
 * and `wasmUnavailable` carries the engine's refusal. (For worker threads, see `threadPoolStatus`.)
 * @example
 * import { backendStatus } from '@backfold/tensor'
 * const { backend, wasmUnavailable } = backendStatus()
 * if (wasmUnavailable !== undefined) console.warn(`backfold runs on ${backend}: ${wasmUnavailable}`)
 * @since 0.2.0
 */
export const backendStatus = (): BackendStatus => {
  const backend = getBackend().name
  const chosenBy = current === undefined ? 'automatic' : 'setBackend'
  const reason = automaticWasmUnavailable()
  return reason === undefined ? { backend, chosenBy } : { backend, chosenBy, wasmUnavailable: reason }
}
