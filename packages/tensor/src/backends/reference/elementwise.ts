import type { BinaryOp, UnaryOp } from '../../backend'
import { allocate, type DType, type TypedArray } from '../../dtype'
import { sizeOf, stridesOf, type Shape } from '../../shape'
import { unsafeTensor, type Tensor } from '../../tensor'

// Every loop below computes in float64 (a JS number) and lets the typed-array store round
// (float32) or convert (int32: ToInt32, i.e. truncation and wrap-around, like C int32 arithmetic).
// Each op has its own tight loop: the `switch` runs once per call (or per row), never per element.

const TWO_OVER_SQRT_PI = 1.1283791670955126
const SQRT_PI = 1.7724538509055159

/**
 * The error function to within ~2e-15 relative error (checked against a reference over [-7, 7]).
 * Below 2.5: erf x = 2/√π e^{-x²} Σ 2ⁿ x^{2n+1} / (1·3···(2n+1)), whose terms are all positive (no
 * cancellation). From 2.5: erfc by Laplace's continued fraction
 * erfc x = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up at depth 60.
 */
export const erfScalar = (x: number): number => {
  if (Number.isNaN(x)) return x
  const ax = Math.abs(x)
  if (ax > 6) return x > 0 ? 1 : -1
  let r: number
  if (ax < 2.5) {
    const x2 = ax * ax
    let term = ax
    let sum = ax
    for (let k = 1; k < 200 && term >= sum * 1e-17; k++) {
      term *= (2 * x2) / (2 * k + 1)
      sum += term
    }
    r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum
  } else {
    let f = ax
    for (let k = 60; k >= 1; k--) f = ax + k / 2 / f
    r = 1 - Math.exp(-ax * ax) / (SQRT_PI * f)
  }
  return x < 0 ? -r : r
}

const INT32_MAX = 2147483647
const INT32_MIN = -2147483648

/**
 * `out[i] = f(x[i])`. `x` may have any dtype (the public kernels cast it to `outDtype` first,
 * this loop does not rely on that).
 * @since 0.1.0
 */
export const unary = (op: UnaryOp, x: Tensor, outDtype: DType): Tensor => {
  const shape = x.shape
  const src = x.data
  const n = sizeOf(shape)
  const out = allocate(outDtype, n)
  switch (op) {
    case 'neg':
      for (let i = 0; i < n; i++) out[i] = -src[i]!
      break
    case 'abs':
      for (let i = 0; i < n; i++) out[i] = Math.abs(src[i]!)
      break
    case 'sign':
      // Math.sign keeps 0, -0 and NaN as they are.
      for (let i = 0; i < n; i++) out[i] = Math.sign(src[i]!)
      break
    case 'exp':
      for (let i = 0; i < n; i++) out[i] = Math.exp(src[i]!)
      break
    case 'expm1':
      for (let i = 0; i < n; i++) out[i] = Math.expm1(src[i]!)
      break
    case 'log':
      for (let i = 0; i < n; i++) out[i] = Math.log(src[i]!)
      break
    case 'log1p':
      for (let i = 0; i < n; i++) out[i] = Math.log1p(src[i]!)
      break
    case 'sqrt':
      for (let i = 0; i < n; i++) out[i] = Math.sqrt(src[i]!)
      break
    case 'rsqrt':
      for (let i = 0; i < n; i++) out[i] = 1 / Math.sqrt(src[i]!)
      break
    case 'square':
      // v * v of an int32 can exceed 2^53 and lose the low bits before wrapping; imul wraps exactly.
      if (outDtype === 'int32') for (let i = 0; i < n; i++) out[i] = Math.imul(src[i]!, src[i]!)
      else
        for (let i = 0; i < n; i++) {
          const v = src[i]!
          out[i] = v * v
        }
      break
    case 'reciprocal':
      for (let i = 0; i < n; i++) out[i] = 1 / src[i]!
      break
    case 'sin':
      for (let i = 0; i < n; i++) out[i] = Math.sin(src[i]!)
      break
    case 'cos':
      for (let i = 0; i < n; i++) out[i] = Math.cos(src[i]!)
      break
    case 'tanh':
      for (let i = 0; i < n; i++) out[i] = Math.tanh(src[i]!)
      break
    case 'erf':
      for (let i = 0; i < n; i++) out[i] = erfScalar(src[i]!)
      break
    case 'sigmoid':
      // exp(-|v|) never overflows: 1 / (1 + z) for v >= 0, z / (1 + z) for v < 0.
      for (let i = 0; i < n; i++) {
        const v = src[i]!
        const z = Math.exp(-Math.abs(v))
        out[i] = v >= 0 ? 1 / (1 + z) : z / (1 + z)
      }
      break
    case 'relu':
      // Math.max propagates NaN (as PyTorch does) and maps -0 to 0.
      for (let i = 0; i < n; i++) out[i] = Math.max(src[i]!, 0)
      break
    case 'softplus':
      // log(1 + e^v) = max(v, 0) + log1p(e^-|v|): no overflow for large v, no cancellation for small.
      for (let i = 0; i < n; i++) {
        const v = src[i]!
        out[i] = Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)))
      }
      break
    case 'floor':
      for (let i = 0; i < n; i++) out[i] = Math.floor(src[i]!)
      break
    case 'ceil':
      for (let i = 0; i < n; i++) out[i] = Math.ceil(src[i]!)
      break
    case 'round':
      // Half to even. Math.round rounds halves up, so an odd result exactly 0.5 above v steps back
      // down. r - v is exact here (Sterbenz), and -0 stays -0 (`-0 % 2` is -0, which equals 0).
      for (let i = 0; i < n; i++) {
        const v = src[i]!
        const r = Math.round(v)
        out[i] = r - v === 0.5 && r % 2 !== 0 ? r - 1 : r
      }
      break
    case 'tan':
      for (let i = 0; i < n; i++) out[i] = Math.tan(src[i]!)
      break
    case 'asin':
      for (let i = 0; i < n; i++) out[i] = Math.asin(src[i]!)
      break
    case 'acos':
      for (let i = 0; i < n; i++) out[i] = Math.acos(src[i]!)
      break
    case 'atan':
      for (let i = 0; i < n; i++) out[i] = Math.atan(src[i]!)
      break
    case 'sinh':
      for (let i = 0; i < n; i++) out[i] = Math.sinh(src[i]!)
      break
    case 'cosh':
      for (let i = 0; i < n; i++) out[i] = Math.cosh(src[i]!)
      break
  }
  return unsafeTensor(outDtype, shape, out)
}

/**
 * Output dimensions with size-1 axes dropped and neighbouring axes merged wherever every operand
 * is contiguous across them, plus each operand's stride per merged axis (0 where it broadcasts).
 * Equal shapes collapse to one axis; `[3,1] ∘ [4]` stays two axes.
 */
interface BroadcastPlan {
  readonly sizes: number[]
  readonly strides: number[][]
}

const planBroadcast = (outShape: Shape, shapes: ReadonlyArray<Shape>): BroadcastPlan => {
  const rank = outShape.length
  const aligned = shapes.map((shape) => {
    const own = stridesOf(shape)
    const lead = rank - shape.length
    return outShape.map((_, i) => (i < lead || shape[i - lead] === 1 ? 0 : own[i - lead]!))
  })
  const sizes: number[] = []
  const strides: number[][] = shapes.map(() => [])
  for (let i = 0; i < rank; i++) {
    const size = outShape[i]!
    if (size === 1) continue
    const last = sizes.length - 1
    // Axis i merges into the previous merged axis when, for every operand, stepping the
    // previous axis once equals stepping axis i `size` times.
    const mergeable = last >= 0 && aligned.every((a, k) => strides[k]![last] === a[i]! * size)
    if (mergeable) {
      sizes[last] = sizes[last]! * size
      for (let k = 0; k < aligned.length; k++) strides[k]![last] = aligned[k]![i]!
    } else {
      sizes.push(size)
      for (let k = 0; k < aligned.length; k++) strides[k]!.push(aligned[k]![i]!)
    }
  }
  if (sizes.length === 0) {
    sizes.push(1)
    for (const s of strides) s.push(0)
  }
  return { sizes, strides }
}

/** One strided run: `out[o + j] = a[ia + j*sa] ∘ b[ib + j*sb]` for `j < n`. */
const binaryRun = (
  op: BinaryOp,
  intOut: boolean,
  a: TypedArray,
  ia: number,
  sa: number,
  b: TypedArray,
  ib: number,
  sb: number,
  out: TypedArray,
  o: number,
  n: number,
): void => {
  const end = o + n
  switch (op) {
    case 'add':
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! + b[ib]!
      return
    case 'sub':
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! - b[ib]!
      return
    case 'mul':
      // An int32 product can exceed 2^53 before wrapping; imul wraps exactly, like C.
      if (intOut) for (; o < end; o++, ia += sa, ib += sb) out[o] = Math.imul(a[ia]!, b[ib]!)
      else for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! * b[ib]!
      return
    case 'div':
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! / b[ib]!
      return
    case 'pow':
      for (; o < end; o++, ia += sa, ib += sb) {
        const base = a[ia]!
        const exponent = b[ib]!
        let p = Math.pow(base, exponent)
        // IEEE 754 / C pow (and NumPy, PyTorch) give pow(1, y) = 1 and pow(-1, ±Inf) = 1; JS gives NaN.
        if (p !== p && (base === 1 || (base === -1 && Math.abs(exponent) === Infinity))) p = 1
        out[o] = p
      }
      return
    case 'maximum':
      // Math.max/min propagate NaN.
      for (; o < end; o++, ia += sa, ib += sb) out[o] = Math.max(a[ia]!, b[ib]!)
      return
    case 'minimum':
      for (; o < end; o++, ia += sa, ib += sb) out[o] = Math.min(a[ia]!, b[ib]!)
      return
    case 'atan2':
      for (; o < end; o++, ia += sa, ib += sb) out[o] = Math.atan2(a[ia]!, b[ib]!)
      return
    case 'equal':
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! === b[ib]! ? 1 : 0
      return
    case 'notEqual':
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! !== b[ib]! ? 1 : 0
      return
    case 'less':
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! < b[ib]! ? 1 : 0
      return
    case 'lessEqual':
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! <= b[ib]! ? 1 : 0
      return
    case 'greater':
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! > b[ib]! ? 1 : 0
      return
    case 'greaterEqual':
      for (; o < end; o++, ia += sa, ib += sb) out[o] = a[ia]! >= b[ib]! ? 1 : 0
      return
  }
}

/**
 * Broadcasting binary op without materialising the broadcast. Equal shapes and single-element
 * operands are one strided run; anything else walks the output row by row with an odometer over
 * the outer (merged) axes, each row being one strided run.
 * @since 0.1.0
 */
/**
 * Contiguous float32 arithmetic with an optional scalar operand; false when `op` is not one it covers.
 * Kept separate from `binaryRun` so its typed-array accesses stay monomorphic.
 */
const float32Run = (
  op: BinaryOp,
  a: Float32Array,
  aScalar: boolean,
  b: Float32Array,
  bScalar: boolean,
  out: Float32Array,
  n: number,
): boolean => {
  if (aScalar && bScalar) return false
  const as = aScalar ? a[0]! : 0
  const bs = bScalar ? b[0]! : 0
  switch (op) {
    case 'add':
      if (bScalar) for (let i = 0; i < n; i++) out[i] = a[i]! + bs
      else if (aScalar) for (let i = 0; i < n; i++) out[i] = as + b[i]!
      else for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!
      return true
    case 'sub':
      if (bScalar) for (let i = 0; i < n; i++) out[i] = a[i]! - bs
      else if (aScalar) for (let i = 0; i < n; i++) out[i] = as - b[i]!
      else for (let i = 0; i < n; i++) out[i] = a[i]! - b[i]!
      return true
    case 'mul':
      if (bScalar) for (let i = 0; i < n; i++) out[i] = a[i]! * bs
      else if (aScalar) for (let i = 0; i < n; i++) out[i] = as * b[i]!
      else for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!
      return true
    case 'div':
      if (bScalar) for (let i = 0; i < n; i++) out[i] = a[i]! / bs
      else if (aScalar) for (let i = 0; i < n; i++) out[i] = as / b[i]!
      else for (let i = 0; i < n; i++) out[i] = a[i]! / b[i]!
      return true
    default:
      return false
  }
}

/** True when `inner` (ignoring leading 1s) equals the last dimensions of `outer`. */
const isTrailing = (inner: Shape, outer: Shape): boolean => {
  let i = 0
  while (i < inner.length && inner[i] === 1) i++
  const rest = inner.length - i
  if (rest > outer.length) return false
  for (let k = 0; k < rest; k++) if (inner[i + k] !== outer[outer.length - rest + k]) return false
  return true
}

/** `out = a ∘ b` where `b` (length `row`) repeats along every row of `a`; float32, monomorphic. */
const float32Rows = (
  op: BinaryOp,
  a: Float32Array,
  b: Float32Array,
  out: Float32Array,
  n: number,
  row: number,
): boolean => {
  if (op !== 'add' && op !== 'sub' && op !== 'mul') return false
  for (let start = 0; start < n; start += row) {
    if (op === 'add') for (let j = 0; j < row; j++) out[start + j] = a[start + j]! + b[j]!
    else if (op === 'sub') for (let j = 0; j < row; j++) out[start + j] = a[start + j]! - b[j]!
    else for (let j = 0; j < row; j++) out[start + j] = a[start + j]! * b[j]!
  }
  return true
}

/** Float32 comparisons into an int32 mask (ReLU's VJP), contiguous with an optional scalar operand. */
const float32Compare = (
  op: BinaryOp,
  a: Float32Array,
  aScalar: boolean,
  b: Float32Array,
  bScalar: boolean,
  out: Int32Array,
  n: number,
): boolean => {
  if (aScalar || (op !== 'greater' && op !== 'less' && op !== 'greaterEqual' && op !== 'lessEqual'))
    return false
  if (bScalar) {
    const v = b[0]!
    if (op === 'greater') for (let i = 0; i < n; i++) out[i] = a[i]! > v ? 1 : 0
    else if (op === 'less') for (let i = 0; i < n; i++) out[i] = a[i]! < v ? 1 : 0
    else if (op === 'greaterEqual') for (let i = 0; i < n; i++) out[i] = a[i]! >= v ? 1 : 0
    else for (let i = 0; i < n; i++) out[i] = a[i]! <= v ? 1 : 0
  } else if (op === 'greater') for (let i = 0; i < n; i++) out[i] = a[i]! > b[i]! ? 1 : 0
  else if (op === 'less') for (let i = 0; i < n; i++) out[i] = a[i]! < b[i]! ? 1 : 0
  else if (op === 'greaterEqual') for (let i = 0; i < n; i++) out[i] = a[i]! >= b[i]! ? 1 : 0
  else for (let i = 0; i < n; i++) out[i] = a[i]! <= b[i]! ? 1 : 0
  return true
}

export const binary = (op: BinaryOp, a: Tensor, b: Tensor, outShape: Shape, outDtype: DType): Tensor => {
  const outSize = sizeOf(outShape)
  const out = allocate(outDtype, outSize)
  const result = unsafeTensor(outDtype, outShape, out)
  if (outSize === 0) return result
  const aShape = a.shape
  const bShape = b.shape
  const aData = a.data
  const bData = b.data
  const intOut = outDtype === 'int32'
  const aSize = sizeOf(aShape)
  const bSize = sizeOf(bShape)
  // The hot case of training in float32 (updates, bias adds, masks): a loop that only ever sees
  // Float32Arrays keeps V8's element accesses monomorphic, several times faster than the generic loop.
  if (aData instanceof Float32Array && bData instanceof Float32Array) {
    if (
      out instanceof Float32Array &&
      (aSize === outSize || aSize === 1) &&
      (bSize === outSize || bSize === 1) &&
      float32Run(op, aData, aSize === 1, bData, bSize === 1, out, outSize)
    )
      return result
    // A bias added to every row: b's shape is the trailing part of the output's.
    if (
      out instanceof Float32Array &&
      aSize === outSize &&
      bSize > 1 &&
      isTrailing(bShape, outShape) &&
      float32Rows(op, aData, bData, out, outSize, bSize)
    )
      return result
    if (
      out instanceof Int32Array &&
      (aSize === outSize || aSize === 1) &&
      (bSize === outSize || bSize === 1) &&
      float32Compare(op, aData, aSize === 1, bData, bSize === 1, out, outSize)
    )
      return result
  }
  // An operand as large as the output is not expanded anywhere, so it is read in output order.
  if (aSize === outSize && bSize === outSize) {
    binaryRun(op, intOut, aData, 0, 1, bData, 0, 1, out, 0, outSize)
    return result
  }
  if (aSize === 1 && bSize === outSize) {
    binaryRun(op, intOut, aData, 0, 0, bData, 0, 1, out, 0, outSize)
    return result
  }
  if (aSize === outSize && bSize === 1) {
    binaryRun(op, intOut, aData, 0, 1, bData, 0, 0, out, 0, outSize)
    return result
  }
  const { sizes, strides } = planBroadcast(outShape, [aShape, bShape])
  const aStrides = strides[0]!
  const bStrides = strides[1]!
  const inner = sizes.length - 1
  const rowLength = sizes[inner]!
  const sa = aStrides[inner]!
  const sb = bStrides[inner]!
  const index = new Array<number>(inner).fill(0)
  let ia = 0
  let ib = 0
  for (let o = 0; o < outSize; o += rowLength) {
    binaryRun(op, intOut, aData, ia, sa, bData, ib, sb, out, o, rowLength)
    for (let d = inner - 1; d >= 0; d--) {
      const size = sizes[d]!
      const next = index[d]! + 1
      if (next < size) {
        index[d] = next
        ia += aStrides[d]!
        ib += bStrides[d]!
        break
      }
      index[d] = 0
      ia -= aStrides[d]! * (size - 1)
      ib -= bStrides[d]! * (size - 1)
    }
  }
  return result
}

/** One strided run of `where`. */
const whereRun = (
  cond: TypedArray,
  ic: number,
  sc: number,
  a: TypedArray,
  ia: number,
  sa: number,
  b: TypedArray,
  ib: number,
  sb: number,
  out: TypedArray,
  o: number,
  n: number,
): void => {
  const end = o + n
  // `!== 0` rather than truthiness so the rule is explicit: NaN counts as true, like NumPy's bool(nan).
  for (; o < end; o++, ic += sc, ia += sa, ib += sb) out[o] = cond[ic]! !== 0 ? a[ia]! : b[ib]!
}

/**
 * Broadcasting select: `out[i] = cond[i] !== 0 ? a[i] : b[i]` (NaN in `cond` counts as true).
 * @since 0.1.0
 */
export const where = (cond: Tensor, a: Tensor, b: Tensor, outShape: Shape, outDtype: DType): Tensor => {
  const outSize = sizeOf(outShape)
  const out = allocate(outDtype, outSize)
  const result = unsafeTensor(outDtype, outShape, out)
  if (outSize === 0) return result
  const cData = cond.data
  const aData = a.data
  const bData = b.data
  const { sizes, strides } = planBroadcast(outShape, [cond.shape, a.shape, b.shape])
  const cStrides = strides[0]!
  const aStrides = strides[1]!
  const bStrides = strides[2]!
  const inner = sizes.length - 1
  const rowLength = sizes[inner]!
  const sc = cStrides[inner]!
  const sa = aStrides[inner]!
  const sb = bStrides[inner]!
  const index = new Array<number>(inner).fill(0)
  let ic = 0
  let ia = 0
  let ib = 0
  for (let o = 0; o < outSize; o += rowLength) {
    whereRun(cData, ic, sc, aData, ia, sa, bData, ib, sb, out, o, rowLength)
    for (let d = inner - 1; d >= 0; d--) {
      const size = sizes[d]!
      const next = index[d]! + 1
      if (next < size) {
        index[d] = next
        ic += cStrides[d]!
        ia += aStrides[d]!
        ib += bStrides[d]!
        break
      }
      index[d] = 0
      ic -= cStrides[d]! * (size - 1)
      ia -= aStrides[d]! * (size - 1)
      ib -= bStrides[d]! * (size - 1)
    }
  }
  return result
}

/**
 * Elementwise conversion. To int32: truncation toward zero (as `Math.trunc`); NaN becomes 0 and
 * values outside the int32 range saturate to its ends (rather than wrapping modulo 2^32).
 * To float32: round to nearest.
 * @since 0.1.0
 */
export const cast = (x: Tensor, dtype: DType): Tensor => {
  const shape = x.shape
  const src = x.data
  const n = sizeOf(shape)
  const out = allocate(dtype, n)
  if (dtype === 'int32') {
    // The Int32Array store truncates toward zero and maps NaN to 0; only the range needs clamping.
    for (let i = 0; i < n; i++) {
      const v = src[i]!
      out[i] = v >= INT32_MAX ? INT32_MAX : v <= INT32_MIN ? INT32_MIN : v
    }
  } else if (src.length === n) {
    out.set(src)
  } else {
    for (let i = 0; i < n; i++) out[i] = src[i]!
  }
  return unsafeTensor(dtype, shape, out)
}
