import { allocate, random, sizeOf, unsafeTensor, type Key, type Tensor } from '@backfold/tensor'
import { concrete } from '../core/trace'
import { vjp } from '../transforms/vjp'

/** Options of `checkVjp`. @since 0.1.0 */
export interface CheckVjpOptions {
  /** Central-difference step (default 1e-6; inputs are promoted to float64). */
  readonly eps?: number
  /** Largest acceptable error, measured as |a − b| / max(1, |a|, |b|) (default 1e-6). */
  readonly tolerance?: number
  /** Arguments to check (default: every float argument). */
  readonly argnums?: ReadonlyArray<number>
  /** The full Jacobian is compared when inputs × outputs ≤ this many entries (default 4096; 0 disables). */
  readonly maxJacobianEntries?: number
  /** Seed of the random probe directions (default 0). */
  readonly seed?: number
}

/** The worst disagreement found by `checkVjp`. @since 0.1.0 */
export interface CheckVjpReport {
  readonly ok: boolean
  /** Largest error over the dot-product test and (if run) every Jacobian entry. */
  readonly worstError: number
  /** ⟨u, J v⟩ by central differences against ⟨Jᵀ u, v⟩ by the VJP. */
  readonly dotProduct: { readonly finiteDifference: number; readonly vjp: number; readonly error: number }
  /** Entry-by-entry comparison, when the Jacobian was small enough to form. */
  readonly jacobian:
    | {
        readonly maxError: number
        /** Where the worst entry is: output element, argument, input element, and both values. */
        readonly worst: {
          readonly output: number
          readonly argument: number
          readonly input: number
          readonly finiteDifference: number
          readonly vjp: number
        }
      }
    | undefined
  /** A one-line summary for test failures. */
  readonly message: string
}

const errorOf = (a: number, b: number): number =>
  Number.isNaN(a) || Number.isNaN(b) ? Infinity : Math.abs(a - b) / Math.max(1, Math.abs(a), Math.abs(b))

const toFloat64 = (x: Tensor): Tensor =>
  x.dtype === 'float64' || x.dtype === 'int32'
    ? x
    : unsafeTensor('float64', x.shape, Float64Array.from(x.data))

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!
  return s
}

/** `x + t·v` as a new float64 tensor. */
const along = (x: Tensor, v: Float64Array, t: number): Tensor => {
  const out = new Float64Array(x.data.length)
  for (let i = 0; i < out.length; i++) out[i] = x.data[i]! + t * v[i]!
  return unsafeTensor('float64', x.shape, out)
}

const probe = (k: Key, shape: ReadonlyArray<number>): Float64Array =>
  Float64Array.from(random.normal(k, shape, { dtype: 'float64' }).data)

/**
 * Checks an op's (or any function's) VJP against central finite differences, in float64:
 *
 * 1. the dot-product test: for random `u` (output-shaped) and `v` (input-shaped),
 *    ⟨u, (f(x + εv) − f(x − εv)) / 2ε⟩ must equal ⟨vjp(u), v⟩. Two evaluations whatever the size.
 * 2. for small inputs, the full Jacobian: every entry from finite differences against every
 *    row from the pullback.
 *
 * This is the way to test a custom op: pick inputs inside the op's smooth domain (away from kinks
 * such as `abs` at 0) and assert `report.ok`, printing `report.message` on failure.
 * @example
 * import { checkVjp, tanh } from '@backfold/ops'
 * import { tensor } from '@backfold/tensor'
 * const report = checkVjp(tanh, [tensor([0.5, -1.2, 2])])
 * report.ok // true; report.worstError ~ 1e-10
 * @since 0.1.0
 */
export const checkVjp = (
  f: (...args: Tensor[]) => Tensor,
  args: ReadonlyArray<Tensor>,
  opts: CheckVjpOptions = {},
): CheckVjpReport => {
  const eps = opts.eps ?? 1e-6
  const tolerance = opts.tolerance ?? 1e-6
  const xs = args.map((a) => toFloat64(concrete(a)))
  const argnums = opts.argnums ?? xs.flatMap((x, i) => (x.dtype === 'int32' ? [] : [i]))
  const evaluate = (inputs: ReadonlyArray<Tensor>): Tensor => concrete(f(...inputs))
  const [y, pullback] = vjp(f, { argnums })(...xs)
  const [uKey, ...vKeys] = random.split(random.key(opts.seed ?? 0), argnums.length + 1)
  const u = probe(uKey!, y.shape)
  const vs = argnums.map((n, i) => probe(vKeys[i]!, xs[n]!.shape))
  const uTensor = unsafeTensor(y.dtype, y.shape, y.dtype === 'float64' ? u : Float32Array.from(u))

  // ⟨Jᵀu, v⟩
  const cts = pullback(uTensor) as Tensor[]
  const vjpSide = cts.reduce((s, ct, i) => s + dot(ct.data, vs[i]!), 0)
  // ⟨u, J v⟩ by central differences along v in every checked argument at once
  const shifted = (t: number): Tensor =>
    evaluate(xs.map((x, n) => (argnums.includes(n) ? along(x, vs[argnums.indexOf(n)]!, t) : x)))
  const plus = shifted(eps).data
  const minus = shifted(-eps).data
  let fdSide = 0
  for (let i = 0; i < u.length; i++) fdSide += (u[i]! * (plus[i]! - minus[i]!)) / (2 * eps)
  const dotError = errorOf(fdSide, vjpSide)

  const outSize = sizeOf(y.shape)
  const inSize = argnums.reduce((s, n) => s + sizeOf(xs[n]!.shape), 0)
  const jacobian =
    outSize * inSize <= (opts.maxJacobianEntries ?? 4096)
      ? compareJacobian(evaluate, pullback as (ct: Tensor) => Tensor[], xs, argnums, y, eps)
      : undefined
  const worstError = Math.max(dotError, jacobian?.maxError ?? 0)
  const ok = worstError <= tolerance
  const message =
    `checkVjp: ${ok ? 'ok' : 'FAILED'}, worst error ${worstError.toExponential(2)} (tolerance ${tolerance}); ` +
    `dot product: finite differences ${fdSide} vs vjp ${vjpSide}` +
    (jacobian === undefined
      ? ''
      : `; worst Jacobian entry d out[${jacobian.worst.output}] / d arg${jacobian.worst.argument}[${jacobian.worst.input}]: ` +
        `finite differences ${jacobian.worst.finiteDifference} vs vjp ${jacobian.worst.vjp}`)
  return {
    ok,
    worstError,
    dotProduct: { finiteDifference: fdSide, vjp: vjpSide, error: dotError },
    jacobian,
    message,
  }
}

const compareJacobian = (
  evaluate: (inputs: ReadonlyArray<Tensor>) => Tensor,
  pullback: (ct: Tensor) => Tensor[],
  xs: ReadonlyArray<Tensor>,
  argnums: ReadonlyArray<number>,
  y: Tensor,
  eps: number,
): NonNullable<CheckVjpReport['jacobian']> => {
  const outSize = sizeOf(y.shape)
  // Rows of J from the pullback: one basis cotangent per output element.
  const rows: Tensor[][] = []
  for (let o = 0; o < outSize; o++) {
    const e = allocate(y.dtype, outSize)
    e[o] = 1
    rows.push(pullback(unsafeTensor(y.dtype, y.shape, e)))
  }
  let worst = { maxError: -1, output: 0, argument: 0, input: 0, finiteDifference: 0, vjp: 0 }
  argnums.forEach((n, a) => {
    const x = xs[n]!
    for (let i = 0; i < x.data.length; i++) {
      const at = (t: number): ArrayLike<number> => {
        const data = Float64Array.from(x.data)
        data[i] = data[i]! + t
        return evaluate(xs.map((other, m) => (m === n ? unsafeTensor('float64', x.shape, data) : other))).data
      }
      const plus = at(eps)
      const minus = at(-eps)
      for (let o = 0; o < outSize; o++) {
        const fd = (plus[o]! - minus[o]!) / (2 * eps)
        const v = rows[o]![a]!.data[i]!
        const err = errorOf(fd, v)
        if (err > worst.maxError)
          worst = { maxError: err, output: o, argument: n, input: i, finiteDifference: fd, vjp: v }
      }
    }
  })
  const { maxError, ...where } = worst
  return { maxError: Math.max(0, maxError), worst: where }
}
