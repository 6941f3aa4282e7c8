// A minimal WebAssembly binary emitter: just enough of the MVP format (types, functions, one
// memory, exports, code) and of the fixed-width SIMD proposal to write the kernels in kernels.ts
// from TypeScript, so the package ships no prebuilt .wasm and needs no toolchain.
// Reference: https://webassembly.github.io/spec/core/binary/ and the SIMD proposal's opcode table.

/** A WebAssembly value type. */
export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128'

const VAL_TYPE_CODE: Readonly<Record<ValType, number>> = {
  i32: 0x7f,
  i64: 0x7e,
  f32: 0x7d,
  f64: 0x7c,
  v128: 0x7b,
}

/** Unsigned LEB128 (sizes, indices, opcodes after a prefix). */
export const unsignedLeb = (value: number): number[] => {
  const bytes: number[] = []
  let rest = value >>> 0
  do {
    let byte = rest & 0x7f
    rest >>>= 7
    if (rest !== 0) byte |= 0x80
    bytes.push(byte)
  } while (rest !== 0)
  return bytes
}

/** Signed LEB128 (i32.const immediates). */
export const signedLeb = (value: number): number[] => {
  const bytes: number[] = []
  let rest = value | 0
  for (;;) {
    const byte = rest & 0x7f
    rest >>= 7
    const done = (rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0)
    bytes.push(done ? byte : byte | 0x80)
    if (done) return bytes
  }
}

const utf8 = (text: string): number[] => [...new TextEncoder().encode(text)]

/** A length-prefixed vector of already-encoded items. */
const vector = (items: ReadonlyArray<ReadonlyArray<number>>): number[] => [
  ...unsignedLeb(items.length),
  ...items.flat(),
]

const section = (id: number, content: ReadonlyArray<number>): number[] => [
  id,
  ...unsignedLeb(content.length),
  ...content,
]

/** A local variable (or parameter) of a function under construction: its index and type. */
export interface Local {
  readonly index: number
  readonly type: ValType
}

/**
 * The instruction stream of one function body. Each method appends one instruction (stack
 * machine order: operands first) and returns `this`, so code reads as a chain.
 */
export class Code {
  readonly bytes: number[] = []
  private readonly extraLocals: ValType[] = []

  constructor(
    /** Parameters occupy the first local indices. */
    readonly params: ReadonlyArray<ValType>,
    readonly results: ReadonlyArray<ValType>,
  ) {}

  /** The `i`-th parameter as a local. */
  param(i: number): Local {
    const type = this.params[i]
    if (type === undefined) throw new RangeError(`no parameter ${i}`)
    return { index: i, type }
  }

  /** Declares a fresh local. */
  local(type: ValType): Local {
    this.extraLocals.push(type)
    return { index: this.params.length + this.extraLocals.length - 1, type }
  }

  /** The local declarations of the body (one group per local; compact enough for small kernels). */
  localDeclarations(): number[] {
    return vector(this.extraLocals.map((type) => [1, VAL_TYPE_CODE[type]]))
  }

  private op(...bytes: number[]): this {
    for (const byte of bytes) this.bytes.push(byte)
    return this
  }

  private simd(opcode: number, ...immediates: number[]): this {
    return this.op(0xfd, ...unsignedLeb(opcode), ...immediates)
  }

  // Memory immediates: alignment hint (log2 bytes) and a constant byte offset.
  private memarg(alignLog2: number, offset: number): number[] {
    return [...unsignedLeb(alignLog2), ...unsignedLeb(offset)]
  }

  // Control. Blocks are written with a body callback so nesting is visible in the generator.
  block(body: (code: this) => void): this {
    this.op(0x02, 0x40)
    body(this)
    return this.op(0x0b)
  }
  loop(body: (code: this) => void): this {
    this.op(0x03, 0x40)
    body(this)
    return this.op(0x0b)
  }
  /** Pops an i32 condition; runs `then` when it is nonzero, else `otherwise`. */
  ifElse(then: (code: this) => void, otherwise?: (code: this) => void): this {
    this.op(0x04, 0x40)
    then(this)
    if (otherwise !== undefined) {
      this.op(0x05)
      otherwise(this)
    }
    return this.op(0x0b)
  }
  br(depth: number): this {
    return this.op(0x0c, ...unsignedLeb(depth))
  }
  brIf(depth: number): this {
    return this.op(0x0d, ...unsignedLeb(depth))
  }
  return(): this {
    return this.op(0x0f)
  }
  call(functionIndex: number): this {
    return this.op(0x10, ...unsignedLeb(functionIndex))
  }
  drop(): this {
    return this.op(0x1a)
  }
  select(): this {
    return this.op(0x1b)
  }

  // Locals.
  get(local: Local): this {
    return this.op(0x20, ...unsignedLeb(local.index))
  }
  set(local: Local): this {
    return this.op(0x21, ...unsignedLeb(local.index))
  }
  tee(local: Local): this {
    return this.op(0x22, ...unsignedLeb(local.index))
  }

  // Scalar memory.
  i32Load(offset = 0): this {
    return this.op(0x28, ...this.memarg(2, offset))
  }
  f32Load(offset = 0): this {
    return this.op(0x2a, ...this.memarg(2, offset))
  }
  f32Store(offset = 0): this {
    return this.op(0x38, ...this.memarg(2, offset))
  }
  /** Bulk memory `memory.fill(dest, byte, size)`. */
  memoryFill(): this {
    return this.op(0xfc, ...unsignedLeb(11), 0x00)
  }

  // Scalar arithmetic.
  i32Const(value: number): this {
    return this.op(0x41, ...signedLeb(value))
  }
  f32Const(value: number): this {
    const bytes = new Uint8Array(Float32Array.of(value).buffer)
    return this.op(0x43, ...bytes)
  }
  i32Eqz(): this {
    return this.op(0x45)
  }
  i32Eq(): this {
    return this.op(0x46)
  }
  i32Ne(): this {
    return this.op(0x47)
  }
  i32LtS(): this {
    return this.op(0x48)
  }
  i32LtU(): this {
    return this.op(0x49)
  }
  i32GtS(): this {
    return this.op(0x4a)
  }
  i32LeS(): this {
    return this.op(0x4c)
  }
  i32GeS(): this {
    return this.op(0x4e)
  }
  i32Add(): this {
    return this.op(0x6a)
  }
  i32Sub(): this {
    return this.op(0x6b)
  }
  i32Mul(): this {
    return this.op(0x6c)
  }
  i32DivS(): this {
    return this.op(0x6d)
  }
  i32Or(): this {
    return this.op(0x72)
  }
  i32And(): this {
    return this.op(0x71)
  }
  i32Shl(): this {
    return this.op(0x74)
  }
  i32ShrU(): this {
    return this.op(0x76)
  }
  f32Add(): this {
    return this.op(0x92)
  }
  f32Mul(): this {
    return this.op(0x94)
  }
  f32Max(): this {
    return this.op(0x97)
  }

  // SIMD (prefix 0xFD, LEB128 sub-opcode).
  v128Load(offset = 0): this {
    return this.simd(0x00, ...this.memarg(4, offset))
  }
  /** Loads one f32 (as 32 bits) and splats it to all four lanes. */
  v128Load32Splat(offset = 0): this {
    return this.simd(0x09, ...this.memarg(2, offset))
  }
  v128Store(offset = 0): this {
    return this.simd(0x0b, ...this.memarg(4, offset))
  }
  v128Const(bytes: ReadonlyArray<number>): this {
    if (bytes.length !== 16) throw new RangeError('v128.const needs 16 bytes')
    return this.simd(0x0c, ...bytes)
  }
  /** Lanes of two v128 (bytes 0–15 of the first, 16–31 of the second) picked by 16 constant byte indices. */
  i8x16Shuffle(lanes: ReadonlyArray<number>): this {
    if (lanes.length !== 16 || lanes.some((l) => !Number.isInteger(l) || l < 0 || l > 31)) {
      throw new RangeError('i8x16.shuffle needs 16 byte indices in 0..31')
    }
    return this.simd(0x0d, ...lanes)
  }
  v128Zero(): this {
    return this.v128Const(new Array<number>(16).fill(0))
  }
  f32x4Splat(): this {
    return this.simd(0x13)
  }
  f32x4ExtractLane(lane: number): this {
    return this.simd(0x1f, lane)
  }
  f32x4Add(): this {
    return this.simd(0xe4)
  }
  f32x4Sub(): this {
    return this.simd(0xe5)
  }
  f32x4Mul(): this {
    return this.simd(0xe6)
  }
  f32x4Abs(): this {
    return this.simd(0xe0)
  }
  f32x4Neg(): this {
    return this.simd(0xe1)
  }
  f32x4Sqrt(): this {
    return this.simd(0xe3)
  }
  f32x4Div(): this {
    return this.simd(0xe7)
  }
  /** NaN if either lane is NaN, and -0 below +0 (as `f64x2Min`). */
  f32x4Min(): this {
    return this.simd(0xe8)
  }
  f32x4Max(): this {
    return this.simd(0xe9)
  }

  // Mixed-precision SIMD for the fused elementwise kernels (fused.ts): float32 data, float64 arithmetic.
  /** Loads 8 bytes (two f32) into the low half of a v128, zeroing the rest. */
  v128Load64Zero(offset = 0): this {
    return this.simd(0x5d, ...this.memarg(3, offset))
  }
  /** Stores the low 8 bytes (lane 0 of i64x2) of a v128. */
  v128Store64Lane0(offset = 0): this {
    return this.simd(0x5b, ...this.memarg(3, offset), 0)
  }
  v128And(): this {
    return this.simd(0x4e)
  }
  f32x4Gt(): this {
    return this.simd(0x44)
  }
  /** The two low f32 lanes, widened exactly to f64x2. */
  f64x2PromoteLowF32x4(): this {
    return this.simd(0x5f)
  }
  /** Both f64 lanes rounded (to nearest, ties to even) into the two low f32 lanes; high lanes zero. */
  f32x4DemoteF64x2Zero(): this {
    return this.simd(0x5e)
  }
  f64x2Splat(): this {
    return this.simd(0x14)
  }
  f64x2Sqrt(): this {
    return this.simd(0xef)
  }
  f64x2Add(): this {
    return this.simd(0xf0)
  }
  f64x2Sub(): this {
    return this.simd(0xf1)
  }
  /** NaN if either lane is NaN, and -0 below +0: `Math.min`'s rule. */
  f64x2Min(): this {
    return this.simd(0xf4)
  }
  /** NaN if either lane is NaN, and +0 above -0: `Math.max`'s rule. */
  f64x2Max(): this {
    return this.simd(0xf5)
  }
  f64x2Abs(): this {
    return this.simd(0xec)
  }
  f64x2Neg(): this {
    return this.simd(0xed)
  }
  f64x2Mul(): this {
    return this.simd(0xf2)
  }
  f64x2Div(): this {
    return this.simd(0xf3)
  }

  // Lane masks, rounding and integer bit work for the float64 math of generated programs (math.ts).
  v128Or(): this {
    return this.simd(0x50)
  }
  /** `(a & mask) | (b & ~mask)` with operands pushed a, b, mask. */
  v128Bitselect(): this {
    return this.simd(0x52)
  }
  /** All-ones lanes where a == b (a NaN compares unequal to everything). */
  f64x2Eq(): this {
    return this.simd(0x47)
  }
  f64x2Lt(): this {
    return this.simd(0x49)
  }
  f64x2Gt(): this {
    return this.simd(0x4a)
  }
  f64x2Ge(): this {
    return this.simd(0x4c)
  }
  f64x2Ceil(): this {
    return this.simd(0x74)
  }
  f64x2Floor(): this {
    return this.simd(0x75)
  }
  /** Round to the nearest integer, ties to even. */
  f64x2Nearest(): this {
    return this.simd(0x94)
  }
  /** Shift each 64-bit lane left by an i32 count (popped last). */
  i64x2Shl(): this {
    return this.simd(0xcb)
  }
  i64x2ShrU(): this {
    return this.simd(0xcd)
  }
  i64x2ShrS(): this {
    return this.simd(0xcc)
  }
  v128Xor(): this {
    return this.simd(0x51)
  }
  /** 1 when any bit of the v128 is set, else 0 (an i32). */
  v128AnyTrue(): this {
    return this.simd(0x53)
  }
  i64x2Add(): this {
    return this.simd(0xce)
  }
  f64x2ExtractLane(lane: number): this {
    return this.simd(0x21, lane)
  }
  // Scalar float64, for the per-row results of reduction programs (reduction.ts).
  f64Add(): this {
    return this.op(0xa0)
  }
  /** NaN if either operand is NaN. */
  f64Min(): this {
    return this.op(0xa4)
  }
  /** NaN if either operand is NaN. */
  f64Max(): this {
    return this.op(0xa5)
  }
  f64Mul(): this {
    return this.op(0xa2)
  }
  f64Div(): this {
    return this.op(0xa3)
  }
  f64ConvertI32U(): this {
    return this.op(0xb8)
  }
  f64PromoteF32(): this {
    return this.op(0xbb)
  }
  f32DemoteF64(): this {
    return this.op(0xb6)
  }

  /** The encoded body: local declarations, instructions, `end`. */
  encode(): number[] {
    const body = [...this.localDeclarations(), ...this.bytes, 0x0b]
    return [...unsignedLeb(body.length), ...body]
  }
}

/** One function of a module: its exported name (if any) and its code. */
export interface FunctionDefinition {
  readonly name: string | undefined
  readonly code: Code
}

/**
 * Encodes a module of `functions` (indices in array order, so `call(i)` targets `functions[i]`)
 * with one memory of `initialPages` 64 KiB pages, exported as `memory`. With `importMemory` the
 * memory is not defined but imported as `env.memory` (unshared, at least `initialPages`), so many
 * small modules can work in one memory.
 */
export const encodeModule = (
  functions: ReadonlyArray<FunctionDefinition>,
  initialPages: number,
  importMemory = false,
): Uint8Array<ArrayBuffer> => {
  const signature = (code: Code): number[] => [
    0x60,
    ...vector(code.params.map((t) => [VAL_TYPE_CODE[t]])),
    ...vector(code.results.map((t) => [VAL_TYPE_CODE[t]])),
  ]
  const types = vector(functions.map((f) => signature(f.code)))
  const functionTypes = vector(functions.map((_, i) => unsignedLeb(i)))
  const memory = vector([[0x00, ...unsignedLeb(initialPages)]])
  const name = (text: string): number[] => {
    const bytes = utf8(text)
    return [...unsignedLeb(bytes.length), ...bytes]
  }
  const imports = vector([[...name('env'), ...name('memory'), 0x02, 0x00, ...unsignedLeb(initialPages)]])
  const exports = vector([
    [...unsignedLeb(6), ...utf8('memory'), 0x02, 0x00],
    ...functions.flatMap((f, i) => {
      if (f.name === undefined) return []
      const name = utf8(f.name)
      return [[...unsignedLeb(name.length), ...name, 0x00, ...unsignedLeb(i)]]
    }),
  ])
  const code = vector(functions.map((f) => f.code.encode()))
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, types),
    ...(importMemory ? section(2, imports) : []),
    ...section(3, functionTypes),
    ...(importMemory ? [] : section(5, memory)),
    ...section(7, exports),
    ...section(10, code),
  ])
}
