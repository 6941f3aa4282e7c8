/**
 * Checkpoint directories on disk, written crash-safely, and training that checkpoints and resumes.
 *
 * Crash-safety guarantee (POSIX file systems that honour `fsync` and atomic `rename`, one writer
 * per directory): a save writes every file into a fresh sibling `<dir>.tmp-<random>` (each file
 * atomically: temporary file, `fsync`, rename; `meta.json` last), `fsync`s it, then renames the
 * current `<dir>` to `<dir>.old-<random>`, renames the new one to `<dir>`, `fsync`s the parent, and
 * only then removes the old one. Hence, at every instant:
 *
 * - `<dir>` is a complete checkpoint, the previous or the new one, never a mix or a partial one; or
 * - only between the two renames, `<dir>` is absent and the previous complete checkpoint is
 *   `<dir>.old-<random>`: `loadCheckpoint(dir)` then loads that one.
 *
 * A save that fails (a `Left`: disk full, permissions, an injected failure) leaves `<dir>` as it
 * was and removes its temporary directory. After a crash, stale `<dir>.tmp-*` / `<dir>.old-*`
 * siblings may remain; the next successful save removes them. Once `saveCheckpoint` returns
 * `Right`, the new checkpoint is durable. A `<dir>` that exists but holds no `meta.json` is never
 * replaced (it is not a checkpoint and might be the user's data).
 *
 * Everything here is synchronous on purpose: `fit` and its callbacks are synchronous, so a
 * checkpoint taken at the end of an epoch is written before the next epoch starts.
 * @since 0.1.0
 */
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import type { Shape } from '@backfold/tensor'
import type { Layer, LayerConfig } from '../layer'
import { encodeModel, formatConfigError } from '../config/codec'
import { asChild } from '../layers/common'
import { checkpointError } from '../checkpoint/safetensors'
import type { CheckpointError } from '../checkpoint/safetensors'
import { decodeCheckpoint, encodeCheckpoint } from '../checkpoint/directory'
import type {
  Checkpoint,
  CheckpointContents,
  CheckpointFileName,
  DecodeCheckpointOptions,
} from '../checkpoint/directory'
import { fit } from '../train/fit'
import type { FitOptions, FitResult } from '../train/fit'
import type { Callback } from '../train/callbacks'

// ---------------------------------------------------------------------------------------------
// file system
// ---------------------------------------------------------------------------------------------

/**
 * The file operations a checkpoint needs, all synchronous. `nodeCheckpointFileSystem` is the real
 * one; tests replace single operations to inject failures (a write that fails midway, a crash
 * between two renames).
 * @since 0.1.0
 */
export interface CheckpointFileSystem {
  /** Writes a whole file atomically and durably (temporary file, fsync, rename). */
  readonly writeFile: (path: string, bytes: Uint8Array) => void
  readonly readFile: (path: string) => Uint8Array
  /** Creates a directory (and its parents); fine if it exists. */
  readonly mkdir: (path: string) => void
  readonly rename: (from: string, to: string) => void
  /** Removes a file or a directory tree; fine if it does not exist. */
  readonly remove: (path: string) => void
  readonly kind: (path: string) => 'missing' | 'file' | 'directory'
  readonly list: (path: string) => ReadonlyArray<string>
  /** Makes a directory's entries (creations, renames) durable. */
  readonly syncDirectory: (path: string) => void
}

const suffix = (): string => randomBytes(6).toString('hex')

const writeFileAtomicSync = (path: string, bytes: Uint8Array): void => {
  const temporary = join(dirname(path), `.${basename(path)}.${suffix()}.tmp`)
  try {
    const fd = openSync(temporary, 'w')
    try {
      let written = 0
      while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temporary, path)
  } catch (error) {
    rmSync(temporary, { force: true })
    throw error
  }
}

/** Error codes of platforms that cannot open or fsync a directory (Windows); nothing to do there. */
const NO_DIRECTORY_SYNC = new Set(['EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'EBADF', 'ENOTSUP'])

const syncDirectorySync = (path: string): void => {
  let fd: number | undefined
  try {
    fd = openSync(path, 'r')
    fsyncSync(fd)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === undefined || !NO_DIRECTORY_SYNC.has(code)) throw error
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** The real file system. @since 0.1.0 */
export const nodeCheckpointFileSystem: CheckpointFileSystem = {
  writeFile: writeFileAtomicSync,
  readFile: (path) => readFileSync(path),
  mkdir: (path) => {
    mkdirSync(path, { recursive: true })
  },
  rename: renameSync,
  remove: (path) => rmSync(path, { recursive: true, force: true }),
  kind: (path) => {
    try {
      return statSync(path).isDirectory() ? 'directory' : 'file'
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
      throw error
    }
  },
  list: (path) => readdirSync(path),
  syncDirectory: syncDirectorySync,
}

/** Options shared by `saveCheckpoint` and `loadCheckpoint`. @since 0.1.0 */
export interface CheckpointIoOptions {
  /** Replace file operations (tests inject failures this way); unset ones are the real ones. */
  readonly fileSystem?: Partial<CheckpointFileSystem>
}

const fileSystemOf = (opts: CheckpointIoOptions): CheckpointFileSystem => ({
  ...nodeCheckpointFileSystem,
  ...opts.fileSystem,
})

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Names of `<name>.tmp-*` / `<name>.old-*` siblings in `parent` (left by interrupted saves). */
const siblings = (fs: CheckpointFileSystem, parent: string, name: string, kind: 'tmp' | 'old'): string[] => {
  const pattern = new RegExp(`^${escapeRegExp(name)}\\.${kind}-[0-9a-f]{12}$`)
  try {
    return fs.list(parent).filter((entry) => pattern.test(entry))
  } catch {
    return []
  }
}

const isFile = (fs: CheckpointFileSystem, path: string): boolean => {
  try {
    return fs.kind(path) === 'file'
  } catch {
    return false
  }
}

const quietly = (f: () => void): void => {
  try {
    f()
  } catch {
    // Best-effort cleanup after a failure: the failure itself is what gets reported.
  }
}

// ---------------------------------------------------------------------------------------------
// save and load
// ---------------------------------------------------------------------------------------------

/**
 * Saves a checkpoint directory crash-safely (see the module notes for the exact guarantee):
 * `config.json`, `params.safetensors`, `state.safetensors`, `optimizer.safetensors`,
 * `optimizer.json` and `meta.json`. The contents are validated first (`encodeCheckpoint`), so a
 * checkpoint that could not be loaded again is never written. A `Left` names the file or step that
 * failed; the previous checkpoint in `dir` is then unchanged.
 * @example
 * import * as T from '@backfold/tensor'
 * import { encodeModel } from '@backfold/nn'
 * import { saveCheckpoint, loadCheckpoint } from '@backfold/nn/node'
 * // after some training, with config = encodeModel(model) (a Right):
 * saveCheckpoint('runs/mnist', { config, inShape: [784], params, state, optState, step: 1875, epoch: 1, key })
 * const checkpoint = loadCheckpoint('runs/mnist', model, { optimizer })
 * @since 0.1.0
 */
export const saveCheckpoint = (
  dir: string,
  contents: CheckpointContents,
  opts: CheckpointIoOptions = {},
): Either<CheckpointError, void> => {
  const files = encodeCheckpoint(contents)
  if (E.isLeft(files)) return E.left(checkpointError(join(dir, files.left.source), files.left.message))
  const fs = fileSystemOf(opts)
  const target = resolve(dir)
  const parent = dirname(target)
  const name = basename(target)
  const fail = (source: string, what: string, error: unknown): Either<CheckpointError, never> =>
    E.left(
      checkpointError(source, `${what}: ${messageOf(error)}; the previous checkpoint in ${dir} is unchanged`),
    )

  let existing: 'missing' | 'file' | 'directory'
  try {
    fs.mkdir(parent)
    existing = fs.kind(target)
  } catch (error) {
    return fail(dir, 'could not prepare the parent directory', error)
  }
  if (existing === 'file')
    return E.left(checkpointError(dir, 'exists and is a file, not a checkpoint directory'))
  if (existing === 'directory' && !isFile(fs, join(target, 'meta.json')))
    return E.left(
      checkpointError(
        dir,
        'exists but is not a backfold checkpoint (it has no meta.json); refusing to replace it: choose another directory or remove it',
      ),
    )

  const temporary = join(parent, `${name}.tmp-${suffix()}`)
  try {
    fs.mkdir(temporary)
  } catch (error) {
    return fail(temporary, 'could not create the temporary directory', error)
  }
  for (const [file, bytes] of files.right) {
    try {
      fs.writeFile(join(temporary, file), bytes)
    } catch (error) {
      quietly(() => fs.remove(temporary))
      return fail(join(dir, file), `could not write ${file}`, error)
    }
  }
  let old: string | undefined
  try {
    fs.syncDirectory(temporary)
    if (existing === 'directory') {
      old = join(parent, `${name}.old-${suffix()}`)
      fs.rename(target, old)
    }
    fs.rename(temporary, target)
  } catch (error) {
    // Undo what happened, so dir is the previous checkpoint again (a crash would leave old beside it).
    quietly(() => {
      if (old !== undefined && fs.kind(target) === 'missing') fs.rename(old, target)
    })
    quietly(() => fs.remove(temporary))
    return fail(dir, 'could not move the new checkpoint into place', error)
  }
  try {
    fs.syncDirectory(parent)
  } catch (error) {
    return E.left(checkpointError(dir, `was replaced, but syncing ${parent} failed: ${messageOf(error)}`))
  }
  // The new checkpoint is in place and durable: what an earlier crash or this save left is garbage.
  for (const stale of [...siblings(fs, parent, name, 'old'), ...siblings(fs, parent, name, 'tmp')])
    quietly(() => fs.remove(join(parent, stale)))
  return E.right(undefined)
}

/** Options of `loadCheckpoint`. @since 0.1.0 */
export interface LoadCheckpointOptions<O> extends DecodeCheckpointOptions<O>, CheckpointIoOptions {}

/**
 * The directory to read: `dir` itself, or, when a save was interrupted between its two renames
 * (`dir` absent), the previous checkpoint it moved aside to `<dir>.old-<random>`.
 */
const directoryToRead = (fs: CheckpointFileSystem, dir: string): Either<CheckpointError, string> => {
  const target = resolve(dir)
  let kind: 'missing' | 'file' | 'directory'
  try {
    kind = fs.kind(target)
  } catch (error) {
    return E.left(checkpointError(dir, `could not read: ${messageOf(error)}`))
  }
  if (kind === 'directory') return E.right(dir)
  if (kind === 'file') return E.left(checkpointError(dir, 'is a file, expected a checkpoint directory'))
  const parent = dirname(target)
  const candidates = siblings(fs, parent, basename(target), 'old')
    .map((entry) => join(parent, entry))
    .filter((path) => isFile(fs, join(path, 'meta.json')))
  if (candidates.length === 1) return E.right(candidates[0]!)
  return E.left(
    checkpointError(
      dir,
      candidates.length === 0
        ? 'no checkpoint here (the directory does not exist)'
        : `does not exist, and several interrupted saves left previous checkpoints beside it (${candidates.join(', ')}); rename the one to keep to ${dir}`,
    ),
  )
}

/**
 * Loads and validates a checkpoint directory for `model` (see `decodeCheckpoint`: every JSON file
 * through io-ts, the config against the model's, names, shapes and dtypes against `model.init`, the
 * optimizer state against `optimizer.init(params)` when `optimizer` is given). Errors name the file
 * and the problem.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * const loaded = loadCheckpoint('runs/mnist', model, { optimizer })
 * if (E.isRight(loaded)) console.log(`epoch ${loaded.right.epoch}, step ${loaded.right.step}`)
 * @since 0.1.0
 */
export const loadCheckpoint = <P, S, O = unknown>(
  dir: string,
  model: Layer<P, S>,
  opts: LoadCheckpointOptions<O> = {},
): Either<CheckpointError, Checkpoint<P, S, O>> => {
  const fs = fileSystemOf(opts)
  const location = directoryToRead(fs, dir)
  if (E.isLeft(location)) return location
  const read = (file: CheckpointFileName): Either<CheckpointError, Uint8Array> => {
    try {
      return E.right(fs.readFile(join(location.right, file)))
    } catch (error) {
      return E.left(checkpointError(join(location.right, file), `could not read: ${messageOf(error)}`))
    }
  }
  return decodeCheckpoint(read, model, { ...opts, location: location.right })
}

// ---------------------------------------------------------------------------------------------
// training with checkpoints
// ---------------------------------------------------------------------------------------------

/** Where and how often `fitWithCheckpoints` saves. @since 0.1.0 */
export interface CheckpointSchedule extends CheckpointIoOptions {
  /** The checkpoint directory, replaced at every save (see `saveCheckpoint`). */
  readonly dir: string
  /** The per-example input shape the model was built for (`model.init(key, inShape)`). */
  readonly inShape: Shape
  /** Save after every `every` completed epochs (default 1), and after the last epoch. */
  readonly every?: number
  /** The model's config (default `encodeModel(model)`, which needs a model built from backfold's layers). */
  readonly config?: LayerConfig
  /** Optimizer steps taken before this run (default 0), so `meta.json`'s step counts the whole training. */
  readonly initialStep?: number
}

/** Options of `fitWithCheckpoints`: `fit`'s, plus where to save. @since 0.1.0 */
export interface FitWithCheckpointsOptions<P, S, O> extends FitOptions<P, S, O> {
  readonly checkpoint: CheckpointSchedule
}

/**
 * `fit` that saves a checkpoint (params, layer state, optimizer state, step, epoch, key, history)
 * to `checkpoint.dir` after every `every` epochs and after the last one. Training itself is exactly
 * `fit`'s: the checkpoints are taken by a callback, so every other callback, the reporter and the
 * results are unchanged. A failed save stops training and gives a `Left` (the directory still
 * holds the previous good checkpoint, so `resumeFit` can continue from it).
 * @example
 * import * as T from '@backfold/tensor'
 * import { sequential, dense, relu, adam, softmaxCrossEntropy } from '@backfold/nn'
 * import { fitWithCheckpoints, resumeFit } from '@backfold/nn/node'
 * const model = sequential(dense(64), relu(), dense(10))
 * // with { params, state } from model.init(initKey, [784]):
 * fitWithCheckpoints({
 *   model, loss: softmaxCrossEntropy, optimizer: adam(1e-3), params, state, data: train, epochs: 10,
 *   key: T.random.key(1), checkpoint: { dir: 'runs/mnist', inShape: [784] },
 * })
 * // after an interruption, the same options minus params/state/key continue bitwise identically:
 * resumeFit('runs/mnist', { model, loss: softmaxCrossEntropy, optimizer: adam(1e-3), data: train, epochs: 10 })
 * @since 0.1.0
 */
export const fitWithCheckpoints = <P, S, O>(
  options: FitWithCheckpointsOptions<P, S, O>,
): Either<CheckpointError, FitResult<P, S, O>> => {
  const { checkpoint } = options
  const every = checkpoint.every ?? 1
  if (!Number.isInteger(every) || every < 1)
    return E.left(checkpointError(checkpoint.dir, `every must be a positive integer, got ${String(every)}`))
  let config: LayerConfig
  if (checkpoint.config !== undefined) config = checkpoint.config
  else {
    const encoded = encodeModel(asChild(options.model))
    if (E.isLeft(encoded))
      return E.left(
        checkpointError(
          join(checkpoint.dir, 'config.json'),
          `${formatConfigError(encoded.left)}; pass checkpoint.config to describe the model`,
        ),
      )
    config = encoded.right
  }
  const initialStep = checkpoint.initialStep ?? 0
  let stepsThisRun = 0
  let failure: CheckpointError | undefined
  const saver: Callback<P, S, O> = {
    onBatchEnd: (info) => {
      stepsThisRun = info.step
    },
    onEpochEnd: (info) => {
      if (info.epoch % every !== 0 && info.epoch !== options.epochs) return undefined
      const saved = saveCheckpoint(
        checkpoint.dir,
        {
          config,
          inShape: checkpoint.inShape,
          params: info.params,
          state: info.state,
          optState: info.optState,
          step: initialStep + stepsThisRun,
          epoch: info.epoch,
          key: info.key,
          history: info.history,
        },
        checkpoint,
      )
      if (E.isRight(saved)) return undefined
      failure = saved.left
      return 'stop'
    },
  }
  const result = fit({ ...options, callbacks: [...(options.callbacks ?? []), saver] })
  return failure === undefined ? E.right(result) : E.left(failure)
}

/** Options of `resumeFit`: `fit`'s, minus what the checkpoint provides. @since 0.1.0 */
export interface ResumeFitOptions<P, S, O> extends Omit<
  FitOptions<P, S, O>,
  'params' | 'state' | 'optState' | 'initialEpoch' | 'key' | 'history'
> {
  /** Save every `every` epochs (default 1) and after the last one, to the directory resumed from. */
  readonly every?: number
  /** See `DecodeCheckpointOptions`. */
  readonly ignoreConfigMismatch?: boolean
  readonly fileSystem?: Partial<CheckpointFileSystem>
}

/**
 * Continues training from the checkpoint in `dir`: loads and validates it for `model` and
 * `optimizer`, then runs `fitWithCheckpoints` from the saved epoch with the saved params, state,
 * optimizer state, key and history, saving to `dir` as it goes. `epochs` is the total (Keras's
 * meaning), so `resumeFit` with the options of the interrupted run gives bitwise the parameters
 * an uninterrupted run would have given.
 * @example
 * const resumed = resumeFit('runs/mnist', { model, loss: softmaxCrossEntropy, optimizer, data: train, epochs: 10 })
 * @since 0.1.0
 */
export const resumeFit = <P, S, O>(
  dir: string,
  options: ResumeFitOptions<P, S, O>,
): Either<CheckpointError, FitResult<P, S, O>> => {
  const { every, ignoreConfigMismatch, fileSystem, ...fitOptions } = options
  const loaded = loadCheckpoint(dir, options.model, {
    optimizer: options.optimizer,
    ...(ignoreConfigMismatch === undefined ? {} : { ignoreConfigMismatch }),
    ...(fileSystem === undefined ? {} : { fileSystem }),
  })
  if (E.isLeft(loaded)) return loaded
  const saved = loaded.right
  if (saved.epoch > options.epochs)
    return E.left(
      checkpointError(
        join(dir, 'meta.json'),
        `the checkpoint has ${saved.epoch} epochs done, more than epochs ${options.epochs}; ask for at least ${saved.epoch}`,
      ),
    )
  return fitWithCheckpoints({
    ...fitOptions,
    params: saved.params,
    state: saved.state,
    optState: saved.optState,
    initialEpoch: saved.epoch,
    key: saved.key,
    history: saved.history,
    checkpoint: {
      dir,
      inShape: saved.inShape,
      config: saved.config,
      initialStep: saved.step,
      ...(every === undefined ? {} : { every }),
      ...(fileSystem === undefined ? {} : { fileSystem }),
    },
  })
}
