// A float32 tensor whose values stay in the resident region (resident.ts) after a compiled graph
// wrote them there: nothing is copied out unless its data is read. The region's owner keeps track of
// the ones it handed out and calls `evacuate` before their bytes are overwritten or moved (the next
// run writing that buffer, another claimer, more worker scratch, a new wasm memory), so `data` is
// always the values the graph computed. A donated one (`donateTensor`) is never copied out.
import { TraceError } from '../../errors'
import { donatedKey, invalidateKey } from '../../donation'
import { abstractValue, type Tensor } from '../../tensor'
import type { Shape } from '../../shape'

/**
 * A tensor left in wasm memory by a compiled graph (`wasmResident.regionTensor`): `data` copies its
 * values out on first read; `evacuate` does so before the region's bytes change. A user never makes
 * one: jitted functions return them on the WebAssembly backend, and they behave as any tensor.
 * @example
 * import { RegionTensor, random, type Tensor } from '@backfold/tensor'
 * import { jit, matmul, relu } from '@backfold/ops'
 * const a = random.normal(random.key(0), [4, 3])
 * const b = random.normal(random.key(1), [3, 2])
 * const f = jit((a: Tensor, b: Tensor) => relu(matmul(a, b)))
 * const y = f(a, b) // a RegionTensor on the WebAssembly backend
 * y instanceof RegionTensor && y.inRegion // true: nothing copied out yet
 * y.data // copies the values out once
 * @since 0.2.0
 */
export class RegionTensor implements Tensor {
  readonly dtype = 'float32' as const
  readonly shape: Shape
  /**
   * Its values: copied out of the region on the first read, then kept; throws once donated. An own
   * enumerable property (not a prototype getter), so that `structuredClone`/`postMessage` and
   * structural comparisons see a plain tensor `{ dtype, shape, data }`.
   */
  declare readonly data: Float32Array
  readonly #at: number
  readonly #size: number
  readonly #read: (at: number, size: number) => Float32Array
  #values: Float32Array | undefined
  #invalid: string | undefined
  /** `read(at, size)` copies the `size` floats at byte address `at` out of the region as they are now. */
  constructor(shape: Shape, at: number, size: number, read: (at: number, size: number) => Float32Array) {
    if (!keyed) RegionTensor.#key()
    this.shape = shape
    Object.defineProperty(this, 'data', DATA)
    this.#at = at
    this.#size = size
    this.#read = read
  }

  /** The byte address of its values in the region. */
  get at(): number {
    return this.#at
  }

  /** `data`'s getter (see DATA). @internal */
  values(): Float32Array {
    if (this.#invalid !== undefined)
      throw new TraceError('tensor', `its data cannot be read: ${this.#invalid}`)
    return (this.#values ??= this.#read(this.#at, this.#size))
  }

  /** Whether its values are still only in the region (not copied out, not invalidated). */
  get inRegion(): boolean {
    return this.#values === undefined && this.#invalid === undefined
  }

  /** Copies its values out now, unless done or invalidated: the region's bytes are about to change. */
  evacuate(): number {
    if (!this.inRegion) return 0
    this.#values = this.#read(this.#at, this.#size)
    return 4 * this.#size
  }

  // The symbol-keyed members below are declared here and defined on the prototype by the first
  // construction (#key), not written as computed members: a bundler cannot tell that a computed key
  // read from a variable has no side effect, so it would keep this class in every bundle of
  // @backfold/tensor, even one that never runs a compiled graph. Behaviour is that of class members
  // (non-enumerable prototype accessors and method); no instance exists before the first construction.
  /** Why it may no longer be used, once donated: the brand kernels refuse (see `abstractValue`). */
  declare readonly [abstractValue]: string | undefined
  /** Why it may no longer be used, once donated (see `donationOf`). */
  declare readonly [donatedKey]: string | undefined
  /** Invalidates it (see `donateTensor`): its values are never copied out, and reading them throws `why`. */
  declare readonly [invalidateKey]: (why: string) => void

  /** Defines the symbol-keyed members on the prototype, once. */
  static #key(): void {
    keyed = true
    Object.defineProperties(RegionTensor.prototype, {
      [abstractValue]: {
        get(this: RegionTensor): string | undefined {
          return this.#invalid
        },
        configurable: true,
      },
      [donatedKey]: {
        get(this: RegionTensor): string | undefined {
          return this.#invalid
        },
        configurable: true,
      },
      [invalidateKey]: {
        value(this: RegionTensor, why: string): void {
          this.#invalid = why
          this.#values = undefined
        },
        writable: true,
        configurable: true,
      },
    })
  }
}

/** Whether `RegionTensor.#key` has run. */
let keyed = false

// One descriptor for every instance's own `data` accessor.
const DATA: PropertyDescriptor = {
  get(this: RegionTensor): Float32Array {
    return this.values()
  },
  enumerable: true,
}
