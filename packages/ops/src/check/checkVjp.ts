import {
  allocate,
  BackfoldError,
  random,
  sizeOf,
  unsafeTensor,
  ValueError,
  type Key,
  type Tensor,
} from '@backfold/tensor'
import { add } from '../binary/add'
import { mul } from '../binary/mul'
import { checkOptions, option, optionSchema } from '../core/options'
import { concrete } from '../core/trace'
import { sum } from '../reduce/sum'
import { grad } from '../transforms/grad'
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
  /**
   * Also check the VJP's own derivative (what `grad(grad(f))`, `hvp` and `jvp` use): `true` forces
   * it, `false` skips it (for a VJP that is deliberately not differentiable), `'auto'` (default) runs
   * it when the inputs and the output together have at most 4096 elements.
   */
  readonly secondOrder?: boolean | 'auto'
}

/** The second-order part of a `checkVjp` report. @since 0.2.0 */
export type SecondOrderReport =
  | {
      /** The VJP could be differentiated; both sides of the dot-product test are given. */
      readonly outcome: 'compared'
      /** ⟨(w, du), ∇h⟩ by central differences of h(x, u) = ⟨vjp(x)(u), v⟩. */
      readonly finiteDifference: number
      /** The same by differentiating h with `grad` (through the VJP). */
      readonly grad: number
      readonly error: number
    }
  | {
      /** Differentiating the VJP threw (a kernel of `@backfold/tensor` in the VJP, say). */
      readonly outcome: 'threw'
      /** The message of what was thrown. */
      readonly thrown: string
      /** Infinity: a VJP that cannot be differentiated fails the check. */
      readonly error: number
    }

/** The worst disagreement found by `checkVjp`. @since 0.1.0 */
export interface CheckVjpReport {
  readonly ok: boolean
  /** Largest error over the dot-product test and (if run) every Jacobian entry and the second-order check. */
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
  /** The check of the VJP's own derivative, when it ran (see `CheckVjpOptions.secondOrder`). */
  readonly secondOrder: SecondOrderReport | undefined
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

/** The data of `x + t·v`, in float64. */
const alongData = (x: Tensor, v: Float64Array, t: number): Float64Array => {
  const out = new Float64Array(x.data.length)
  for (let i = 0; i < out.length; i++) out[i] = x.data[i]! + t * v[i]!
  return out
}

/** `x + t·v` as a new float64 tensor. */
const along = (x: Tensor, v: Float64Array, t: number): Tensor =>
  unsafeTensor('float64', x.shape, alongData(x, v, t))

const probe = (k: Key, shape: ReadonlyArray<number>): Float64Array =>
  Float64Array.from(random.normal(k, shape, { dtype: 'float64' }).data)

/**
 * Checks an op's (or any function's) VJP against central finite differences, in float64:
 *
 * 1. the dot-product test: for random `u` (output-shaped) and `v` (input-shaped),
 *    ⟨u, (f(x + εv) − f(x − εv)) / 2ε⟩ must equal ⟨vjp(u), v⟩. Two evaluations whatever the size.
 * 2. for small inputs, the full Jacobian: every entry from finite differences against every
 *    row from the pullback.
 * 3. second order (by default for small inputs; `secondOrder`): the VJP itself is differentiated.
 *    With h(x, u) = ⟨vjp(x)(u), v⟩, the gradient of h from `grad` (through the VJP) is compared,
 *    along random directions, with central differences of h. This is what catches a VJP written
 *    with kernels: right at first order, it would give `grad(grad(f))` of zero; differentiated, it
 *    throws a `TraceError`, and the report says so (`ok` false, `secondOrder.outcome` `'threw'`).
 *
 * The rule it checks: an op's forward computes with the kernels of `@backfold/tensor`; its VJP
 * computes with the ops of `@backfold/ops`, so that the VJP can itself be differentiated.
 *
 * This is the way to test a custom op: pick inputs inside the op's smooth domain (away from kinks
 * such as `abs` at 0) and assert `report.ok`, printing `report.message` on failure.
 * @example
 * import { checkVjp, tanh } from '@backfold/ops'
 * import { tensor } from '@backfold/tensor'
 * const report = checkVjp(tanh, [tensor([0.5, -1.2, 2])])
 * report.ok // true; report.worstError ~ 1e-10
 * @throws ValueError for an unknown option or a malformed value (a non-positive `eps`, say).
 * @since 0.1.0
 */
export const checkVjp = (
  f: (...args: Tensor[]) => Tensor,
  args: ReadonlyArray<Tensor>,
  opts: CheckVjpOptions = {},
): CheckVjpReport => {
  checkOptions('checkVjp', opts, CHECK_VJP_OPTIONS)
  const eps = opts.eps ?? 1e-6
  const tolerance = opts.tolerance ?? 1e-6
  if (!(Number.isFinite(eps) && eps > 0))
    throw new ValueError('checkVjp', `option 'eps' must be a finite number > 0, got ${eps}`)
  if (!(tolerance >= 0)) throw new ValueError('checkVjp', `option 'tolerance' must be >= 0, got ${tolerance}`)
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
  const secondOrderWanted = opts.secondOrder ?? 'auto'
  const runSecondOrder =
    secondOrderWanted === true ||
    (secondOrderWanted === 'auto' && y.dtype !== 'int32' && inSize + outSize <= SECOND_ORDER_AUTO_ELEMENTS)
  if (runSecondOrder && y.dtype === 'int32')
    throw new ValueError(
      'checkVjp',
      'secondOrder: true, but the function returns int32 values, which have no derivative',
    )
  // With no float argument there is nothing to differentiate, at either order.
  const secondOrder =
    runSecondOrder && argnums.length > 0
      ? checkSecondOrder(f, xs, argnums, uTensor, vs, eps, random.foldIn(random.key(opts.seed ?? 0), 2))
      : undefined
  const worstError = Math.max(dotError, jacobian?.maxError ?? 0, secondOrder?.error ?? 0)
  const ok = worstError <= tolerance
  const message =
    `checkVjp: ${ok ? 'ok' : 'FAILED'}, worst error ${worstError.toExponential(2)} (tolerance ${tolerance}); ` +
    `dot product: finite differences ${fdSide} vs vjp ${vjpSide}` +
    (jacobian === undefined
      ? ''
      : `; worst Jacobian entry d out[${jacobian.worst.output}] / d arg${jacobian.worst.argument}[${jacobian.worst.input}]: ` +
        `finite differences ${jacobian.worst.finiteDifference} vs vjp ${jacobian.worst.vjp}`) +
    (secondOrder === undefined
      ? ''
      : secondOrder.outcome === 'threw'
        ? `; second order: differentiating the VJP threw (a VJP must compute with ops, not kernels): ${secondOrder.thrown}`
        : `; second order (the VJP differentiated): finite differences ${secondOrder.finiteDifference} vs grad ${secondOrder.grad}`)
  return {
    ok,
    worstError,
    dotProduct: { finiteDifference: fdSide, vjp: vjpSide, error: dotError },
    jacobian,
    secondOrder,
    message,
  }
}

const CHECK_VJP_OPTIONS = optionSchema({
  eps: option.number,
  tolerance: option.number,
  argnums: {
    expected: 'an array of argument indices',
    check: (v: unknown) => Array.isArray(v) && v.every((n) => Number.isInteger(n)),
  },
  maxJacobianEntries: {
    expected: 'a non-negative integer',
    check: (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0,
  },
  seed: option.integer,
  secondOrder: {
    expected: "true, false or 'auto'",
    check: (v: unknown) => typeof v === 'boolean' || v === 'auto',
  },
})

/** Inputs and output elements together up to which `secondOrder: 'auto'` runs the check. */
const SECOND_ORDER_AUTO_ELEMENTS = 4096

const tensorOf = (values: Float64Array, like: Tensor): Tensor =>
  unsafeTensor(like.dtype, like.shape, like.dtype === 'float64' ? values : Float32Array.from(values))

/**
 * The dot-product test one order up. h(x, u) = Σᵢ ⟨vjp(x)(u)ᵢ, vᵢ⟩ is computed by the first-order
 * pullback; `grad` differentiates it with respect to the checked arguments and the cotangent `u`
 * (through the VJP, as `grad(grad(f))` and `jvp` do), and that gradient along random directions
 * must match central differences of h. Five evaluations of the pullback whatever the size.
 */
const checkSecondOrder = (
  f: (...args: Tensor[]) => Tensor,
  xs: ReadonlyArray<Tensor>,
  argnums: ReadonlyArray<number>,
  u: Tensor,
  vs: ReadonlyArray<Float64Array>,
  eps: number,
  k: Key,
): SecondOrderReport => {
  const vTensors = argnums.map((n, i) => unsafeTensor('float64', xs[n]!.shape, vs[i]!))
  // h's arguments: the checked arguments, then u.
  const h = (...inputs: Tensor[]): Tensor => {
    const args = xs.map((x, n) => (argnums.includes(n) ? inputs[argnums.indexOf(n)]! : x))
    const [, pullback] = vjp(f, { argnums })(...args)
    const cts = pullback(inputs[argnums.length]!) as Tensor[]
    return cts.map((ct, i) => sum(mul(ct, vTensors[i]!))).reduce((s, term) => add(s, term))
  }
  const point = [...argnums.map((n) => xs[n]!), u]
  const keys = random.split(k, point.length)
  const directions = point.map((p, i) => probe(keys[i]!, p.shape))
  let gradients: Tensor[]
  try {
    gradients = grad(h, { argnums: point.map((_, i) => i) })(...point) as Tensor[]
  } catch (error) {
    // A TraceError here is the VJP refusing differentiation (a kernel on a traced value); any other
    // error is a bug of its own and propagates.
    if (error instanceof BackfoldError && error.kind === 'TraceError')
      return { outcome: 'threw', thrown: error.message, error: Infinity }
    throw error
  }
  const gradSide = gradients.reduce((s, g, i) => s + dot(concrete(g).data, directions[i]!), 0)
  const hAt = (inputs: ReadonlyArray<Tensor>): number => concrete(h(...inputs)).data[0]!
  const uIndex = argnums.length
  // Along the arguments with step eps, u fixed; along u (h is linear in u, so any step is exact)
  // with step 1, which a float32 u can represent.
  const shiftedArgs = (t: number): number =>
    hAt(point.map((p, i) => (i === uIndex ? p : tensorOf(alongData(p, directions[i]!, t), p))))
  const shiftedU = (t: number): number =>
    hAt(point.map((p, i) => (i === uIndex ? tensorOf(alongData(p, directions[i]!, t), p) : p)))
  const fdSide = (shiftedArgs(eps) - shiftedArgs(-eps)) / (2 * eps) + (shiftedU(1) - shiftedU(-1)) / 2
  return { outcome: 'compared', finiteDifference: fdSide, grad: gradSide, error: errorOf(fdSide, gradSide) }
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
