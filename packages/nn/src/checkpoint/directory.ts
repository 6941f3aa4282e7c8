/**
 * Checkpoint directories, the pure half: everything needed to continue training, as named files.
 *
 * | file                    | holds                                                                  |
 * | ----------------------- | ---------------------------------------------------------------------- |
 * | `config.json`           | the model's config (`encodeModel`), decoded with `decodeModel`          |
 * | `params.safetensors`    | the parameters, named like `tree.flattenNamed` (`layers.0.weight`)     |
 * | `state.safetensors`     | the layer state (batch-norm running statistics)                        |
 * | `optimizer.safetensors` | the optimizer state's tensors (`adam.mu.layers.0.weight`)              |
 * | `optimizer.json`        | the optimizer state's structure and its non-tensor leaves (`count`)   |
 * | `meta.json`             | format version, step, epoch, the PRNG key words, input shape, history  |
 * | `manifest.sha256`       | the SHA-256 of each file above, and of itself; written last            |
 *
 * `manifest.sha256` is in `sha256sum` format (`cd dir && sha256sum -c manifest.sha256` checks the
 * files), between a `#` header line naming the format and a `#` trailer line holding the SHA-256 of
 * every byte before it, so a damaged manifest is detected too:
 *
 * ```text
 * # backfold checkpoint manifest, format 2
 * 3f0c…e1  config.json
 * …
 * 9a41…07  meta.json
 * # sha256 of the lines above: 5be2…9c
 * ```
 *
 * `encodeCheckpoint` turns a training state into these files' bytes and `decodeCheckpoint` verifies
 * every checksum before it parses anything, then validates every file (io-ts for every JSON file,
 * read with a bound on nesting depth; names, shapes and dtypes against the model's `init` through
 * `loadParams`), so nothing damaged or wrong reaches training. Checkpoints of format 1 (backfold
 * 0.1, no manifest) are refused unless `allowUnverified` is set. Files on disk, written crash-safely
 * by one locked writer at a time, are in `@backfold/nn/node` (`saveCheckpoint`, `loadCheckpoint`);
 * this module runs in browsers too, so SHA-256 is computed here in plain TypeScript.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import * as t from 'io-ts/lib/index.js'
import { refined } from '../codecs'
import * as T from '@backfold/tensor'
import type { Key, Shape, Tensor } from '@backfold/tensor'
import type { JsonValue, Layer, LayerConfig } from '../layer'
import { formatLayerError } from '../layer'
import type { GradientTransformation } from '../optim/transform'
import type { EpochRecord, History } from '../train/history'
import { decodeModel, formatConfigError, kindRegistry, type LayerKindsOption } from '../config/codec'
import type { LayerKind } from '../layers/define'
import { flattenNamed } from '../tree'
import { parseJson as parseJsonText } from '../json'
import { checkpointError, decodeSafetensors, encodeSafetensors, loadParams } from './safetensors'
import type { CheckpointError } from './safetensors'

// ---------------------------------------------------------------------------------------------
// model
// ---------------------------------------------------------------------------------------------

/**
 * Version of the checkpoint layout written by this code. Version 2 added `manifest.sha256`;
 * version 1 (backfold 0.1, no checksums) is read only with `allowUnverified`. Any other is refused.
 * @since 0.1.0
 */
export const CHECKPOINT_FORMAT_VERSION = 2

/** The layout of backfold 0.1: the same files without `manifest.sha256`. */
const UNVERIFIED_FORMAT_VERSION = 1

/**
 * The name of the manifest: the SHA-256 of every other file, written last, so a directory holding
 * it is complete (it is the commit marker).
 * @since 0.2.0
 */
export const CHECKPOINT_MANIFEST = 'manifest.sha256'

/**
 * The files a checkpoint's manifest lists, in the order they are written and listed.
 * @since 0.2.0
 */
export const CHECKPOINT_DATA_FILES = [
  'config.json',
  'params.safetensors',
  'state.safetensors',
  'optimizer.safetensors',
  'optimizer.json',
  'meta.json',
] as const

/**
 * The files of a checkpoint directory, in the order they are written: `manifest.sha256` comes
 * last, so a directory holding it is complete.
 * @since 0.1.0
 */
export const CHECKPOINT_FILES = [...CHECKPOINT_DATA_FILES, CHECKPOINT_MANIFEST] as const

/** The name of one file of a checkpoint directory. @since 0.1.0 */
export type CheckpointFileName = (typeof CHECKPOINT_FILES)[number]

/**
 * Everything needed to continue training exactly where it stopped.
 * @since 0.1.0
 */
export interface CheckpointContents<P = unknown, S = unknown, O = unknown> {
  /** The model's config (`encodeModel(model)`): architecture only, weights are in `params`. */
  readonly config: LayerConfig
  /** The per-example input shape the model was built for (what `model.init` was given). */
  readonly inShape: Shape
  readonly params: P
  readonly state: S
  readonly optState: O
  /** Optimizer steps taken so far. */
  readonly step: number
  /** Epochs completed (the `initialEpoch` to resume from). */
  readonly epoch: number
  /** The key `fit` was given: every epoch's randomness derives from it and the epoch number. */
  readonly key: Key
  /** Records of the completed epochs. */
  readonly history?: History
}

/** A checkpoint read back: its contents, with the history always present. @since 0.1.0 */
export interface Checkpoint<P = unknown, S = unknown, O = unknown> extends CheckpointContents<P, S, O> {
  readonly history: History
}

/**
 * The structure of a tree with its tensors named and its other leaves kept as JSON: how
 * `optimizer.json` records the optimizer state (`{ count: 3, mu: ..., nu: ... }`), whose numbers
 * are not tensors. Records keep their key order as entry lists (a JSON object would reorder
 * integer-like keys); values JSON cannot hold (`NaN`, `±Infinity`, `-0`, `undefined`) are `special`.
 * @since 0.1.0
 */
export type TreeSkeleton =
  | { readonly kind: 'tensor'; readonly name: string }
  | { readonly kind: 'array'; readonly items: ReadonlyArray<TreeSkeleton> }
  | { readonly kind: 'record'; readonly entries: ReadonlyArray<readonly [string, TreeSkeleton]> }
  | { readonly kind: 'constant'; readonly value: number | string | boolean | null }
  | { readonly kind: 'special'; readonly value: 'NaN' | 'Infinity' | '-Infinity' | '-0' | 'undefined' }

// ---------------------------------------------------------------------------------------------
// codecs
// ---------------------------------------------------------------------------------------------

const nonNegativeInt = refined(t.number, 'a non-negative integer', (n) => Number.isSafeInteger(n) && n >= 0)
const uint32 = refined(t.number, 'a uint32 word', (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32)
const finiteNumber = refined(t.number, 'a finite number', Number.isFinite)

/** A number in JSON, with the values JSON cannot hold written as strings. */
const jsonNumber = new t.Type<number, number | string, unknown>(
  'a number (or "NaN", "Infinity", "-Infinity")',
  (u): u is number => typeof u === 'number',
  (u, c) =>
    typeof u === 'number' && Number.isFinite(u)
      ? t.success(u)
      : u === 'NaN'
        ? t.success(NaN)
        : u === 'Infinity'
          ? t.success(Infinity)
          : u === '-Infinity'
            ? t.success(-Infinity)
            : t.failure(u, c),
  (n) => (Number.isFinite(n) ? n : String(n)),
)

const EpochRecordCodec = t.intersection(
  [
    t.type({ epoch: nonNegativeInt, loss: jsonNumber, seconds: jsonNumber, samples: nonNegativeInt }),
    t.partial({ accuracy: jsonNumber, valLoss: jsonNumber, valAccuracy: jsonNumber }),
  ],
  'an epoch record ({ epoch, loss, seconds, samples, accuracy?, valLoss?, valAccuracy? })',
)

/** `format` and `formatVersion` alone, checked first so a newer layout gets a clear message. */
const MetaHeaderCodec = t.type({ format: t.literal('backfold.checkpoint'), formatVersion: t.number })

/** The versions whose files this code reads: the current one, and 0.1's (only when unverified). */
const FormatVersionCodec = t.union(
  [t.literal(UNVERIFIED_FORMAT_VERSION), t.literal(CHECKPOINT_FORMAT_VERSION)],
  `${UNVERIFIED_FORMAT_VERSION} or ${CHECKPOINT_FORMAT_VERSION}`,
)

const MetaCodec = t.type({
  format: t.literal('backfold.checkpoint'),
  formatVersion: FormatVersionCodec,
  step: nonNegativeInt,
  epoch: nonNegativeInt,
  key: t.tuple([uint32, uint32], 'the PRNG key words [hi, lo]'),
  inShape: t.readonlyArray(nonNegativeInt, 'a shape (non-negative integers)'),
  history: t.readonlyArray(EpochRecordCodec),
})

/**
 * The io-ts codec of `optimizer.json`'s tree (recursive, a union tagged by `kind`).
 * @since 0.1.0
 */
export const TreeSkeletonCodec: t.Type<TreeSkeleton, TreeSkeleton, unknown> = t.recursion(
  "a tree node ({ kind: 'tensor' | 'array' | 'record' | 'constant' | 'special', ... })",
  () =>
    t.union(
      [
        t.type({ kind: t.literal('tensor'), name: t.string }),
        t.type({ kind: t.literal('array'), items: t.readonlyArray(TreeSkeletonCodec) }),
        t.type({
          kind: t.literal('record'),
          entries: t.readonlyArray(t.readonly(t.tuple([t.string, TreeSkeletonCodec], '[key, tree]'))),
        }),
        t.type({
          kind: t.literal('constant'),
          value: t.union(
            [finiteNumber, t.string, t.boolean, t.null],
            'a finite number, string, boolean or null',
          ),
        }),
        t.type({
          kind: t.literal('special'),
          value: t.keyof(
            { NaN: null, Infinity: null, '-Infinity': null, '-0': null, undefined: null },
            "'NaN', 'Infinity', '-Infinity', '-0' or 'undefined'",
          ),
        }),
      ],
      "a tree node ({ kind: 'tensor' | 'array' | 'record' | 'constant' | 'special', ... })",
    ),
)

const OptimizerFileCodec = t.type({
  formatVersion: FormatVersionCodec,
  tree: TreeSkeletonCodec,
})

const show = (value: unknown): string => {
  let s: string | undefined
  try {
    s = JSON.stringify(value)
  } catch {
    s = undefined
  }
  return s === undefined ? String(value) : s.length > 60 ? `${s.slice(0, 57)}...` : s
}

/**
 * io-ts errors as one line: the most specific failure (deepest path), as
 * `history.2.loss: expected a number, got true`. Union members and intersection parts add no key.
 * @since 0.1.0
 */
export const formatValidationErrors = (errors: t.Errors): string => {
  const deepest = errors.reduce<t.ValidationError | undefined>(
    (best, e) => (best === undefined || e.context.length > best.context.length ? e : best),
    undefined,
  )
  if (deepest === undefined) return 'invalid value'
  const path: string[] = []
  // The entry naming the end of the path: its type says what was expected there (a union's own
  // name, say, rather than that of whichever member failed last).
  let named: t.ContextEntry | undefined = deepest.context[0]
  deepest.context.forEach((entry, i) => {
    if (i === 0 || isCombination(deepest.context[i - 1]!.type)) return
    path.push(entry.key)
    named = entry
  })
  const expected = named?.type.name ?? 'a valid value'
  const message = deepest.message ?? `expected ${expected}, got ${show(deepest.value)}`
  return path.length === 0 ? message : `${path.join('.')}: ${message}`
}

/** Whether a codec's children are alternatives or parts (union, intersection), seen through wrappers. */
const isCombination = (codec: t.Decoder<unknown, unknown>): boolean => {
  let inner: unknown = codec
  // Recursive, readonly and refined codecs validate through the codec they wrap, adding no entry.
  while (
    inner instanceof t.RecursiveType ||
    inner instanceof t.ReadonlyType ||
    inner instanceof t.RefinementType
  )
    inner = (inner as { readonly type: unknown }).type
  return inner instanceof t.UnionType || inner instanceof t.IntersectionType
}

// ---------------------------------------------------------------------------------------------
// SHA-256 and the manifest
// ---------------------------------------------------------------------------------------------

// FIPS 180-4's round constants: the first 32 bits of the fractional parts of the cube roots of the
// first 64 primes.
const SHA256_K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
])

/**
 * The SHA-256 of `bytes` as 64 lowercase hex digits (FIPS 180-4), in plain TypeScript so that
 * checkpoints are verified the same way in browsers (where `crypto.subtle` is asynchronous only)
 * and in Node.
 * @example
 * sha256Hex(new TextEncoder().encode('abc')) // 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
 * @since 0.2.0
 */
export const sha256Hex = (bytes: Uint8Array): string => {
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ])
  // The message, a 0x80 byte, zeros, and the bit length as a 64-bit big-endian number, in 64-byte blocks.
  const blocks = Math.ceil((bytes.length + 9) / 64)
  const tail = new Uint8Array(blocks * 64 - Math.floor(bytes.length / 64) * 64)
  const fullBlocks = Math.floor(bytes.length / 64)
  tail.set(bytes.subarray(fullBlocks * 64))
  tail[bytes.length - fullBlocks * 64] = 0x80
  const tailView = new DataView(tail.buffer)
  tailView.setUint32(tail.length - 8, Math.floor(bytes.length / 0x20000000))
  tailView.setUint32(tail.length - 4, (bytes.length * 8) >>> 0)
  const w = new Uint32Array(64)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let block = 0; block < blocks; block++) {
    const inBody = block < fullBlocks
    const source = inBody ? view : tailView
    const offset = inBody ? block * 64 : (block - fullBlocks) * 64
    for (let i = 0; i < 16; i++) w[i] = source.getUint32(offset + 4 * i)
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15]!
      const b = w[i - 2]!
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3)
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10)
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0
    }
    let a = h[0]!
    let b = h[1]!
    let c = h[2]!
    let d = h[3]!
    let e = h[4]!
    let f = h[5]!
    let g = h[6]!
    let k = h[7]!
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
      const t1 = (k + s1 + ((e & f) ^ (~e & g)) + SHA256_K[i]! + w[i]!) | 0
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
      k = g
      g = f
      f = e
      e = (d + t1) | 0
      d = c
      c = b
      b = a
      a = (t1 + t2) | 0
    }
    h[0] = h[0]! + a
    h[1] = h[1]! + b
    h[2] = h[2]! + c
    h[3] = h[3]! + d
    h[4] = h[4]! + e
    h[5] = h[5]! + f
    h[6] = h[6]! + g
    h[7] = h[7]! + k
  }
  let hex = ''
  for (const word of h) hex += word.toString(16).padStart(8, '0')
  return hex
}

/**
 * A SHA-256 function: the digest of `bytes` as 64 lowercase hex digits. `sha256Hex` is the portable
 * one; Node's `saveCheckpoint` and `loadCheckpoint` pass node:crypto's, several times faster.
 * @since 0.2.0
 */
export type Sha256 = (bytes: Uint8Array) => string

const MANIFEST_HEADER = `# backfold checkpoint manifest, format ${CHECKPOINT_FORMAT_VERSION}\n`
const MANIFEST_TRAILER = '# sha256 of the lines above: '

/**
 * The manifest of a checkpoint's files: a `sha256sum` line per file in `CHECKPOINT_DATA_FILES`
 * order between the header line and a trailer holding the SHA-256 of everything before it.
 */
const encodeManifest = (
  files: ReadonlyArray<readonly [CheckpointFileName, Uint8Array]>,
  hash: Sha256,
): Uint8Array => {
  const body = MANIFEST_HEADER + files.map(([file, bytes]) => `${hash(bytes)}  ${file}\n`).join('')
  return utf8(`${body}${MANIFEST_TRAILER}${hash(utf8(body))}\n`)
}

/**
 * The digests a manifest lists, after checking its exact layout (every file once, in order, lowercase
 * hex) and its own checksum: any change to its bytes, one flipped bit included, is a `Left`.
 */
const readManifest = (
  bytes: Uint8Array,
  hash: Sha256,
  source: string,
): Either<CheckpointError, ReadonlyMap<CheckpointFileName, string>> => {
  const damaged = (why: string): Either<CheckpointError, never> =>
    E.left(
      checkpointError(
        source,
        `is damaged (${why}), so the checkpoint cannot be verified; restore the directory from a copy, or re-save it from the training state`,
      ),
    )
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return damaged('not UTF-8 text')
  }
  const trailerAt = text.lastIndexOf(MANIFEST_TRAILER)
  if (trailerAt < 0 || !text.endsWith('\n')) return damaged('no checksum line at its end')
  const body = text.slice(0, trailerAt)
  const ownDigest = text.slice(trailerAt + MANIFEST_TRAILER.length, -1)
  if (!/^[0-9a-f]{64}$/.test(ownDigest)) return damaged(`its checksum line holds '${ownDigest.slice(0, 70)}'`)
  if (hash(utf8(body)) !== ownDigest) return damaged('its own checksum does not match its lines')
  if (!body.startsWith(MANIFEST_HEADER)) {
    const header = body.slice(0, body.indexOf('\n'))
    return /^# backfold checkpoint manifest, format \d+$/.test(header)
      ? E.left(
          checkpointError(
            source,
            `${header.slice(2)} is not supported (this version of backfold reads format ${CHECKPOINT_FORMAT_VERSION})`,
          ),
        )
      : damaged(`its first line is not '${MANIFEST_HEADER.trim()}'`)
  }
  const lines = body.slice(MANIFEST_HEADER.length).split('\n')
  // The body ends with a newline, so the last piece is empty.
  if (lines.pop() !== '' || lines.length !== CHECKPOINT_DATA_FILES.length)
    return damaged(`expected ${CHECKPOINT_DATA_FILES.length} file lines, found ${lines.length}`)
  const digests = new Map<CheckpointFileName, string>()
  for (const [i, file] of CHECKPOINT_DATA_FILES.entries()) {
    const match = /^([0-9a-f]{64}) {2}(.*)$/.exec(lines[i]!)
    if (match === null || match[2] !== file)
      return damaged(`line ${i + 2} should be '<sha256>  ${file}', found '${lines[i]!.slice(0, 90)}'`)
    digests.set(file, match[1]!)
  }
  return E.right(digests)
}

// ---------------------------------------------------------------------------------------------
// trees with non-tensor leaves
// ---------------------------------------------------------------------------------------------

type Special = Extract<TreeSkeleton, { readonly kind: 'special' }>['value']

const join = (path: string, key: string | number): string => (path === '' ? String(key) : `${path}.${key}`)
const where = (path: string): string => (path === '' ? 'the root' : `'${path}'`)

/**
 * The skeleton of a tree and its tensors named by dotted path (as `tree.flattenNamed` names them).
 * The walk mirrors `T.flatten`: tensors are leaves, arrays and other objects are nodes (keys in
 * `Object.keys` order), anything else is a constant.
 * @since 0.1.0
 */
export const skeletonOf = (
  tree: unknown,
): Either<
  string,
  { readonly skeleton: TreeSkeleton; readonly tensors: ReadonlyArray<readonly [string, Tensor]> }
> => {
  const tensors: Array<readonly [string, Tensor]> = []
  const seen = new Set<string>()
  const walk = (node: unknown, path: string): Either<string, TreeSkeleton> => {
    if (T.isTensor(node)) {
      if (seen.has(path)) return E.left(`two tensors are both named '${path}' (a key contains '.')`)
      seen.add(path)
      tensors.push([path, node])
      return E.right({ kind: 'tensor', name: path })
    }
    if (Array.isArray(node)) {
      const items: TreeSkeleton[] = []
      for (let i = 0; i < node.length; i++) {
        const item = walk(node[i], join(path, i))
        if (E.isLeft(item)) return item
        items.push(item.right)
      }
      return E.right({ kind: 'array', items })
    }
    if (typeof node === 'object' && node !== null) {
      const entries: Array<readonly [string, TreeSkeleton]> = []
      for (const [k, child] of Object.entries(node)) {
        const entry = walk(child, join(path, k))
        if (E.isLeft(entry)) return entry
        entries.push([k, entry.right])
      }
      return E.right({ kind: 'record', entries })
    }
    if (node === undefined) return E.right({ kind: 'special', value: 'undefined' })
    if (typeof node === 'number') {
      if (Number.isNaN(node)) return E.right({ kind: 'special', value: 'NaN' })
      if (node === Infinity) return E.right({ kind: 'special', value: 'Infinity' })
      if (node === -Infinity) return E.right({ kind: 'special', value: '-Infinity' })
      if (Object.is(node, -0)) return E.right({ kind: 'special', value: '-0' })
      return E.right({ kind: 'constant', value: node })
    }
    if (typeof node === 'string' || typeof node === 'boolean' || node === null)
      return E.right({ kind: 'constant', value: node })
    return E.left(
      `${where(path)} holds a ${typeof node}, which a checkpoint cannot store (tensors, numbers, strings, booleans and null can)`,
    )
  }
  return E.map((skeleton: TreeSkeleton) => ({ skeleton, tensors }))(walk(tree, ''))
}

const specialValue = (value: Special): number | undefined =>
  value === 'NaN'
    ? NaN
    : value === 'Infinity'
      ? Infinity
      : value === '-Infinity'
        ? -Infinity
        : value === '-0'
          ? -0
          : undefined

/**
 * Rebuilds a tree from its skeleton and named tensors; every tensor must be used exactly once.
 * Problems (missing, unused or twice-named tensors) are listed together.
 * @since 0.1.0
 */
export const treeFromSkeleton = (
  skeleton: TreeSkeleton,
  tensors: Readonly<Record<string, Tensor>>,
): Either<string, unknown> => {
  const problems: string[] = []
  const used = new Set<string>()
  const build = (node: TreeSkeleton): unknown => {
    switch (node.kind) {
      case 'tensor': {
        if (used.has(node.name)) problems.push(`the tree names tensor '${node.name}' twice`)
        used.add(node.name)
        const x = Object.prototype.hasOwnProperty.call(tensors, node.name) ? tensors[node.name] : undefined
        if (x === undefined) problems.push(`missing tensor '${node.name}'`)
        return x
      }
      case 'array':
        return node.items.map(build)
      case 'record': {
        const keys = new Set<string>()
        for (const [k] of node.entries) {
          if (keys.has(k)) problems.push(`key '${k}' appears twice in a record`)
          keys.add(k)
        }
        // fromEntries, not assignment: a key such as '__proto__' must stay an own entry.
        return Object.fromEntries(node.entries.map(([k, child]) => [k, build(child)]))
      }
      case 'constant':
        return node.value
      case 'special':
        return specialValue(node.value)
    }
  }
  const tree = build(skeleton)
  for (const name of Object.keys(tensors))
    if (!used.has(name)) problems.push(`unexpected tensor '${name}' (not in the tree)`)
  return problems.length > 0 ? E.left(problems.join('; ')) : E.right(tree)
}

const kindOf = (node: unknown): string =>
  T.isTensor(node)
    ? 'a tensor'
    : Array.isArray(node)
      ? 'an array'
      : node === null
        ? 'null'
        : typeof node === 'object'
          ? 'a record'
          : `a ${typeof node}`

/**
 * `loaded` arranged like `like` (key order from `like`), after checking that both have the same
 * structure, tensors of the same shapes and dtypes, and constants of the same types. All
 * mismatches are listed, each with its path. One upgrade: optimizers of backfold 0.2 kept their
 * step `count` as a number, now an int32 scalar tensor; a non-negative integer saved where the
 * template has an int32 scalar is read as that scalar.
 */
const conform = <A>(like: A, loaded: unknown): Either<string, A> => {
  const problems: string[] = []
  const walk = (a: unknown, b: unknown, path: string): unknown => {
    if (T.isTensor(a) && a.dtype === 'int32' && a.shape.length === 0 && typeof b === 'number')
      if (Number.isSafeInteger(b) && b >= 0 && b < 2 ** 31) return T.scalar(b, 'int32')
    if (T.isTensor(a)) {
      if (!T.isTensor(b)) problems.push(`${where(path)} is ${kindOf(b)}, expected a ${a.dtype} tensor`)
      else if (!T.shapesEqual(a.shape, b.shape) || a.dtype !== b.dtype)
        problems.push(
          `${where(path)} is ${b.dtype} ${T.fmtShape(b.shape)}, expected ${a.dtype} ${T.fmtShape(a.shape)}`,
        )
      return b
    }
    if (Array.isArray(a)) {
      if (!Array.isArray(b) || b.length !== a.length) {
        problems.push(
          `${where(path)} is ${Array.isArray(b) ? `an array of ${b.length}` : kindOf(b)}, expected an array of ${a.length}`,
        )
        return b
      }
      return a.map((item: unknown, i) => walk(item, b[i], join(path, i)))
    }
    if (typeof a === 'object' && a !== null) {
      if (typeof b !== 'object' || b === null || Array.isArray(b) || T.isTensor(b)) {
        problems.push(`${where(path)} is ${kindOf(b)}, expected a record`)
        return b
      }
      const keys = Object.keys(a)
      const extra = Object.keys(b).filter((k) => !keys.includes(k))
      for (const k of extra) problems.push(`unexpected ${where(join(path, k))}`)
      const av = a as Readonly<Record<string, unknown>>
      const bv = b as Readonly<Record<string, unknown>>
      const missing = keys.filter((k) => !Object.prototype.hasOwnProperty.call(bv, k))
      for (const k of missing) problems.push(`missing ${where(join(path, k))}`)
      return Object.fromEntries(keys.map((k) => [k, walk(av[k], bv[k], join(path, k))]))
    }
    if (typeof a !== typeof b || (a === null) !== (b === null))
      problems.push(`${where(path)} is ${kindOf(b)}, expected ${kindOf(a)}`)
    return b
  }
  const tree = walk(like, loaded, '')
  // `walk` returned a value with exactly `like`'s structure, or problems were recorded.
  return problems.length > 0
    ? E.left(`${problems.length} mismatch(es): ${problems.join('; ')}`)
    : E.right(tree as A)
}

// ---------------------------------------------------------------------------------------------
// encode
// ---------------------------------------------------------------------------------------------

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)
const jsonFile = (value: unknown): Uint8Array => utf8(`${JSON.stringify(value, null, 2)}\n`)

const safetensorsFile = (
  file: CheckpointFileName,
  tree: unknown,
  kind: string,
): Either<CheckpointError, Uint8Array> => {
  const names = new Set<string>()
  for (const [name] of flattenNamed(tree)) {
    if (names.has(name))
      return E.left(
        checkpointError(file, `two ${kind} tensors are both named '${name}' (a key contains '.')`),
      )
    names.add(name)
  }
  try {
    return E.right(encodeSafetensors(tree))
  } catch (e) {
    if (e instanceof T.BackfoldError) return E.left(checkpointError(file, e.message))
    throw e
  }
}

const isRecordOfJson = (value: unknown): value is Readonly<Record<string, JsonValue>> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * Options of `encodeCheckpoint`; `layers` lists the kinds the config may hold (default
 * `builtinLayers`; add custom kinds: `[...builtinLayers, gluKind]`).
 * @since 0.2.0
 */
export interface EncodeCheckpointOptions extends LayerKindsOption {
  /** The SHA-256 the manifest is computed with (default `sha256Hex`). */
  readonly sha256?: Sha256
}

/**
 * The bytes of every file of a checkpoint, in writing order (`manifest.sha256`, the checksums of the
 * others, last). Checks first that
 * the contents can be loaded again: the config decodes, builds a model for `inShape` whose params
 * and state have exactly the given names, shapes and dtypes, the key is a key, and the counts are
 * non-negative integers; a `Left` names the file and the problem, and nothing is written.
 * @example
 * const files = encodeCheckpoint({ config, inShape: [64], params, state, optState, step: 300, epoch: 3, key })
 * @since 0.1.0
 */
export const encodeCheckpoint = (
  contents: CheckpointContents,
  opts: EncodeCheckpointOptions = {},
): Either<CheckpointError, ReadonlyArray<readonly [CheckpointFileName, Uint8Array]>> => {
  const { config, inShape, params, state, optState, step, epoch, key } = contents
  const history = contents.history ?? []
  if (!Number.isSafeInteger(step) || step < 0)
    return E.left(checkpointError('meta.json', `step must be a non-negative integer, got ${show(step)}`))
  if (!Number.isSafeInteger(epoch) || epoch < 0)
    return E.left(checkpointError('meta.json', `epoch must be a non-negative integer, got ${show(epoch)}`))
  if (!T.random.isKey(key))
    return E.left(checkpointError('meta.json', `key must be a PRNG key (random.key(seed)), got ${show(key)}`))
  if (!Array.isArray(inShape) || !inShape.every((d) => Number.isSafeInteger(d) && d >= 0))
    return E.left(
      checkpointError('meta.json', `inShape must be a list of non-negative integers, got ${show(inShape)}`),
    )
  if (!isRecordOfJson(config))
    return E.left(checkpointError('config.json', `config must be a layer config object, got ${show(config)}`))
  const model = decodeModel(config, opts)
  if (E.isLeft(model)) return E.left(checkpointError('config.json', formatConfigError(model.left)))
  const built = model.right.init(T.random.key(0), inShape)
  if (E.isLeft(built))
    return E.left(
      checkpointError(
        'config.json',
        `the config does not build a model for inShape ${T.fmtShape(inShape)}: ${formatLayerError(built.left)}`,
      ),
    )
  // The params and state must be the config's, or the checkpoint would be unloadable.
  const paramsCheck = loadParams(built.right.params, Object.fromEntries(flattenNamed(params)), {
    source: 'params.safetensors',
  })
  if (E.isLeft(paramsCheck))
    return E.left(
      checkpointError('params.safetensors', `the params do not fit the config: ${paramsCheck.left.message}`),
    )
  const stateCheck = loadParams(built.right.state, Object.fromEntries(flattenNamed(state)), {
    source: 'state.safetensors',
  })
  if (E.isLeft(stateCheck))
    return E.left(
      checkpointError('state.safetensors', `the state does not fit the config: ${stateCheck.left.message}`),
    )
  const optimizer = skeletonOf(optState)
  if (E.isLeft(optimizer)) return E.left(checkpointError('optimizer.json', `optState: ${optimizer.left}`))

  const paramsBytes = safetensorsFile('params.safetensors', params, 'parameter')
  if (E.isLeft(paramsBytes)) return paramsBytes
  const stateBytes = safetensorsFile('state.safetensors', state, 'state')
  if (E.isLeft(stateBytes)) return stateBytes
  const optimizerBytes = safetensorsFile(
    'optimizer.safetensors',
    Object.fromEntries(optimizer.right.tensors),
    'optimizer',
  )
  if (E.isLeft(optimizerBytes)) return optimizerBytes
  const meta = MetaCodec.encode({
    format: 'backfold.checkpoint',
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    step,
    epoch,
    key: [key.words[0], key.words[1]],
    inShape: [...inShape],
    history: [],
  })
  // Encoded field by field: io-ts's intersection encoder keeps NaN as is (JSON would make it null).
  const encodedHistory = history.map((record) => {
    const out: Record<string, number | string> = {}
    for (const [field, value] of Object.entries(record))
      if (typeof value === 'number')
        out[field] = field === 'epoch' || field === 'samples' ? value : jsonNumber.encode(value)
    return out
  })
  const files: ReadonlyArray<readonly [CheckpointFileName, Uint8Array]> = [
    ['config.json', jsonFile(config)],
    ['params.safetensors', paramsBytes.right],
    ['state.safetensors', stateBytes.right],
    ['optimizer.safetensors', optimizerBytes.right],
    [
      'optimizer.json',
      jsonFile(
        OptimizerFileCodec.encode({
          formatVersion: CHECKPOINT_FORMAT_VERSION,
          tree: optimizer.right.skeleton,
        }),
      ),
    ],
    ['meta.json', jsonFile({ ...meta, history: encodedHistory })],
  ]
  return E.right([...files, [CHECKPOINT_MANIFEST, encodeManifest(files, opts.sha256 ?? sha256Hex)]])
}

// ---------------------------------------------------------------------------------------------
// decode
// ---------------------------------------------------------------------------------------------

/**
 * Options of `decodeCheckpoint` (and of the Node `loadCheckpoint`); `layers` lists the kinds
 * `config.json` may hold (default `builtinLayers`; add custom kinds: `[...builtinLayers, gluKind]`).
 * @since 0.1.0
 */
export interface DecodeCheckpointOptions<O> extends LayerKindsOption {
  /**
   * The optimizer training will continue with: its `init(params)` is the template the optimizer state
   * is checked against (structure, shapes, dtypes, kinds of constants). Without it the state is
   * rebuilt from `optimizer.json` alone and typed `unknown`.
   */
  readonly optimizer?: GradientTransformation<O>
  /**
   * Skip the check that `config.json` describes the same architecture as `model.config` (default
   * false). Parameter names, shapes and dtypes are checked either way.
   */
  readonly ignoreConfigMismatch?: boolean
  /** Prefix of file names in error messages (the directory), e.g. `'runs/mnist'`. */
  readonly location?: string
  /**
   * Load a checkpoint of format 1 (written by backfold 0.1, which has no `manifest.sha256`) without
   * verifying checksums (default false: such a checkpoint is refused with a `Left` saying how to
   * upgrade it). Load it once this way and save it again with `saveCheckpoint`, which writes the
   * manifest. A checkpoint of format 2 is verified whatever this says.
   * @since 0.2.0
   */
  readonly allowUnverified?: boolean
  /** The SHA-256 the files are checked with (default `sha256Hex`). @since 0.2.0 */
  readonly sha256?: Sha256
}

/** Reads one file of a checkpoint: its bytes, or why they could not be read. @since 0.1.0 */
export type CheckpointReader = (file: CheckpointFileName) => Either<CheckpointError, Uint8Array>

const parseJson = <A, O>(
  bytes: Uint8Array,
  codec: t.Type<A, O, unknown>,
  source: string,
): Either<CheckpointError, A> => {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return E.left(checkpointError(source, 'is not valid UTF-8 text'))
  }
  // Bounded in depth before io-ts (which recurses once per level) ever sees it.
  const value = parseJsonText(text)
  if (E.isLeft(value)) return E.left(checkpointError(source, `is ${value.left}`))
  const decoded = codec.decode(value.right)
  return E.isLeft(decoded)
    ? E.left(checkpointError(source, formatValidationErrors(decoded.left)))
    : E.right(decoded.right)
}

const sizeOf = (shape: Shape): number => shape.reduce((n, d) => n * d, 1)

/**
 * How many parameter and state values `model.init` may allocate when the files hold `held`: twice
 * that plus 4M (16 MB of float32), so a model that differs a little (a wider layer, loaded with
 * `ignoreConfigMismatch`) still gets the full list of mismatches from `loadParams`, while an edited
 * inShape that would allocate gigabytes is refused before anything is allocated.
 */
const initBudget = (held: number): number => 2 * held + 2 ** 22

const recordOf = (value: unknown): Readonly<Record<string, unknown>> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value))
    : undefined

/**
 * Whether `init` of the model `config` for the per-example `inShape` allocates at most `budget`
 * parameter and state values, found out WITHOUT that allocation: the layer API has no shape-only
 * `init`, so each kind's `allocation` (`LayerKind`) works out what its `init` would allocate and,
 * for the kinds that allocate, its output shape; layers that allocate nothing are sized by their
 * own `init`. A `Left` holds the count past the budget (at the first layer that passes it). A
 * `Right` means the walk stayed within the budget, or reached what it cannot size (a layer `init`
 * would reject, or a kind without `allocation`), where the real `init` takes over, having at most
 * budget's worth allocated before. Sizing a kind too small would only weaken the check: the exact
 * names, shapes and dtypes are compared after `init`.
 */
const initFitsBudget = (
  kinds: ReadonlyMap<string, LayerKind>,
  layers: LayerKindsOption,
  config: unknown,
  inShape: Shape,
  budget: number,
): Either<number, void> => {
  let total = 0
  let stopped = false
  // The output shape of `node` for `input`, or undefined once the walk cannot go on.
  const walk = (node: unknown, input: Shape): Shape | undefined => {
    const c = recordOf(node)
    if (c === undefined || stopped) return undefined
    const kind = typeof c['kind'] === 'string' ? kinds.get(c['kind']) : undefined
    const leaf = kind?.allocation?.(c, input, walk)
    if (stopped) return undefined
    if (leaf !== undefined) total += leaf.size
    if (leaf === undefined || total > budget) {
      stopped = true
      return undefined
    }
    if (leaf.outShape !== undefined) return leaf.outShape
    const layer = decodeModel(c, layers)
    const built = E.isLeft(layer) ? undefined : layer.right.init(T.random.key(0), input)
    if (built === undefined || E.isLeft(built)) {
      stopped = true
      return undefined
    }
    return built.right.outShape
  }
  walk(config, [...inShape])
  return total > budget ? E.left(total) : E.right(undefined)
}

/** Differences between two JSON values, as `path: checkpoint has X, model has Y` (the first few). */
const jsonDifferences = (saved: unknown, current: unknown, path = '', out: string[] = []): string[] => {
  if (out.length >= 3) return out
  const bothRecords = isRecordOfJson(saved) && isRecordOfJson(current)
  if (Array.isArray(saved) && Array.isArray(current) && saved.length === current.length)
    saved.forEach((v, i) => jsonDifferences(v, current[i], join(path, i), out))
  else if (bothRecords) {
    const keys = [...new Set([...Object.keys(saved), ...Object.keys(current)])]
    for (const k of keys) jsonDifferences(saved[k], current[k], join(path, k), out)
  } else if (!Object.is(saved, current) && JSON.stringify(saved) !== JSON.stringify(current))
    out.push(
      `${path === '' ? 'the root' : path}: the checkpoint has ${show(saved)}, the model has ${show(current)}`,
    )
  return out
}

/**
 * A config in the form the constructors produce (decode then re-read the built layer's config),
 * so `{ kind: 'dense', units: 4 }` and the same with `useBias: true` compare equal where the
 * builders make them so.
 */
const normalizedConfig = (config: LayerConfig, layers: LayerKindsOption): unknown => {
  const decoded = decodeModel(config, layers)
  return E.isRight(decoded) && decoded.right.config !== undefined ? decoded.right.config : config
}

const keyFromWords = (words: readonly [number, number]): Key => {
  // A Key is the record random.key builds; the words were checked to be two uint32s.
  const key: Key = Object.freeze({
    kind: 'backfold.key' as const,
    words: Object.freeze([words[0], words[1]] as const),
  })
  return key
}

const toEpochRecord = (r: t.TypeOf<typeof EpochRecordCodec>): EpochRecord => ({
  epoch: r.epoch,
  loss: r.loss,
  ...(r.accuracy === undefined ? {} : { accuracy: r.accuracy }),
  ...(r.valLoss === undefined ? {} : { valLoss: r.valLoss }),
  ...(r.valAccuracy === undefined ? {} : { valAccuracy: r.valAccuracy }),
  seconds: r.seconds,
  samples: r.samples,
})

/**
 * Reads, verifies and validates every file of a checkpoint for `model`. First `manifest.sha256`:
 * its own checksum, then every other file's SHA-256 against it, before anything is parsed (a
 * `Left` names the damaged file). Then `meta.json` and `optimizer.json` with io-ts; `config.json`
 * with `decodeModel` and against `model.config`; the safetensors files with `decodeSafetensors`;
 * then, before `model.init` allocates anything, that the model needs no more parameter and state
 * values for the saved `inShape` than the files hold; then the params and state against
 * `model.init(…, inShape)` and the optimizer state against `optimizer.init(params)` when an
 * optimizer is given. Every JSON file is read with a bound on its nesting depth. The first file with
 * a problem gives a `Left` naming it (a shape mismatch lists all mismatches of that file). A
 * checkpoint of format 1 (backfold 0.1, no manifest) is refused unless `allowUnverified` is set.
 * @example
 * const files = new Map(E.getOrElseW(() => [])(encodeCheckpoint(contents))) // or read from disk
 * const checkpoint = decodeCheckpoint((file) => E.right(files.get(file) ?? new Uint8Array()), model, { optimizer })
 * @since 0.1.0
 */
export const decodeCheckpoint = <P, S, O = unknown>(
  read: CheckpointReader,
  model: Layer<P, S>,
  opts: DecodeCheckpointOptions<O> = {},
): Either<CheckpointError, Checkpoint<P, S, O>> => {
  const source = (file: CheckpointFileName): string =>
    opts.location === undefined ? file : `${opts.location.replace(/[\\/]+$/, '')}/${file}`
  const readOnce = (file: CheckpointFileName): Either<CheckpointError, Uint8Array> =>
    E.mapLeft((e: CheckpointError) => (e.source === file ? checkpointError(source(file), e.message) : e))(
      read(file),
    )

  // The manifest first, and every file checked against it; the checked bytes are the ones parsed
  // below (reading a file again could see a different file).
  const verified = new Map<CheckpointFileName, Uint8Array>()
  const manifestBytes = readOnce(CHECKPOINT_MANIFEST)
  let formatVersion: number
  if (E.isRight(manifestBytes)) {
    const hash = opts.sha256 ?? sha256Hex
    const digests = readManifest(manifestBytes.right, hash, source(CHECKPOINT_MANIFEST))
    if (E.isLeft(digests)) return digests
    for (const [file, expected] of digests.right) {
      const bytes = readOnce(file)
      if (E.isLeft(bytes)) return bytes
      const actual = hash(bytes.right)
      if (actual !== expected)
        return E.left(
          checkpointError(
            source(file),
            `is corrupt: its SHA-256 is ${actual}, but ${CHECKPOINT_MANIFEST} records ${expected}; ` +
              'restore the checkpoint from a copy, or re-save it from the training state',
          ),
        )
      verified.set(file, bytes.right)
    }
    formatVersion = CHECKPOINT_FORMAT_VERSION
  } else {
    // Without a manifest this is either backfold 0.1's layout (meta.json says version 1) or damage.
    const metaBytes = readOnce('meta.json')
    const header = E.isLeft(metaBytes)
      ? metaBytes
      : parseJson(metaBytes.right, MetaHeaderCodec, source('meta.json'))
    if (E.isLeft(header) || header.right.formatVersion !== UNVERIFIED_FORMAT_VERSION) return manifestBytes
    if (opts.allowUnverified !== true)
      return E.left(
        checkpointError(
          source('meta.json'),
          `is a checkpoint of format ${UNVERIFIED_FORMAT_VERSION} (backfold 0.1), which has no ${CHECKPOINT_MANIFEST}, so damage to it cannot be detected; ` +
            'if you trust it, load it once with { allowUnverified: true } and save it again with saveCheckpoint, which adds the checksums',
        ),
      )
    formatVersion = UNVERIFIED_FORMAT_VERSION
  }
  const readFile = (file: CheckpointFileName): Either<CheckpointError, Uint8Array> => {
    const bytes = verified.get(file)
    return bytes === undefined ? readOnce(file) : E.right(bytes)
  }

  // meta.json: the version first, so a newer layout is named as such rather than as a bad field.
  const metaBytes = readFile('meta.json')
  if (E.isLeft(metaBytes)) return metaBytes
  const header = parseJson(metaBytes.right, MetaHeaderCodec, source('meta.json'))
  if (E.isLeft(header)) return header
  if (header.right.formatVersion !== formatVersion)
    return E.left(
      checkpointError(
        source('meta.json'),
        formatVersion === CHECKPOINT_FORMAT_VERSION
          ? `format version ${show(header.right.formatVersion)} does not match ${CHECKPOINT_MANIFEST}'s format ${CHECKPOINT_FORMAT_VERSION}` +
              (header.right.formatVersion > CHECKPOINT_FORMAT_VERSION
                ? ` (is not supported: this version of backfold reads version ${CHECKPOINT_FORMAT_VERSION})`
                : '')
          : `format version ${show(header.right.formatVersion)} is not supported (this version of backfold reads version ${CHECKPOINT_FORMAT_VERSION})`,
      ),
    )
  const meta = parseJson(metaBytes.right, MetaCodec, source('meta.json'))
  if (E.isLeft(meta)) return meta

  const configBytes = readFile('config.json')
  if (E.isLeft(configBytes)) return configBytes
  const configJson = parseJson(configBytes.right, t.unknown, source('config.json'))
  if (E.isLeft(configJson)) return configJson
  const layers: LayerKindsOption = opts.layers === undefined ? {} : { layers: opts.layers }
  const kinds = kindRegistry(layers)
  if (E.isLeft(kinds)) return E.left(checkpointError(source('config.json'), formatConfigError(kinds.left)))
  const savedModel = decodeModel(configJson.right, layers)
  if (E.isLeft(savedModel))
    return E.left(checkpointError(source('config.json'), formatConfigError(savedModel.left)))
  // decodeModel accepted it, so it is a layer config object.
  const config = configJson.right as LayerConfig
  if (opts.ignoreConfigMismatch !== true && model.config !== undefined) {
    const differences = jsonDifferences(
      normalizedConfig(config, layers),
      normalizedConfig(model.config, layers),
    )
    if (differences.length > 0)
      return E.left(
        checkpointError(
          source('config.json'),
          `describes a different model than the one given (${differences.join('; ')}); ` +
            'load it with the model it was saved from (decodeModel of this config), or pass ignoreConfigMismatch',
        ),
      )
  }

  const tensorsOf = (file: CheckpointFileName): Either<CheckpointError, Readonly<Record<string, Tensor>>> => {
    const bytes = readFile(file)
    if (E.isLeft(bytes)) return bytes
    return E.map((decoded: { readonly tensors: Readonly<Record<string, Tensor>> }) => decoded.tensors)(
      decodeSafetensors(bytes.right, { source: source(file) }),
    )
  }
  const paramTensors = tensorsOf('params.safetensors')
  if (E.isLeft(paramTensors)) return paramTensors
  const stateTensors = tensorsOf('state.safetensors')
  if (E.isLeft(stateTensors)) return stateTensors

  // The saved inShape sizes everything init allocates: checked against what the files hold first,
  // so an edited inShape costs nothing (init of [2097152] inputs would allocate gigabytes).
  const { inShape } = meta.right
  const held = [...Object.values(paramTensors.right), ...Object.values(stateTensors.right)].reduce(
    (n, x) => n + sizeOf(x.shape),
    0,
  )
  const fits = initFitsBudget(kinds.right, layers, model.config ?? config, inShape, initBudget(held))
  if (E.isLeft(fits))
    return E.left(
      checkpointError(
        source('meta.json'),
        `the saved inShape ${T.fmtShape(inShape)} makes the model need at least ${fits.left} parameter and state values, ` +
          `but params.safetensors and state.safetensors hold ${held}: the inShape does not belong to these files ` +
          '(the model was not initialised to find out)',
      ),
    )
  const built = model.init(T.random.key(0), inShape)
  if (E.isLeft(built))
    return E.left(
      checkpointError(
        source('meta.json'),
        `the model cannot be built for the saved inShape ${T.fmtShape(inShape)}: ${formatLayerError(built.left)}`,
      ),
    )
  const params = loadParams(built.right.params, paramTensors.right, { source: source('params.safetensors') })
  if (E.isLeft(params)) return params
  const state = loadParams(built.right.state, stateTensors.right, { source: source('state.safetensors') })
  if (E.isLeft(state)) return state

  const optimizerBytes = readFile('optimizer.json')
  if (E.isLeft(optimizerBytes)) return optimizerBytes
  const optimizerFile = parseJson(optimizerBytes.right, OptimizerFileCodec, source('optimizer.json'))
  if (E.isLeft(optimizerFile)) return optimizerFile
  const optimizerTensors = tensorsOf('optimizer.safetensors')
  if (E.isLeft(optimizerTensors)) return optimizerTensors
  const rebuilt = treeFromSkeleton(optimizerFile.right.tree, optimizerTensors.right)
  if (E.isLeft(rebuilt))
    return E.left(
      checkpointError(source('optimizer.safetensors'), `does not match optimizer.json: ${rebuilt.left}`),
    )
  let optState: O
  if (opts.optimizer === undefined)
    // Without an optimizer there is no template: O defaults to unknown, which any tree is.
    optState = rebuilt.right as O
  else {
    const conformed = conform(opts.optimizer.init(params.right), rebuilt.right)
    if (E.isLeft(conformed))
      return E.left(
        checkpointError(
          source('optimizer.json'),
          `the optimizer state does not fit the given optimizer: ${conformed.left}`,
        ),
      )
    optState = conformed.right
  }

  return E.right({
    config,
    inShape: [...inShape],
    params: params.right,
    state: state.right,
    optState,
    step: meta.right.step,
    epoch: meta.right.epoch,
    key: keyFromWords(meta.right.key),
    history: meta.right.history.map(toEpochRecord),
  })
}
