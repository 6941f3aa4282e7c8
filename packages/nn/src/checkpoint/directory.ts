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
 *
 * `encodeCheckpoint` turns a training state into these files' bytes and `decodeCheckpoint` validates
 * them all (io-ts for every JSON file; names, shapes and dtypes against the model's `init` through
 * `loadParams`), so nothing wrong reaches training. Files on disk, written crash-safely, are in
 * `@backfold/nn/node` (`saveCheckpoint`, `loadCheckpoint`); this module runs in browsers too.
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
import { decodeModel, formatConfigError } from '../config/codec'
import { flattenNamed } from '../tree'
import { checkpointError, decodeSafetensors, encodeSafetensors, loadParams } from './safetensors'
import type { CheckpointError } from './safetensors'

// ---------------------------------------------------------------------------------------------
// model
// ---------------------------------------------------------------------------------------------

/** Version of the checkpoint layout written by this code; readers refuse any other. @since 0.1.0 */
export const CHECKPOINT_FORMAT_VERSION = 1

/**
 * The files of a checkpoint directory, in the order they are written: `meta.json` comes last, so a
 * directory holding it is complete.
 * @since 0.1.0
 */
export const CHECKPOINT_FILES = [
  'config.json',
  'params.safetensors',
  'state.safetensors',
  'optimizer.safetensors',
  'optimizer.json',
  'meta.json',
] as const

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

const MetaCodec = t.type({
  format: t.literal('backfold.checkpoint'),
  formatVersion: t.literal(CHECKPOINT_FORMAT_VERSION),
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
  formatVersion: t.literal(CHECKPOINT_FORMAT_VERSION),
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
 * mismatches are listed, each with its path.
 */
const conform = <A>(like: A, loaded: unknown): Either<string, A> => {
  const problems: string[] = []
  const walk = (a: unknown, b: unknown, path: string): unknown => {
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
 * The bytes of every file of a checkpoint, in writing order (`meta.json` last). Checks first that
 * the contents can be loaded again: the config decodes, builds a model for `inShape` whose params
 * and state have exactly the given names, shapes and dtypes, the key is a key, and the counts are
 * non-negative integers; a `Left` names the file and the problem, and nothing is written.
 * @example
 * const files = encodeCheckpoint({ config, inShape: [64], params, state, optState, step: 300, epoch: 3, key })
 * @since 0.1.0
 */
export const encodeCheckpoint = (
  contents: CheckpointContents,
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
  const model = decodeModel(config)
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
  return E.right([
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
  ])
}

// ---------------------------------------------------------------------------------------------
// decode
// ---------------------------------------------------------------------------------------------

/** Options of `decodeCheckpoint` (and of the Node `loadCheckpoint`). @since 0.1.0 */
export interface DecodeCheckpointOptions<O> {
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
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return E.left(checkpointError(source, `is not valid JSON (${(e as Error).message})`))
  }
  const decoded = codec.decode(value)
  return E.isLeft(decoded)
    ? E.left(checkpointError(source, formatValidationErrors(decoded.left)))
    : E.right(decoded.right)
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
const normalizedConfig = (config: LayerConfig): unknown => {
  const decoded = decodeModel(config)
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
 * Reads and validates every file of a checkpoint for `model`: `meta.json` and `optimizer.json`
 * with io-ts; `config.json` with `decodeModel` and against `model.config`; the safetensors files
 * with `decodeSafetensors`, then the params and state against `model.init(…, inShape)` and the
 * optimizer state against `optimizer.init(params)` when an optimizer is given. The first file with
 * a problem gives a `Left` naming it (a shape mismatch lists all mismatches of that file).
 * @example
 * const checkpoint = decodeCheckpoint((file) => E.right(files[file]), model, { optimizer })
 * @since 0.1.0
 */
export const decodeCheckpoint = <P, S, O = unknown>(
  read: CheckpointReader,
  model: Layer<P, S>,
  opts: DecodeCheckpointOptions<O> = {},
): Either<CheckpointError, Checkpoint<P, S, O>> => {
  const source = (file: CheckpointFileName): string =>
    opts.location === undefined ? file : `${opts.location.replace(/[\\/]+$/, '')}/${file}`
  const readFile = (file: CheckpointFileName): Either<CheckpointError, Uint8Array> =>
    E.mapLeft((e: CheckpointError) => (e.source === file ? checkpointError(source(file), e.message) : e))(
      read(file),
    )

  // meta.json: the version first, so a newer layout is named as such rather than as a bad field.
  const metaBytes = readFile('meta.json')
  if (E.isLeft(metaBytes)) return metaBytes
  const header = parseJson(metaBytes.right, MetaHeaderCodec, source('meta.json'))
  if (E.isLeft(header)) return header
  if (header.right.formatVersion !== CHECKPOINT_FORMAT_VERSION)
    return E.left(
      checkpointError(
        source('meta.json'),
        `format version ${show(header.right.formatVersion)} is not supported (this version of backfold reads version ${CHECKPOINT_FORMAT_VERSION})`,
      ),
    )
  const meta = parseJson(metaBytes.right, MetaCodec, source('meta.json'))
  if (E.isLeft(meta)) return meta

  const configBytes = readFile('config.json')
  if (E.isLeft(configBytes)) return configBytes
  const configJson = parseJson(configBytes.right, t.unknown, source('config.json'))
  if (E.isLeft(configJson)) return configJson
  const savedModel = decodeModel(configJson.right)
  if (E.isLeft(savedModel))
    return E.left(checkpointError(source('config.json'), formatConfigError(savedModel.left)))
  // decodeModel accepted it, so it is a layer config object.
  const config = configJson.right as LayerConfig
  if (opts.ignoreConfigMismatch !== true && model.config !== undefined) {
    const differences = jsonDifferences(normalizedConfig(config), normalizedConfig(model.config))
    if (differences.length > 0)
      return E.left(
        checkpointError(
          source('config.json'),
          `describes a different model than the one given (${differences.join('; ')}); ` +
            'load it with the model it was saved from (decodeModel of this config), or pass ignoreConfigMismatch',
        ),
      )
  }

  const { inShape } = meta.right
  const built = model.init(T.random.key(0), inShape)
  if (E.isLeft(built))
    return E.left(
      checkpointError(
        source('meta.json'),
        `the model cannot be built for the saved inShape ${T.fmtShape(inShape)}: ${formatLayerError(built.left)}`,
      ),
    )

  const tensorsOf = (file: CheckpointFileName): Either<CheckpointError, Readonly<Record<string, Tensor>>> => {
    const bytes = readFile(file)
    if (E.isLeft(bytes)) return bytes
    return E.map((decoded: { readonly tensors: Readonly<Record<string, Tensor>> }) => decoded.tensors)(
      decodeSafetensors(bytes.right, { source: source(file) }),
    )
  }
  const paramTensors = tensorsOf('params.safetensors')
  if (E.isLeft(paramTensors)) return paramTensors
  const params = loadParams(built.right.params, paramTensors.right, { source: source('params.safetensors') })
  if (E.isLeft(params)) return params
  const stateTensors = tensorsOf('state.safetensors')
  if (E.isLeft(stateTensors)) return stateTensors
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
