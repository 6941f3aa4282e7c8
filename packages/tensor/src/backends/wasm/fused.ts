import type { AdamHyperparameters } from '../../kernels/optim'
import type { Tensor } from '../../tensor'
import { unsafeTensor } from '../../tensor'
import {
  adamUpdate as referenceAdamUpdate,
  axpy as referenceAxpy,
  reluGrad as referenceReluGrad,
} from '../reference/fused'
import { Code, encodeModule, type Local } from './emitter'
import { growTo, orFallback } from './runtime'

// The fused elementwise kernels (reluGrad, axpy, adamUpdate) for float32 on WebAssembly SIMD, in a
// small module of their own (its own memory, separate from the GEMM's shared one).
//
// Bit-identical to the reference loops, which compute in float64 and round once per stored value:
// these widen float32 pairs to f64x2 (exact), do the same float64 operations in the same order
// (IEEE-754 add, mul, div and sqrt are correctly rounded in both), and narrow with round-to-nearest-
// even as a Float32Array store does. reluGrad is a bitwise AND with the `y > 0` mask: `ct` or +0.
// Measured on the digits MLP (Zen 4): the reference Adam loop is bound by scalar float64 division
// and square root (~6 ns per element) and reluGrad by branch mispredictions on random signs.

/** Below this many elements the copies in and out cost more than the loop saves. */
const MIN_ELEMENTS = 64

const FLOAT_BYTES = 4

type Param = Local

const params = (f: Code, count: number): Param[] => Array.from({ length: count }, (_, i) => f.param(i))

/** `for (; count > 0; count--) { body; pointers += step }`, every pointer advanced by `step` bytes. */
const eachStep = (
  f: Code,
  count: Param,
  pointers: ReadonlyArray<Param>,
  step: number,
  body: () => void,
): void => {
  f.block((exit) =>
    exit.loop((again) => {
      again.get(count).i32Eqz().brIf(1)
      body()
      for (const p of pointers) again.get(p).i32Const(step).i32Add().set(p)
      again.get(count).i32Const(1).i32Sub().set(count)
      again.br(0)
    }),
  )
}

/** reluGrad(ct, y, out, vectors): out = ct AND (y > 0), four floats per step. */
const reluGradKernel = (): Code => {
  const f = new Code(['i32', 'i32', 'i32', 'i32'], [])
  const [ct, y, out, vectors] = params(f, 4) as [Param, Param, Param, Param]
  eachStep(f, vectors, [ct, y, out], 16, () => {
    f.get(out)
    f.get(ct).v128Load()
    f.get(y).v128Load().v128Zero().f32x4Gt()
    f.v128And().v128Store()
  })
  return f
}

/** Pushes the f64x2 of the float32 pair at `pointer`. */
const loadPair = (f: Code, pointer: Param): void => {
  f.get(pointer).v128Load64Zero().f64x2PromoteLowF32x4()
}

/** axpy(x, y, out, pairs, alpha): out = alpha·x + y, two floats per step, float64 arithmetic. */
const axpyKernel = (): Code => {
  const f = new Code(['i32', 'i32', 'i32', 'i32', 'f64'], [])
  const [x, y, out, pairs, alpha] = params(f, 5) as [Param, Param, Param, Param, Param]
  const alphas = f.local('v128')
  f.get(alpha).f64x2Splat().set(alphas)
  eachStep(f, pairs, [x, y, out], 8, () => {
    f.get(out)
    f.get(alphas)
    loadPair(f, x)
    f.f64x2Mul()
    loadPair(f, y)
    f.f64x2Add().f32x4DemoteF64x2Zero().v128Store64Lane0()
  })
  return f
}

/**
 * adam(g, m, v, mu, nu, update, pairs, b1, c1, b2, c2, mHat, vHat, epsRoot, eps), as the reference:
 * mu = b1·m + c1·g; nu = b2·v + (c2·g)·g; update = (mHat·mu) / (√(vHat·nu + epsRoot) + eps), the
 * update read off the ROUNDED mu and nu. With `withParams` (export adamApply) an eighth pointer `p`
 * follows `update`, and `update` receives p + update instead, rounded once.
 */
const adamKernel = (withParams: boolean): Code => {
  const pointers = withParams ? 8 : 7
  const f = new Code([...new Array<'i32'>(pointers).fill('i32'), ...new Array<'f64'>(8).fill('f64')], [])
  const all = params(f, pointers + 8)
  const [g, m, v, mu, nu, update] = all as [Param, Param, Param, Param, Param, Param]
  const p = withParams ? all[6] : undefined
  const pairs = all[pointers - 1]!
  const [b1, c1, b2, c2, mHat, vHat, epsRoot, eps] = all.slice(pointers).map((scalar) => {
    const splat = f.local('v128')
    f.get(scalar).f64x2Splat().set(splat)
    return splat
  }) as [Local, Local, Local, Local, Local, Local, Local, Local]
  const gs = f.local('v128')
  const rounded = f.local('v128')
  const mus = f.local('v128')
  eachStep(f, pairs, p === undefined ? [g, m, v, mu, nu, update] : [g, m, v, mu, nu, update, p], 8, () => {
    loadPair(f, g)
    f.set(gs)
    // mu = b1·m + c1·g, stored rounded; its rounded value goes on.
    f.get(b1)
    loadPair(f, m)
    f.f64x2Mul().get(c1).get(gs).f64x2Mul().f64x2Add().f32x4DemoteF64x2Zero().set(rounded)
    f.get(mu).get(rounded).v128Store64Lane0()
    f.get(rounded).f64x2PromoteLowF32x4().set(mus)
    // nu = b2·v + (c2·g)·g, likewise.
    f.get(b2)
    loadPair(f, v)
    f.f64x2Mul().get(c2).get(gs).f64x2Mul().get(gs).f64x2Mul().f64x2Add().f32x4DemoteF64x2Zero().set(rounded)
    f.get(nu).get(rounded).v128Store64Lane0()
    // update = (mHat·mu) / (√(vHat·nu + epsRoot) + eps), or p + that.
    f.get(update)
    if (p !== undefined) loadPair(f, p)
    f.get(mHat).get(mus).f64x2Mul()
    f.get(vHat).get(rounded).f64x2PromoteLowF32x4().f64x2Mul().get(epsRoot).f64x2Add().f64x2Sqrt()
    f.get(eps).f64x2Add().f64x2Div()
    if (p !== undefined) f.f64x2Add()
    f.f32x4DemoteF64x2Zero().v128Store64Lane0()
  })
  return f
}

interface FusedExports {
  readonly memory: WebAssembly.Memory
  readonly reluGrad: (ct: number, y: number, out: number, vectors: number) => void
  readonly axpy: (x: number, y: number, out: number, pairs: number, alpha: number) => void
  readonly adam: (...args: number[]) => void
  readonly adamApply: (...args: number[]) => void
}

let instance: FusedExports | undefined

const fused = (): FusedExports => {
  if (instance !== undefined) return instance
  const bytes = encodeModule(
    [
      { name: 'reluGrad', code: reluGradKernel() },
      { name: 'axpy', code: axpyKernel() },
      { name: 'adam', code: adamKernel(false) },
      { name: 'adamApply', code: adamKernel(true) },
    ],
    1,
  )
  // why: the module above exports exactly these functions and its memory
  instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as FusedExports
  return instance
}

/**
 * Byte addresses of `count` float32 arrays of `n` elements each (16-byte aligned, with room for the
 * whole last vector), the memory grown to fit, and a fresh view of it.
 */
const layout = (count: number, n: number): { readonly heap: Float32Array; readonly at: number[] } => {
  const { memory } = fused()
  const stride = Math.ceil((n * FLOAT_BYTES) / 16) * 16 + 16
  growTo(memory, count * stride)
  return { heap: new Float32Array(memory.buffer), at: Array.from({ length: count }, (_, i) => i * stride) }
}

/** A copy of `n` floats at byte address `at` (one allocation, no zero-fill). */
const copyOut = (heap: Float32Array, at: number, n: number): Float32Array =>
  heap.slice(at >> 2, (at >> 2) + n)

const useWasm = (...xs: ReadonlyArray<Tensor>): boolean =>
  xs[0]!.dtype === 'float32' && xs[0]!.data.length >= MIN_ELEMENTS

/** `Backend.reluGrad` of the wasm backend. @since 0.1.0 */
export const reluGrad = (ct: Tensor, y: Tensor): Tensor => {
  if (!useWasm(ct, y)) return referenceReluGrad(ct, y)
  return orFallback(
    () => wasmReluGrad(ct, y),
    () => referenceReluGrad(ct, y),
  )
}

const wasmReluGrad = (ct: Tensor, y: Tensor): Tensor => {
  const n = ct.data.length
  const { heap, at } = layout(3, n)
  heap.set(ct.data, at[0]! >> 2)
  heap.set(y.data, at[1]! >> 2)
  fused().reluGrad(at[0]!, at[1]!, at[2]!, Math.ceil(n / 4))
  return unsafeTensor('float32', ct.shape, copyOut(heap, at[2]!, n))
}

/** `Backend.axpy` of the wasm backend. @since 0.1.0 */
export const axpy = (alpha: number, x: Tensor, y: Tensor): Tensor => {
  if (!useWasm(x, y)) return referenceAxpy(alpha, x, y)
  return orFallback(
    () => wasmAxpy(alpha, x, y),
    () => referenceAxpy(alpha, x, y),
  )
}

const wasmAxpy = (alpha: number, x: Tensor, y: Tensor): Tensor => {
  const n = x.data.length
  const { heap, at } = layout(3, n)
  heap.set(x.data, at[0]! >> 2)
  heap.set(y.data, at[1]! >> 2)
  fused().axpy(at[0]!, at[1]!, at[2]!, Math.ceil(n / 2), alpha)
  return unsafeTensor('float32', x.shape, copyOut(heap, at[2]!, n))
}

/** `Backend.adamUpdate` of the wasm backend. @since 0.1.0 */
export const adamUpdate = (
  g: Tensor,
  m: Tensor,
  v: Tensor,
  hyper: AdamHyperparameters,
  p?: Tensor,
): readonly [Tensor, Tensor, Tensor] => {
  if (!useWasm(g, m, v)) return referenceAdamUpdate(g, m, v, hyper, p)
  return orFallback(
    () => wasmAdamUpdate(g, m, v, hyper, p),
    () => referenceAdamUpdate(g, m, v, hyper, p),
  )
}

const wasmAdamUpdate = (
  g: Tensor,
  m: Tensor,
  v: Tensor,
  hyper: AdamHyperparameters,
  p: Tensor | undefined,
): readonly [Tensor, Tensor, Tensor] => {
  const { b1, b2, eps, epsRoot, muCorrection, nuCorrection, scale = 1 } = hyper
  const n = g.data.length
  const { heap, at } = layout(p === undefined ? 6 : 7, n)
  heap.set(g.data, at[0]! >> 2)
  heap.set(m.data, at[1]! >> 2)
  heap.set(v.data, at[2]! >> 2)
  if (p !== undefined) heap.set(p.data, at[6]! >> 2)
  // The same float64 constants as the reference loop computes.
  const constants = [b1, 1 - b1, b2, 1 - b2, scale / muCorrection, 1 / nuCorrection, epsRoot, eps]
  const kernels = fused()
  if (p === undefined) kernels.adam(...at, Math.ceil(n / 2), ...constants)
  else kernels.adamApply(...at, Math.ceil(n / 2), ...constants)
  const out = (i: number): Tensor => unsafeTensor('float32', g.shape, copyOut(heap, at[i]!, n))
  return [out(3), out(4), out(5)]
}
