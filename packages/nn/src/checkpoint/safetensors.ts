/**
 * safetensors, the weight format of Hugging Face and PyTorch, for trees of tensors.
 *
 * Layout (https://github.com/huggingface/safetensors, "Format"): an 8-byte little-endian unsigned
 * header length N; N bytes of UTF-8 JSON starting with `{` that map each tensor name to
 * `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the data section) plus an
 * optional `"__metadata__"` map of strings; then the raw little-endian, row-major data, which the
 * tensors must tile exactly (no holes, no overlaps, no trailing bytes).
 *
 * Dtypes: F32, F64 and I32 load as float32, float64 and int32 tensors. F16 and BF16 (the usual dtypes
 * of Hugging Face weights) load as float32, exactly (every 16-bit float is a float32), and are
 * written only when asked (`encodeSafetensors(tree, { floatDType: 'F16' })`), rounding to nearest even.
 *
 * Pure functions on bytes: this module runs in browsers; reading and writing files is in
 * `@backfold/nn/node` (`saveSafetensors`, `loadSafetensors`).
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import * as t from 'io-ts/lib/index.js'
import { checkOptions, option, optionSchema } from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import { flattenNamed } from '../tree'
import { parseJson } from '../json'
import {
  BF16,
  F16,
  bf16BitsToF32Bits,
  f16BitsToF32Bits,
  largestFinite,
  toHalfBits,
  type HalfFormat,
} from './halfFloat'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * Why a checkpoint could not be read or used: `source` names the file (or other origin) and
 * `message` the problem, including the tensor name when one is at fault.
 * @since 0.1.0
 */
export interface CheckpointError {
  readonly kind: 'CheckpointError'
  readonly source: string
  readonly message: string
}

/** Builds a `CheckpointError`. @since 0.1.0 */
export const checkpointError = (source: string, message: string): CheckpointError => ({
  kind: 'CheckpointError',
  source,
  message,
})

/** Formats a `CheckpointError` for people: `source: message`. @since 0.1.0 */
export const formatCheckpointError = (e: CheckpointError): string => `${e.source}: ${e.message}`

/**
 * The content of a safetensors file: named tensors and the string metadata. Both records are keyed
 * by names from the file and have no prototype, so every name (`__proto__`, `constructor`) is an
 * ordinary key and a name the file lacks reads as `undefined`.
 * @since 0.1.0
 */
export interface Safetensors {
  readonly tensors: Readonly<Record<string, Tensor>>
  readonly metadata: Readonly<Record<string, string>>
  /**
   * The dtype each tensor has IN THE FILE (`'F16'`, `'BF16'`, `'F32'`, `'F64'`, `'I32'`), keyed like
   * `tensors`: an F16 or BF16 tensor is a float32 tensor in `tensors`, and this says it was stored
   * with 16 bits (so saving it back as float32 would double its size, not its precision).
   * @since 0.2.0
   */
  readonly storedDTypes: Readonly<Record<string, StoredDType>>
}

/** A safetensors dtype backfold reads and writes. @since 0.2.0 */
export type StoredDType = 'F64' | 'F32' | 'I32' | 'BF16' | 'F16'

/** Options of `encodeSafetensors`. @since 0.1.0 */
export interface EncodeSafetensorsOptions {
  /** Free-form strings stored under `__metadata__` (e.g. `{ format: 'pt' }`). */
  readonly metadata?: Readonly<Record<string, string>>
  /**
   * Store every float tensor (float32 and float64) with 16 bits: `'F16'` (IEEE half: 11 significant
   * bits, finite up to 65504) or `'BF16'` (bfloat16: 8 significant bits, the range of float32).
   * Values are rounded to nearest, ties to even; int32 tensors stay I32. Default: each tensor in its
   * own dtype (F32, F64), exactly. A finite value beyond the format's range is refused (a `ValueError`
   * naming the tensor, the index and the value) unless `allowOverflow` is true.
   * @since 0.2.0
   */
  readonly floatDType?: 'F16' | 'BF16'
  /**
   * With `floatDType`, store finite values beyond the format's largest finite value as ±Infinity (what
   * IEEE rounding gives) instead of refusing them. Default false. Values already infinite stay so.
   * @since 0.2.0
   */
  readonly allowOverflow?: boolean
}

/** Options of `decodeSafetensors` and `loadParams`. @since 0.1.0 */
export interface CheckpointSourceOptions {
  /** Names the origin of the bytes in error messages (a file path, a URL). */
  readonly source?: string
}

// -------------------------------------------------------------------------------------
// dtypes
// -------------------------------------------------------------------------------------

interface DTypeCode {
  /** Bytes per element in the file. */
  readonly bytes: number
  /** Position in the reference implementation's `Dtype` enum, which orders the data section. */
  readonly rank: number
  /** The dtype of the tensor it loads as. */
  readonly dtype: DType
}

const CODES: Readonly<Record<StoredDType, DTypeCode>> = {
  F16: { bytes: 2, rank: 0, dtype: 'float32' },
  BF16: { bytes: 2, rank: 1, dtype: 'float32' },
  I32: { bytes: 4, rank: 2, dtype: 'int32' },
  F32: { bytes: 4, rank: 3, dtype: 'float32' },
  F64: { bytes: 8, rank: 4, dtype: 'float64' },
}

const NATIVE_CODE: Readonly<Record<DType, StoredDType>> = { int32: 'I32', float32: 'F32', float64: 'F64' }

const HALF_FORMATS: Readonly<Record<'F16' | 'BF16', HalfFormat>> = { F16, BF16 }

const isStoredDType = (code: string): code is StoredDType => Object.prototype.hasOwnProperty.call(CODES, code)

const READ_DTYPES = 'F32, F64, I32, F16 and BF16 (the last two as float32)'

/** Dtypes the format defines but backfold has no tensor type for (reported as unsupported, not unknown). */
const UNSUPPORTED_CODES: ReadonlySet<string> = new Set([
  'BOOL',
  'U8',
  'I8',
  'U16',
  'I16',
  'U32',
  'U64',
  'I64',
  'C64',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'F8_E4M3',
  'F8_E5M2',
  'F8_E8M0',
])

const SOURCE_OPTIONS = optionSchema({ source: option.string })

const ENCODE_OPTIONS = optionSchema(
  { metadata: option.record, floatDType: option.anything, allowOverflow: option.boolean },
  { dtype: 'floatDType', storeAs: 'floatDType', overflow: 'allowOverflow' },
)

/** Headers larger than this are refused before anything is decoded (the reference reader's limit). */
const MAX_HEADER_BYTES = 100_000_000

const METADATA_KEY = '__metadata__'

// -------------------------------------------------------------------------------------
// encoding
// -------------------------------------------------------------------------------------

/**
 * Orders strings by Unicode code point, which is the order of their UTF-8 bytes and of Rust's `String`
 * (the reference writer's); `<` on JavaScript strings compares UTF-16 units, which differs above U+FFFF.
 */
const compareCodePoints = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!
    const y = b.codePointAt(i)!
    if (x !== y) return x - y
    if (x > 0xffff) i++
  }
  return a.length - b.length
}

const writeData = (view: DataView, at: number, x: Tensor, code: StoredDType): void => {
  const data = x.data
  const n = data.length
  if (code === 'F32') for (let i = 0; i < n; i++) view.setFloat32(at + 4 * i, data[i]!, true)
  else if (code === 'F64') for (let i = 0; i < n; i++) view.setFloat64(at + 8 * i, data[i]!, true)
  else if (code === 'I32') for (let i = 0; i < n; i++) view.setInt32(at + 4 * i, data[i]!, true)
  else {
    const format = HALF_FORMATS[code]
    const infinity = toHalfBits(Infinity, format)!
    for (let i = 0; i < n; i++) {
      // undefined only for an overflow the caller allowed (checked before any byte is written).
      const bits = toHalfBits(data[i]!, format)
      view.setUint16(at + 2 * i, bits ?? (data[i]! < 0 ? infinity | (1 << 15) : infinity), true)
    }
  }
}

/** The first finite value of a float tensor that `format` cannot hold, with its index. */
const firstOverflow = (x: Tensor, format: HalfFormat): { index: number; value: number } | undefined => {
  const data = x.data
  for (let i = 0; i < data.length; i++)
    if (toHalfBits(data[i]!, format) === undefined) return { index: i, value: data[i]! }
  return undefined
}

/**
 * Encodes a tree of tensors as safetensors bytes, naming each tensor by its dotted path in the
 * tree (`tree.flattenNamed`, e.g. `layers.0.weight`), so PyTorch-shaped params load by name.
 *
 * The layout is the reference writer's: the header JSON is compact and padded with spaces to a
 * multiple of 8 bytes; the data section holds F64 tensors first, then F32, I32, BF16 and F16,
 * each group in name order, so every tensor starts at a multiple of its item size and can be
 * viewed in place. The same tree always gives the same bytes. Throws a `ValueError` for a tree
 * two of whose paths give the same name (`{ 'a.b': x, a: { b: y } }`) or a tensor named
 * `__metadata__`: such files could not be read back faithfully.
 *
 * `floatDType: 'F16' | 'BF16'` stores the float tensors with 16 bits, rounded to nearest even
 * (half the size, for sharing weights); a finite value the format cannot hold (above 65504 in F16)
 * throws a `ValueError` naming the tensor and index unless `allowOverflow: true` (then ±Infinity).
 * Values below the smallest subnormal round to ±0, as IEEE rounding does.
 * @example
 * import * as T from '@backfold/tensor'
 * import { encodeSafetensors } from '@backfold/nn'
 * const bytes = encodeSafetensors({ fc: { weight: T.zeros([10, 64]), bias: T.zeros([10]) } }, { metadata: { format: 'pt' } })
 * const half = encodeSafetensors({ fc: { weight: T.zeros([10, 64]) } }, { floatDType: 'F16' }) // 1280 data bytes
 * @since 0.1.0
 */
export const encodeSafetensors = (tree: unknown, opts: EncodeSafetensorsOptions = {}): Uint8Array => {
  // An unknown key (`dtype: 'F16'`) must not silently write float32.
  checkOptions('encodeSafetensors', opts, ENCODE_OPTIONS)
  const floatDType = opts.floatDType
  if (floatDType !== undefined && floatDType !== 'F16' && floatDType !== 'BF16')
    throw new T.ValueError(
      'encodeSafetensors',
      `floatDType must be 'F16' or 'BF16', got ${describe(floatDType)} (omit it to store each tensor in its own dtype)`,
    )
  if (opts.allowOverflow !== undefined && floatDType === undefined)
    throw new T.ValueError(
      'encodeSafetensors',
      "allowOverflow only applies with floatDType 'F16' or 'BF16'; float32 and float64 tensors are stored exactly",
    )
  const allowOverflow = opts.allowOverflow ?? false
  const codeOf = (x: Tensor): StoredDType =>
    x.dtype === 'int32' || floatDType === undefined ? NATIVE_CODE[x.dtype] : floatDType
  const named = flattenNamed(tree)
  const seen = new Set<string>()
  for (const [name, x] of named) {
    if (name === METADATA_KEY)
      throw new T.ValueError(
        'encodeSafetensors',
        `a tensor cannot be named '${METADATA_KEY}': rename that key`,
      )
    if (seen.has(name))
      throw new T.ValueError(
        'encodeSafetensors',
        `two tensors of the tree are both named '${name}' (a key containing '.' collides with a nested path); rename one`,
      )
    seen.add(name)
    if (x.data.length !== T.sizeOf(x.shape))
      throw new T.ValueError(
        'encodeSafetensors',
        `tensor '${name}' has shape ${T.fmtShape(x.shape)} but ${x.data.length} elements of data`,
      )
    const code = codeOf(x)
    if ((code === 'F16' || code === 'BF16') && !allowOverflow) {
      const format = HALF_FORMATS[code]
      const overflow = firstOverflow(x, format)
      if (overflow !== undefined)
        throw new T.ValueError(
          'encodeSafetensors',
          `tensor '${name}' holds ${overflow.value} at index ${overflow.index}, beyond the largest finite ${code} ` +
            `(${largestFinite(format)}); rescale it, store it as ${code === 'F16' ? 'BF16 or ' : ''}float32, ` +
            `or pass allowOverflow: true to store ±Infinity`,
        )
    }
  }
  const entries = [...named].sort(
    ([nameA, a], [nameB, b]) =>
      CODES[codeOf(b)].rank - CODES[codeOf(a)].rank || compareCodePoints(nameA, nameB),
  )

  // The header is assembled as text rather than via an object so that no name (e.g. `__proto__`)
  // can interact with object semantics, and so that `__metadata__` comes first as in the reference.
  const members: string[] = []
  if (opts.metadata !== undefined && Object.keys(opts.metadata).length > 0) {
    const metadataMembers = Object.entries(opts.metadata).map(([k, v]) => {
      if (typeof v !== 'string')
        throw new T.ValueError('encodeSafetensors', `metadata '${k}' must be a string, got ${typeof v}`)
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`
    })
    members.push(`${JSON.stringify(METADATA_KEY)}:{${metadataMembers.join(',')}}`)
  }
  let dataLength = 0
  for (const [name, x] of entries) {
    const begin = dataLength
    const code = codeOf(x)
    dataLength += x.data.length * CODES[code].bytes
    members.push(
      `${JSON.stringify(name)}:{"dtype":"${code}","shape":[${x.shape.join(',')}],"data_offsets":[${begin},${dataLength}]}`,
    )
  }
  const json = new TextEncoder().encode(`{${members.join(',')}}`)
  const headerLength = Math.ceil(json.length / 8) * 8

  const out = new Uint8Array(8 + headerLength + dataLength)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(headerLength), true)
  out.set(json, 8)
  out.fill(0x20, 8 + json.length, 8 + headerLength)
  let at = 8 + headerLength
  for (const [, x] of entries) {
    const code = codeOf(x)
    writeData(view, at, x, code)
    at += x.data.length * CODES[code].bytes
  }
  return out
}

// -------------------------------------------------------------------------------------
// decoding
// -------------------------------------------------------------------------------------

/** The shape of one header entry; ranges and consistency are checked after decoding. */
const HeaderEntry = t.type({
  dtype: t.string,
  shape: t.array(t.number),
  data_offsets: t.array(t.number),
})

const MetadataCodec = t.record(t.string, t.string)

/** A short JSON rendering of a value for messages; never throws, never long. */
const describe = (value: unknown): string => {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch {
    text = undefined
  }
  if (text === undefined) text = String(value)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

const listNames = (names: ReadonlyArray<string>): string =>
  names
    .slice(0, 5)
    .map((n) => `'${n}'`)
    .join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : '')

const isJsonSpace = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d

/**
 * Keys that occur more than once in the top-level object of `json`, which must be valid JSON
 * whose top level is an object. `JSON.parse` silently keeps the last of duplicates, so they are
 * found by scanning the text: a string at depth 1 followed by `:` is a key.
 */
const duplicateKeys = (json: string): string[] => {
  const seen = new Set<string>()
  const duplicates = new Set<string>()
  let depth = 0
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i)
    if (c === 0x7b || c === 0x5b) depth++
    else if (c === 0x7d || c === 0x5d) depth--
    else if (c === 0x22) {
      let end = i + 1
      while (end < json.length && json.charCodeAt(end) !== 0x22) end += json.charCodeAt(end) === 0x5c ? 2 : 1
      if (depth === 1) {
        let next = end + 1
        while (isJsonSpace(json.charCodeAt(next))) next++
        if (json.charCodeAt(next) === 0x3a) {
          // Valid JSON, so the slice is a valid JSON string literal.
          const key = JSON.parse(json.slice(i, end + 1)) as string
          if (seen.has(key)) duplicates.add(key)
          seen.add(key)
        }
      }
      i = end
    }
  }
  return [...duplicates]
}

/**
 * A record keyed by names from the file, with no prototype: `Object.fromEntries` defines own
 * properties, so `__proto__` stays an ordinary key, and without `Object.prototype` a lookup of a
 * name the file lacks (`tensors['constructor']`) is `undefined`, not an inherited function.
 */
const nameRecord = <A>(entries: Iterable<readonly [string, A]>): Record<string, A> => {
  const record: Record<string, A> = Object.fromEntries(entries)
  Object.setPrototypeOf(record, null)
  return record
}

interface Span {
  readonly name: string
  readonly code: StoredDType
  readonly shape: ReadonlyArray<number>
  readonly begin: number
  readonly end: number
}

/** Validates one header entry against the data section; a message on failure. */
const checkEntry = (name: string, value: unknown, dataLength: number): Either<string, Span> => {
  const decoded = HeaderEntry.decode(value)
  if (E.isLeft(decoded))
    return E.left(
      `tensor '${name}': expected { "dtype": string, "shape": number[], "data_offsets": [begin, end] }, got ${describe(value)}`,
    )
  const { dtype: code, shape, data_offsets: offsets } = decoded.right
  if (!isStoredDType(code))
    return E.left(
      UNSUPPORTED_CODES.has(code)
        ? `tensor '${name}': unsupported dtype ${code} (backfold reads ${READ_DTYPES}; convert the tensor before saving)`
        : `tensor '${name}': unknown dtype ${describe(code)} (backfold reads ${READ_DTYPES})`,
    )
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    return E.left(`tensor '${name}': shape ${describe(shape)} must be a list of non-negative integers`)
  const [begin, end] = offsets
  if (
    offsets.length !== 2 ||
    begin === undefined ||
    end === undefined ||
    !Number.isSafeInteger(begin) ||
    !Number.isSafeInteger(end) ||
    begin < 0 ||
    end < begin
  )
    return E.left(
      `tensor '${name}': data_offsets ${describe(offsets)} must be two non-negative integers [begin, end] with begin <= end`,
    )
  if (end > dataLength)
    return E.left(
      `tensor '${name}': data_offsets [${begin}, ${end}] run past the end of the data section (${dataLength} bytes)`,
    )
  // Exact while below 2^53; a product beyond that cannot equal a span that fits in the file.
  const elements = shape.reduce((n, d) => n * d, 1)
  const needed = elements * CODES[code].bytes
  if (needed !== end - begin)
    return E.left(
      `tensor '${name}': shape ${T.fmtShape(shape)} of ${code} needs ${Number.isSafeInteger(needed) ? needed : 'more than 2^53'} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    )
  return E.right({ name, code, shape, begin, end })
}

const readData = (view: DataView, at: number, span: Span): Tensor => {
  const { code } = span
  const { dtype, bytes } = CODES[code]
  const n = (span.end - span.begin) / bytes
  const data = T.allocate(dtype, n)
  if (code === 'F16' || code === 'BF16') {
    // Written as float32 bit patterns, so the conversion is exact to the bit (NaN payloads included).
    const bits = new Uint32Array(data.buffer, data.byteOffset, n)
    const widen = code === 'F16' ? f16BitsToF32Bits : bf16BitsToF32Bits
    for (let i = 0; i < n; i++) bits[i] = widen(view.getUint16(at + 2 * i, true))
  } else if (code === 'F32') for (let i = 0; i < n; i++) data[i] = view.getFloat32(at + 4 * i, true)
  else if (code === 'F64') for (let i = 0; i < n; i++) data[i] = view.getFloat64(at + 8 * i, true)
  else for (let i = 0; i < n; i++) data[i] = view.getInt32(at + 4 * i, true)
  return T.unsafeTensor(dtype, [...span.shape], data)
}

/**
 * Decodes safetensors bytes from an untrusted source. Everything is validated before any tensor
 * is built, and every problem is a `Left` naming the source and, when one is at fault, the tensor:
 * truncation, a header length past the end or above 100 MB, invalid UTF-8 or JSON, JSON nested
 * deeper than `MAX_JSON_DEPTH` (256) levels, a header that is not an object, malformed entries, unsupported or unknown dtypes, bad shapes, byte counts
 * that disagree with shape × item size, offsets out of range, overlapping or leaving holes or
 * trailing bytes, duplicate names, non-string metadata. Never throws; memory use is bounded by a
 * small multiple of the input size.
 * @example
 * import { pipe } from 'fp-ts/lib/function.js'
 * import * as E from 'fp-ts/lib/Either.js'
 * import { decodeSafetensors } from '@backfold/nn'
 * const weight = pipe(
 *   decodeSafetensors(bytes, { source: 'model.safetensors' }),
 *   E.map(({ tensors }) => tensors['fc.weight']),
 * )
 * @throws ValueError for an unknown option (only `source` is accepted).
 * @since 0.1.0
 */
export const decodeSafetensors = (
  bytes: Uint8Array,
  opts: CheckpointSourceOptions = {},
): Either<CheckpointError, Safetensors> => {
  checkOptions('decodeSafetensors', opts, SOURCE_OPTIONS)
  const source = opts.source ?? 'safetensors data'
  const fail = (message: string): Either<CheckpointError, never> => E.left(checkpointError(source, message))
  if (bytes.length < 8)
    return fail(
      `truncated: ${bytes.length} bytes, but the header length alone takes 8; not a safetensors file`,
    )
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const declared = view.getBigUint64(0, true)
  if (declared > BigInt(MAX_HEADER_BYTES))
    return fail(
      `header length ${declared} is above the ${MAX_HEADER_BYTES}-byte limit; the file is corrupt or not safetensors`,
    )
  const headerLength = Number(declared)
  if (8 + headerLength > bytes.length)
    return fail(
      `header length ${headerLength} runs past the end of the file (${bytes.length} bytes); the file is truncated or not safetensors`,
    )
  if (headerLength === 0 || bytes[8] !== 0x7b)
    return fail(`header must be a JSON object starting with '{'; this is not a safetensors file`)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    )
  } catch {
    return fail('header is not valid UTF-8')
  }
  // Bounded in depth before parsing: the metadata decoder and the messages below recurse per level.
  const parsedHeader = parseJson(text)
  if (E.isLeft(parsedHeader)) return fail(`header is ${parsedHeader.left}`)
  const parsed = parsedHeader.right
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return fail(`header must be a JSON object, got ${describe(parsed)}`)
  const duplicates = duplicateKeys(text)
  if (duplicates.length > 0)
    return fail(`the header names these tensors more than once: ${listNames(duplicates)}`)

  const dataStart = 8 + headerLength
  const dataLength = bytes.length - dataStart
  let metadata: Record<string, string> = nameRecord([])
  const spans: Span[] = []
  for (const [name, value] of Object.entries(parsed)) {
    if (name === METADATA_KEY) {
      const decodedMetadata = MetadataCodec.decode(value)
      if (E.isLeft(decodedMetadata)) {
        const notString =
          typeof value === 'object' && value !== null && !Array.isArray(value)
            ? Object.entries(value).find(([, v]) => typeof v !== 'string')
            : undefined
        return fail(
          notString === undefined
            ? `${METADATA_KEY} must be an object of strings, got ${describe(value)}`
            : `${METADATA_KEY} value '${notString[0]}' must be a string, got ${describe(notString[1])}`,
        )
      }
      metadata = nameRecord(Object.entries(decodedMetadata.right))
      continue
    }
    const span = checkEntry(name, value, dataLength)
    if (E.isLeft(span)) return fail(span.left)
    spans.push(span.right)
  }

  // The specification forbids overlaps and holes: sorted by offset, the spans must tile the data.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end)
  let cursor = 0
  let previous: Span | undefined
  for (const span of spans) {
    if (span.begin < cursor)
      return fail(
        `tensor '${span.name}': data_offsets [${span.begin}, ${span.end}] overlap those of '${previous?.name ?? '?'}' [${previous?.begin ?? 0}, ${previous?.end ?? 0}]`,
      )
    if (span.begin > cursor)
      return fail(
        `bytes ${cursor}..${span.begin} of the data section belong to no tensor (a hole before '${span.name}'); the specification forbids holes`,
      )
    cursor = span.end
    previous = span
  }
  if (cursor !== dataLength)
    return fail(
      `the data section has ${dataLength - cursor} bytes after the last tensor that belong to no tensor; the file is corrupt`,
    )

  const tensors = nameRecord(
    spans.map((span) => [span.name, readData(view, dataStart + span.begin, span)] as const),
  )
  const storedDTypes = nameRecord(spans.map((span) => [span.name, span.code] as const))
  return E.right({ tensors, metadata, storedDTypes })
}

// -------------------------------------------------------------------------------------
// parameter trees
// -------------------------------------------------------------------------------------

const hasOwn = (record: object, key: string): boolean => Object.prototype.hasOwnProperty.call(record, key)

/**
 * Fills a tree shaped like `like` (e.g. the params of a model's `init`) with the named tensors
 * of a checkpoint. Every name, shape and dtype is checked, and ALL mismatches are reported at
 * once (missing, unexpected, wrong shape, wrong dtype, each naming the parameter). Nothing is
 * reshaped, cast or ignored: a checkpoint either fits the model exactly or is refused.
 * @example
 * import { pipe } from 'fp-ts/lib/function.js'
 * import * as E from 'fp-ts/lib/Either.js'
 * import { decodeSafetensors, loadParams } from '@backfold/nn'
 * const params = pipe(
 *   decodeSafetensors(bytes, { source: 'params.safetensors' }),
 *   E.chain(({ tensors }) => loadParams(initialised.params, tensors, { source: 'params.safetensors' })),
 * )
 * @throws ValueError for an unknown option (only `source` is accepted).
 * @since 0.1.0
 */
export const loadParams = <P>(
  like: P,
  tensors: Readonly<Record<string, Tensor>>,
  opts: CheckpointSourceOptions = {},
): Either<CheckpointError, P> => {
  checkOptions('loadParams', opts, SOURCE_OPTIONS)
  const expected = flattenNamed(like)
  const problems: string[] = []
  const names = new Set<string>()
  for (const [name, x] of expected) {
    if (names.has(name)) {
      problems.push(
        `the model tree has two parameters named '${name}' (a key containing '.' collides with a path)`,
      )
      continue
    }
    names.add(name)
    const got = hasOwn(tensors, name) ? tensors[name] : undefined
    if (got === undefined) {
      problems.push(`missing '${name}' (the model expects ${x.dtype} ${T.fmtShape(x.shape)})`)
      continue
    }
    if (!T.shapesEqual(got.shape, x.shape))
      problems.push(`'${name}' has shape ${T.fmtShape(got.shape)}, the model expects ${T.fmtShape(x.shape)}`)
    if (got.dtype !== x.dtype) problems.push(`'${name}' has dtype ${got.dtype}, the model expects ${x.dtype}`)
  }
  for (const name of Object.keys(tensors))
    if (!names.has(name)) problems.push(`unexpected '${name}' (not a parameter of the model)`)
  if (problems.length > 0)
    return E.left(
      checkpointError(
        opts.source ?? 'checkpoint',
        `does not fit the model: ${problems.length} mismatch${problems.length === 1 ? '' : 'es'}: ${problems.join('; ')}`,
      ),
    )
  return E.right(
    T.unflatten<P>(
      T.flatten(like).def,
      expected.map(([name]) => tensors[name]!),
    ),
  )
}
