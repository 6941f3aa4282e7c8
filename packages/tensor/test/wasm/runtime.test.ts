import { describe, it, expect } from 'vitest'
import { ArenaExhausted, arena, orFallback, wasmAvailable } from '../../src/backends/wasm/runtime'

describe('wasm runtime', () => {
  it('detects SIMD support on this engine', () => {
    expect(wasmAvailable()).toBe(true)
  })

  it('grows memory to fit a request and refuses one beyond 4 GiB with ArenaExhausted', () => {
    const { heap, base } = arena(1 << 20)
    expect(heap.length).toBeGreaterThanOrEqual((base >> 2) + (1 << 20))
    expect(() => arena(2 ** 30)).toThrow(ArenaExhausted)
  })

  it('falls back only when memory is exhausted; other errors propagate', () => {
    expect(
      orFallback(
        () => {
          throw new ArenaExhausted(1)
        },
        () => 'reference',
      ),
    ).toBe('reference')
    expect(() =>
      orFallback(
        () => {
          throw new TypeError('a bug')
        },
        () => 'reference',
      ),
    ).toThrow(TypeError)
    expect(
      orFallback(
        () => 'wasm',
        () => 'reference',
      ),
    ).toBe('wasm')
  })
})
