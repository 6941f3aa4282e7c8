/**
 * safetensors, the weight format of Hugging Face and PyTorch, for trees of tensors.
 *
 * Layout (https://github.com/huggingface/safetensors, "Format"): an 8-byte little-endian unsigned
 * header length N; N bytes of UTF-8 JSON mapping each tensor name to
 * `{ dtype, shape, data_offsets: [begin, end] }` (offsets relative to the data section) plus an
 * optional `"__metadata__"` map of strings; then the raw little-endian data, with no holes and no
 * overlaps. Pure functions on bytes: this module runs in browsers; files are in `@backfold/nn/node`.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import * as t from 'io-ts/lib/index.js'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import { flattenNamed } from '../tree'

/** Why a checkpoint could not be read or used: the file (or source) and the problem. @since 0.1.0 */
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

/** Formats a `CheckpointError` for people. @since 0.1.0 */
export const formatCheckpointError = (e: CheckpointError): string => `${e.source}: ${e.message}`

/** What `decodeSafetensors` returns. @since 0.1.0 */
export interface Safetensors {
  readonly tensors: Readonly<Record<string, Tensor>>
  readonly metadata: Readonly<Record<string, string>>
}

const CODES: Readonly<Record<DType, { readonly code: string; readonly bytes: number }>> = {
  float32: { code: 'F32', bytes: 4 },
  float64: { code: 'F64', bytes: 8 },
  int32: { code: 'I32', bytes: 4 },
}
const FROM_CODE: Readonly<Record<string, DType>> = { F32: 'float32', F64: 'float64', I32: 'int32' }
/** Dtypes of the format that backfold has no tensor type for. */
const KNOWN_UNSUPPORTED = [
  'BOOL',
  'U8',
  'I8',
  'U16',
  'I16',
  'F16',
  'BF16',
  'U32',
  'U64',
  'I64',
  'F8_E4M3',
  'F8_E5M2',
]

/** Headers larger than this are refused before any allocation (the reference limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000

/**
 * Encodes a tree of tensors (names from `tree.flattenNamed`, e.g. `layers.0.weight`).
 * Tensors are laid out in name order; the header is padded with spaces to a multiple of 8 bytes,
 * as the reference writer does, so the data section is aligned.
 * @example
 * const bytes = encodeSafetensors(params, { metadata: { format: 'pt' } })
 * @since 0.1.0
 */
export const encodeSafetensors = (
  tree: unknown,
  opts: { readonly metadata?: Readonly<Record<string, string>> } = {},
): Uint8Array => {
  const entries = flattenNamed(tree).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const header: Record<string, unknown> = {}
  if (opts.metadata !== undefined && Object.keys(opts.metadata).length > 0)
    header['__metadata__'] = opts.metadata
  let offset = 0
  for (const [name, x] of entries) {
    if (name === '__metadata__')
      throw new T.ValueError('encodeSafetensors', `'__metadata__' cannot name a tensor`)
    const size = x.data.length * CODES[x.dtype].bytes
    header[name] = { dtype: CODES[x.dtype].code, shape: [...x.shape], data_offsets: [offset, offset + size] }
    offset += size
  }
  let json = new TextEncoder().encode(JSON.stringify(header))
  const padded = Math.ceil(json.length / 8) * 8
  if (padded !== json.length) {
    const withSpaces = new Uint8Array(padded).fill(0x20)
    withSpaces.set(json)
    json = withSpaces
  }
  const out = new Uint8Array(8 + json.length + offset)
  const view = new DataView(out.buffer)
  view.setBigUint64(0, BigInt(json.length), true)
  out.set(json, 8)
  let at = 8 + json.length
  for (const [, x] of entries) {
    const bytes = CODES[x.dtype].bytes
    for (let i = 0; i < x.data.length; i++, at += bytes) {
      const v = x.data[i]!
      if (x.dtype === 'float32') view.setFloat32(at, v, true)
      else if (x.dtype === 'float64') view.setFloat64(at, v, true)
      else view.setInt32(at, v, true)
    }
  }
  return out
}

const Entry = t.type({
  dtype: t.string,
  shape: t.array(t.number),
  data_offsets: t.tuple([t.number, t.number]),
})

const describe = (value: unknown): string => {
  const s = JSON.stringify(value)
  return s === undefined ? String(value) : s.length > 60 ? `${s.slice(0, 57)}...` : s
}

/** Names that occur more than once as keys of the header's top-level object. */
const duplicateKeys = (json: string): string[] => {
  const seen = new Set<string>()
  const dupes = new Set<string>()
  let depth = 0
  // Walk the JSON text: top-level keys are strings at depth 1 followed by ':'.
  for (let i = 0; i < json.length; i++) {
    const c = json[i]
    if (c === '{' || c === '[') depth++
    else if (c === '}' || c === ']') depth--
    else if (c === '"') {
      let j = i + 1
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1
      const raw = json.slice(i, j + 1)
      let k = j + 1
      while (k < json.length && /\s/.test(json[k]!)) k++
      if (depth === 1 && json[k] === ':') {
        const key = JSON.parse(raw) as string
        if (seen.has(key)) dupes.add(key)
        seen.add(key)
      }
      i = j
    }
  }
  return [...dupes]
}

/**
 * Decodes safetensors bytes, validating everything before returning anything: header length, UTF-8
 * and JSON, each entry's fields, dtypes, shapes against byte counts, offsets in range, without
 * overlaps or holes, duplicate names, metadata values. Never throws on bad bytes.
 * @example
 * pipe(decodeSafetensors(bytes, { source: 'model.safetensors' }), E.map(({ tensors }) => tensors['0.weight']))
 * @since 0.1.0
 */
export const decodeSafetensors = (
  bytes: Uint8Array,
  opts: { readonly source?: string } = {},
): Either<CheckpointError, Safetensors> => {
  const source = opts.source ?? 'safetensors data'
  const fail = (message: string): Either<CheckpointError, never> => E.left(checkpointError(source, message))
  if (bytes.length < 8)
    return fail(`truncated: ${bytes.length} bytes, but the 8-byte header length alone needs 8`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const declared = view.getBigUint64(0, true)
  if (declared > BigInt(MAX_HEADER_BYTES))
    return fail(
      `header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte limit; the file is corrupt or not safetensors`,
    )
  const headerLength = Number(declared)
  if (8 + headerLength > bytes.length)
    return fail(`header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength))
  } catch {
    return fail('header is not valid UTF-8')
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return fail(`header must be a JSON object, got ${describe(parsed)}`)
  const dupes = duplicateKeys(text)
  if (dupes.length > 0) return fail(`duplicate tensor names in the header: ${dupes.join(', ')}`)

  const dataStart = 8 + headerLength
  const dataLength = bytes.length - dataStart
  const header = parsed as Record<string, unknown>
  let metadata: Record<string, string> = {}
  const spans: Array<{ name: string; begin: number; end: number; dtype: DType; shape: number[] }> = []
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return fail(`__metadata__ must be an object of strings, got ${describe(value)}`)
      const bad = Object.entries(value).find(([, v]) => typeof v !== 'string')
      if (bad !== undefined) return fail(`__metadata__.${bad[0]} must be a string, got ${describe(bad[1])}`)
      metadata = value as Record<string, string>
      continue
    }
    const entry = Entry.decode(value)
    if (E.isLeft(entry))
      return fail(
        `tensor '${name}': expected { dtype: string, shape: number[], data_offsets: [number, number] }, got ${describe(value)}`,
      )
    const {
      dtype: code,
      shape,
      data_offsets: [begin, end],
    } = entry.right
    const dtype = FROM_CODE[code]
    if (dtype === undefined)
      return fail(
        KNOWN_UNSUPPORTED.includes(code)
          ? `tensor '${name}': dtype ${code} is not supported by backfold (F32, F64 and I32 are)`
          : `tensor '${name}': unknown dtype ${describe(code)}`,
      )
    if (shape.some((d) => !Number.isSafeInteger(d) || d < 0))
      return fail(`tensor '${name}': shape ${describe(shape)} must hold non-negative integers`)
    if (![begin, end].every((o) => Number.isSafeInteger(o) && o >= 0) || end < begin)
      return fail(
        `tensor '${name}': data_offsets [${begin}, ${end}] must be non-negative integers with begin <= end`,
      )
    if (end > dataLength)
      return fail(
        `tensor '${name}': data_offsets [${begin}, ${end}] run past the data section (${dataLength} bytes)`,
      )
    const elements = shape.reduce((n, d) => n * d, 1)
    if (elements * CODES[dtype].bytes !== end - begin)
      return fail(
        `tensor '${name}': shape ${T.fmtShape(shape)} of ${code} needs ${elements * CODES[dtype].bytes} bytes but data_offsets span ${end - begin}`,
      )
    spans.push({ name, begin, end, dtype, shape })
  }
  // The specification forbids overlaps and holes: sorted spans must tile the data section exactly.
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end)
  let cursor = 0
  for (const s of spans) {
    if (s.begin < cursor)
      return fail(`tensor '${s.name}': data_offsets [${s.begin}, ${s.end}] overlap another tensor`)
    if (s.begin > cursor)
      return fail(`bytes ${cursor}..${s.begin} of the data section belong to no tensor (a hole)`)
    cursor = s.end
  }
  if (cursor !== dataLength)
    return fail(`the data section has ${dataLength - cursor} trailing bytes that belong to no tensor`)

  const tensors: Record<string, Tensor> = {}
  for (const s of spans) {
    const n = (s.end - s.begin) / CODES[s.dtype].bytes
    const data = T.allocate(s.dtype, n)
    const at = dataStart + s.begin
    for (let i = 0; i < n; i++) {
      data[i] =
        s.dtype === 'float32'
          ? view.getFloat32(at + 4 * i, true)
          : s.dtype === 'float64'
            ? view.getFloat64(at + 8 * i, true)
            : view.getInt32(at + 4 * i, true)
    }
    tensors[s.name] = T.unsafeTensor(s.dtype, s.shape, data)
  }
  return E.right({ tensors, metadata })
}

/**
 * Fills a tree shaped like `like` (e.g. the params of a model's `init`) from named tensors,
 * checking every name, shape and dtype and reporting ALL mismatches at once. Never reshapes,
 * casts or ignores a tensor.
 * @example
 * const params = loadParams(init.params, decoded.tensors, { source: 'params.safetensors' })
 * @since 0.1.0
 */
export const loadParams = <P>(
  like: P,
  tensors: Readonly<Record<string, Tensor>>,
  opts: { readonly source?: string } = {},
): Either<CheckpointError, P> => {
  const expected = flattenNamed(like)
  const problems: string[] = []
  for (const [name, x] of expected) {
    const got = tensors[name]
    if (got === undefined) problems.push(`missing '${name}' (${x.dtype} ${T.fmtShape(x.shape)})`)
    else {
      if (!T.shapesEqual(got.shape, x.shape))
        problems.push(
          `'${name}' has shape ${T.fmtShape(got.shape)}, the model expects ${T.fmtShape(x.shape)}`,
        )
      if (got.dtype !== x.dtype)
        problems.push(`'${name}' has dtype ${got.dtype}, the model expects ${x.dtype}`)
    }
  }
  const names = new Set(expected.map(([n]) => n))
  for (const name of Object.keys(tensors))
    if (!names.has(name)) problems.push(`unexpected '${name}' (not a parameter of the model)`)
  if (problems.length > 0)
    return E.left(
      checkpointError(opts.source ?? 'checkpoint', `${problems.length} mismatch(es): ${problems.join('; ')}`),
    )
  const { def } = T.flatten(like)
  return E.right(
    T.unflatten<P>(
      def,
      expected.map(([n]) => tensors[n]!),
    ),
  )
}
