/**
 * A minimal protobuf wire-format writer: what encoding ONNX models needs (varints, fixed32 floats,
 * length-delimited bytes, strings, nested messages and packed repeated scalars), and nothing for
 * decoding. Written bytes match protobufjs's writer for the same calls. Shared by the ONNX executor of `jit` and `@backfold/nn`'s exporter (through `@backfold/ops/onnx`).
 */

/** Protobuf wire types. */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const
export type WireType = (typeof WireType)[keyof typeof WireType]

const utf8 = new TextEncoder()

/** Bytes of the varint encoding of a non-negative safe integer. */
const varintSize = (n: number): number => {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    size++
  }
  return size
}

/**
 * Appends protobuf fields to one growing buffer. A nested message is written in place and its
 * length prefix inserted afterwards (shifting the body by the prefix's few bytes), so no message is
 * encoded twice or assembled from copies of its children.
 */
export class ProtoWriter {
  private buf: Uint8Array
  private view: DataView
  private pos = 0

  constructor(initialCapacity = 1024) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity))
    this.view = new DataView(this.buf.buffer)
  }

  private reserve(extra: number): void {
    const need = this.pos + extra
    if (need <= this.buf.length) return
    const grown = new Uint8Array(Math.max(need, this.buf.length * 2))
    grown.set(this.buf.subarray(0, this.pos))
    this.buf = grown
    this.view = new DataView(grown.buffer)
  }

  /**
   * A varint of an integer: non-negative ones take 1-8 bytes; negative ones, as int32/int64 fields
   * store them, are 64-bit two's complement and take 10 bytes.
   */
  varint(n: number): this {
    if (!Number.isSafeInteger(n)) throw new RangeError(`protobuf varint: ${n} is not a safe integer`)
    if (n < 0) return this.varint64(BigInt.asUintN(64, BigInt(n)))
    this.reserve(varintSize(n))
    // Division, not bit operations: those truncate to 32 bits.
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    this.buf[this.pos++] = n
    return this
  }

  private varint64(n: bigint): this {
    this.reserve(10)
    while (n >= 0x80n) {
      this.buf[this.pos++] = Number(n & 0x7fn) | 0x80
      n >>= 7n
    }
    this.buf[this.pos++] = Number(n)
    return this
  }

  /** A field key: field number and wire type. */
  tag(field: number, wireType: WireType): this {
    return this.varint(field * 8 + wireType)
  }

  /** A little-endian IEEE float32 (values round to the nearest float32). */
  float(f: number): this {
    this.reserve(4)
    this.view.setFloat32(this.pos, f, true)
    this.pos += 4
    return this
  }

  /** Length-prefixed raw bytes. */
  bytes(data: Uint8Array): this {
    this.varint(data.length)
    this.reserve(data.length)
    this.buf.set(data, this.pos)
    this.pos += data.length
    return this
  }

  /** A length-prefixed UTF-8 string (lone surrogates become U+FFFD, as `TextEncoder` writes them). */
  string(s: string): this {
    return this.bytes(utf8.encode(s))
  }

  /** Writes a length-delimited body with `body`, then prefixes its length. */
  delimited(body: (w: this) => void): this {
    const start = this.pos
    body(this)
    const length = this.pos - start
    const prefix = varintSize(length)
    this.reserve(prefix)
    this.buf.copyWithin(start + prefix, start, this.pos)
    const end = this.pos + prefix
    this.pos = start
    this.varint(length)
    this.pos = end
    return this
  }

  /** The bytes written so far (a copy the writer no longer touches). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }

  // Field helpers. Presence as generated encoders of onnx.proto write it, so the bytes match theirs:
  // a singular field when defined (even holding its default, such as ''), a repeated one when non-empty.

  /** An int32/int64/enum field (varint). */
  int64Field(field: number, value: number | undefined): this {
    return value === undefined ? this : this.tag(field, WireType.VARINT).varint(value)
  }

  /** A float field (fixed32). */
  floatField(field: number, value: number | undefined): this {
    return value === undefined ? this : this.tag(field, WireType.I32).float(value)
  }

  /** A string field. */
  stringField(field: number, value: string | undefined): this {
    return value === undefined ? this : this.tag(field, WireType.LEN).string(value)
  }

  /** A bytes field. */
  bytesField(field: number, value: Uint8Array | undefined): this {
    return value === undefined ? this : this.tag(field, WireType.LEN).bytes(value)
  }

  /** A repeated string field: one key-value pair per element. */
  repeatedStringField(field: number, values: ReadonlyArray<string> | undefined): this {
    for (const s of values ?? []) this.tag(field, WireType.LEN).string(s)
    return this
  }

  /** A packed repeated int32/int64 field. */
  packedInt64Field(field: number, values: ReadonlyArray<number> | undefined): this {
    if (values === undefined || values.length === 0) return this
    return this.tag(field, WireType.LEN).delimited((w) => {
      for (const v of values) w.varint(v)
    })
  }

  /** A packed repeated float field. */
  packedFloatField(field: number, values: ReadonlyArray<number> | undefined): this {
    if (values === undefined || values.length === 0) return this
    return this.tag(field, WireType.LEN).delimited((w) => {
      for (const v of values) w.float(v)
    })
  }

  /** A nested message field, its body written by `encode`. */
  messageField<M>(field: number, value: M | undefined, encode: (w: ProtoWriter, m: M) => void): this {
    return value === undefined ? this : this.tag(field, WireType.LEN).delimited((w) => encode(w, value))
  }

  /** A repeated message field: one length-delimited body per element. */
  repeatedMessageField<M>(
    field: number,
    values: ReadonlyArray<M> | undefined,
    encode: (w: ProtoWriter, m: M) => void,
  ): this {
    for (const m of values ?? []) this.messageField(field, m, encode)
    return this
  }
}
