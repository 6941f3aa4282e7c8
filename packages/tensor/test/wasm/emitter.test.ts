import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { Code, encodeModule, signedLeb, unsignedLeb } from '../../src/backends/wasm/emitter'

// The binary emitter on its own: LEB128 against hand-decoded values, and tiny modules run by the engine.

const decodeUnsigned = (bytes: ReadonlyArray<number>): number => {
  let value = 0
  for (let i = bytes.length - 1; i >= 0; i--) value = value * 128 + (bytes[i]! & 0x7f)
  return value
}

const decodeSigned = (bytes: ReadonlyArray<number>): number => {
  const unsigned = decodeUnsigned(bytes)
  const bits = 7 * bytes.length
  return unsigned >= 2 ** (bits - 1) ? unsigned - 2 ** bits : unsigned
}

describe('LEB128', () => {
  it('encodes known values as the spec examples do', () => {
    expect(unsignedLeb(0)).toEqual([0])
    expect(unsignedLeb(127)).toEqual([0x7f])
    expect(unsignedLeb(228)).toEqual([0xe4, 0x01])
    expect(unsignedLeb(624485)).toEqual([0xe5, 0x8e, 0x26])
    expect(signedLeb(-1)).toEqual([0x7f])
    expect(signedLeb(63)).toEqual([0x3f])
    expect(signedLeb(64)).toEqual([0xc0, 0x00])
    expect(signedLeb(-123456)).toEqual([0xc0, 0xbb, 0x78])
  })

  it('round-trips every 32-bit value (property), setting the continuation bit on all but the last byte', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        (u, s) => {
          const ub = unsignedLeb(u)
          const sb = signedLeb(s)
          expect(decodeUnsigned(ub)).toBe(u)
          expect(decodeSigned(sb)).toBe(s)
          for (const bytes of [ub, sb]) {
            bytes.forEach((byte, i) => expect(byte >= 0x80).toBe(i < bytes.length - 1))
          }
        },
      ),
    )
  })
})

describe('encodeModule', () => {
  it('builds a module the engine runs: a SIMD dot product of two 4-vectors in memory', () => {
    // dot(p, q) = Σ (p[0..4] * q[0..4]), through f32x4.mul and lane extraction.
    const f = new Code(['i32', 'i32'], ['f32'])
    const product = f.local('v128')
    f.get(f.param(0)).v128Load().get(f.param(1)).v128Load().f32x4Mul().set(product)
    f.get(product).f32x4ExtractLane(0).get(product).f32x4ExtractLane(1).f32Add()
    f.get(product).f32x4ExtractLane(2).f32Add().get(product).f32x4ExtractLane(3).f32Add()
    const bytes = encodeModule([{ name: 'dot', code: f }], 1)
    expect(WebAssembly.validate(bytes)).toBe(true)
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {})
    const memory = exports['memory']
    const dot = exports['dot']
    if (!(memory instanceof WebAssembly.Memory) || typeof dot !== 'function')
      throw new Error('missing exports')
    new Float32Array(memory.buffer).set([1, 2, 3, 4, 5, 6, 7, 8])
    expect(dot(0, 16)).toBe(1 * 5 + 2 * 6 + 3 * 7 + 4 * 8)
  })

  it('encodes loops and branches: a counted loop summing 0..n-1', () => {
    const f = new Code(['i32'], ['i32'])
    const n = f.param(0)
    const i = f.local('i32')
    const sum = f.local('i32')
    f.block((exit) =>
      exit.loop((again) => {
        again.get(i).get(n).i32GeS().brIf(1)
        again.get(sum).get(i).i32Add().set(sum)
        again.get(i).i32Const(1).i32Add().set(i).br(0)
      }),
    )
    f.get(sum)
    const { exports } = new WebAssembly.Instance(
      new WebAssembly.Module(encodeModule([{ name: 'triangle', code: f }], 0)),
      {},
    )
    const triangle = exports['triangle']
    if (typeof triangle !== 'function') throw new Error('missing export')
    expect(triangle(100)).toBe(4950)
    expect(triangle(0)).toBe(0)
  })
})
