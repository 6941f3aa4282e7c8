import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import { dataError } from './error'
import type { DataError } from './error'
import { option, optionSchema } from '@backfold/ops'
import type { OptionSchema } from '@backfold/ops'
import { checkDataOptions } from './options'

/** Options of `parseIdx`. @since 0.1.0 */
export interface IdxOptions {
  /** Named in every error message (usually the file name). */
  readonly source: string
}

const IDX_OPTIONS: OptionSchema = optionSchema({ source: option.required(option.string) })

interface IdxType {
  readonly name: string
  readonly bytes: number
  readonly dtype: DType
}

const IDX_TYPES: Readonly<Record<number, IdxType>> = {
  0x08: { name: 'unsigned byte', bytes: 1, dtype: 'int32' },
  0x09: { name: 'signed byte', bytes: 1, dtype: 'int32' },
  0x0b: { name: 'short', bytes: 2, dtype: 'int32' },
  0x0c: { name: 'int', bytes: 4, dtype: 'int32' },
  0x0d: { name: 'float', bytes: 4, dtype: 'float32' },
  0x0e: { name: 'double', bytes: 8, dtype: 'float64' },
}

/** Decodes the values into `out`; IDX is big-endian, which DataView reads the same on every platform. */
const readValues = (typeByte: number, view: DataView, start: number, out: T.TypedArray): void => {
  const count = out.length
  switch (typeByte) {
    case 0x08:
      for (let i = 0; i < count; i++) out[i] = view.getUint8(start + i)
      return
    case 0x09:
      for (let i = 0; i < count; i++) out[i] = view.getInt8(start + i)
      return
    case 0x0b:
      for (let i = 0; i < count; i++) out[i] = view.getInt16(start + 2 * i, false)
      return
    case 0x0c:
      for (let i = 0; i < count; i++) out[i] = view.getInt32(start + 4 * i, false)
      return
    case 0x0d:
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(start + 4 * i, false)
      return
    default:
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(start + 8 * i, false)
  }
}

const hex = (byte: number): string => `0x${byte.toString(16).padStart(2, '0')}`

/**
 * Parses an IDX file (the format of MNIST and Fashion-MNIST) held in memory. Layout: two zero bytes,
 * a type byte, the number of dimensions `d`, then `d` big-endian uint32 sizes, then the values
 * big-endian, row-major. Types: `0x08` unsigned byte, `0x09` signed byte, `0x0B` int16, `0x0C` int32
 * (all read into int32 tensors), `0x0D` float32, `0x0E` float64.
 *
 * Everything is checked before any value is read: the magic bytes, the type byte, that the header
 * fits, and that the data holds exactly `product(sizes) × itemsize` bytes (a truncated file and a
 * file with trailing bytes are both errors). A bad file gives a `Left` naming the source and the
 * problem; nothing half-loaded is ever returned. Options are checked at run time (an unknown key is
 * a `Left` listing the accepted ones).
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { parseIdx } from '@backfold/nn'
 * const images = parseIdx(bytes, { source: 'train-images-idx3-ubyte' }) // Right(int32 [60000, 28, 28])
 * @since 0.1.0
 */
export const parseIdx = (bytes: Uint8Array, opts: IdxOptions): E.Either<DataError, Tensor> => {
  const source =
    typeof opts === 'object' && opts !== null && typeof opts.source === 'string' ? opts.source : '<parseIdx>'
  const checked = checkDataOptions(source, 'parseIdx', opts, IDX_OPTIONS)
  if (E.isLeft(checked)) return checked
  const fail = (message: string): E.Either<DataError, Tensor> => E.left(dataError(source, message))
  if (!(bytes instanceof Uint8Array)) return fail('parseIdx: expected the bytes as a Uint8Array')
  if (bytes.length < 4)
    return fail(
      `is ${bytes.length} bytes long; an IDX file starts with a 4-byte magic number (truncated or not IDX)`,
    )
  if (bytes[0] !== 0 || bytes[1] !== 0)
    return fail(
      `bad magic number: the first two bytes are ${hex(bytes[0]!)} ${hex(bytes[1]!)}; an IDX file starts with 0x00 0x00` +
        (bytes[0] === 0x1f && bytes[1] === 0x8b ? ' (this looks gzip-compressed: decompress it first)' : ''),
    )
  const typeByte = bytes[2]!
  const type = IDX_TYPES[typeByte]
  if (type === undefined)
    return fail(
      `unknown data type byte ${hex(typeByte)}; expected one of 0x08 (u8), 0x09 (i8), 0x0b (i16), 0x0c (i32), 0x0d (f32), 0x0e (f64)`,
    )
  const rank = bytes[3]!
  const headerBytes = 4 + 4 * rank
  if (bytes.length < headerBytes)
    return fail(
      `is truncated: the header declares ${rank} dimensions (${headerBytes} header bytes) but the file has only ${bytes.length} bytes`,
    )
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const shape: number[] = []
  let count = 1
  for (let d = 0; d < rank; d++) {
    const size = view.getUint32(4 + 4 * d, false)
    shape.push(size)
    count *= size
  }
  // Compare byte counts as doubles before allocating anything: a corrupt header can declare more
  // elements than memory holds, and then the comparison below fails instead of the allocation.
  const expected = count * type.bytes
  const actual = bytes.length - headerBytes
  if (actual !== expected)
    return fail(
      `declares shape ${T.fmtShape(shape)} of ${type.name} (${expected} data bytes) but holds ${actual} data bytes` +
        (actual < expected ? ' (the file is truncated)' : ' (unexpected trailing bytes)'),
    )
  const data = T.allocate(type.dtype, count)
  readValues(typeByte, view, headerBytes, data)
  return E.right(T.unsafeTensor(type.dtype, shape, data))
}
