/**
 * Checkpoint directories on disk, written crash-safely by one writer at a time, and training that
 * checkpoints and resumes.
 *
 * One writer per directory: a save holds the lock file `<dir>.lock` (beside the directory, which
 * is renamed during a save), created atomically with the writer's pid, host name and a random
 * token. A second writer gets a `Left` naming the holder. A lock whose pid is not running on this
 * host is stale (its writer was killed) and is taken over; a lock from another host is never taken
 * over, and the `Left` says which file to delete once that host's writer is known to be gone.
 * `fitWithCheckpoints` holds the lock for its whole run.
 *
 * Crash-safety guarantee (POSIX file systems that honour `fsync` and atomic `rename`): a save writes
 * every file into a fresh sibling `<dir>.tmp-<host>-<pid>-<random>` (each file atomically: temporary
 * file, `fsync`, rename; `manifest.sha256`, the commit marker, last), `fsync`s it, checks it still
 * holds the lock, then renames the current `<dir>` to `<dir>.old-<host>-<pid>-<random>`, renames the
 * new one to `<dir>`, `fsync`s the parent, and only then removes the old one. Hence, at every instant:
 *
 * - `<dir>` is a complete checkpoint, the previous or the new one, never a mix or a partial one; or
 * - only between the two renames, `<dir>` is absent and the previous complete checkpoint is
 *   `<dir>.old-…`: `loadCheckpoint(dir)` then loads that one.
 *
 * A save that fails (a `Left`: disk full, permissions, an injected failure, a busy lock) leaves
 * `<dir>` as it was and removes its temporary directory. After a crash, stale `<dir>.tmp-…` /
 * `<dir>.old-…` siblings may remain; the next successful save removes those whose writer is
 * provably gone (this host's, with a pid that is not running or is the saver's own, whose earlier
 * saves are over) and never another live writer's. Once `saveCheckpoint` returns `Right`, the new
 * checkpoint is durable. A `<dir>` that exists but is not a checkpoint is never replaced (it might
 * be the user's data). `loadCheckpoint` verifies every file's SHA-256 (see `decodeCheckpoint`), and
 * starts again when a concurrent save replaced the checkpoint while it was reading.
 *
 * Everything here is synchronous on purpose: `fit` and its callbacks are synchronous, so a
 * checkpoint taken at the end of an epoch is written before the next epoch starts.
 * @since 0.1.0
 */
import { createHash, randomBytes } from 'node:crypto'
import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs'
import { hostname } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import * as t from 'io-ts/lib/index.js'
import type { Shape } from '@backfold/tensor'
import type { Layer, LayerConfig } from '../layer'
import { encodeModel, formatConfigError, type LayerKindsOption } from '../config/codec'
import type { LayerKind } from '../layers/define'
import { asChild } from '../layers/common'
import { parseJson } from '../json'
import { checkpointError } from '../checkpoint/safetensors'
import type { CheckpointError } from '../checkpoint/safetensors'
import { CHECKPOINT_MANIFEST, decodeCheckpoint, encodeCheckpoint } from '../checkpoint/directory'
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
  /** Reads a whole file. */
  readonly readFile: (path: string) => Uint8Array
  /** Creates a directory (and its parents); fine if it exists. */
  readonly mkdir: (path: string) => void
  /** Renames a file or directory atomically (replacing an existing file). */
  readonly rename: (from: string, to: string) => void
  /** Removes a file or a directory tree; fine if it does not exist. */
  readonly remove: (path: string) => void
  /** What is at `path`. */
  readonly kind: (path: string) => 'missing' | 'file' | 'directory'
  /** The names of a directory's entries. */
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

const codeOf = (error: unknown): string | undefined =>
  typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * Eight hex digits naming this host in temporary names, so a pid in a name is only ever judged on
 * the host that issued it (host names may hold characters a file name cannot).
 */
/** node:crypto's SHA-256, for the manifest (the portable `sha256Hex` gives the same digests, slower). */
const nodeSha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

const HOST = hostname()
const HOST_TAG = createHash('sha256').update(HOST).digest('hex').slice(0, 8)

/** Whether process `pid` runs on this host (`EPERM`: it runs, as another user). */
const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return codeOf(error) === 'EPERM'
  }
}

/** `<name>.<kind>-<host>-<pid>-<random>`: a sibling made by a save, with its writer. */
const siblingName = (name: string, kind: 'tmp' | 'old'): string =>
  `${name}.${kind}-${HOST_TAG}-${process.pid}-${suffix()}`

interface Sibling {
  readonly entry: string
  /** The writer, when the name records it (backfold 0.1's names, `<name>.tmp-<random>`, do not). */
  readonly writer?: { readonly hostTag: string; readonly pid: number }
}

/** `<name>.tmp-…` / `<name>.old-…` siblings in `parent` (left by interrupted saves). */
const siblings = (fs: CheckpointFileSystem, parent: string, name: string, kind: 'tmp' | 'old'): Sibling[] => {
  const pattern = new RegExp(
    `^${escapeRegExp(name)}\\.${kind}-(?:([0-9a-f]{8})-([1-9][0-9]{0,9})-)?[0-9a-f]{12}$`,
  )
  let entries: ReadonlyArray<string>
  try {
    entries = fs.list(parent)
  } catch {
    return []
  }
  return entries.flatMap((entry) => {
    const match = pattern.exec(entry)
    if (match === null) return []
    const [, hostTag, pid] = match
    return [
      hostTag === undefined || pid === undefined
        ? { entry }
        : { entry, writer: { hostTag, pid: Number(pid) } },
    ]
  })
}

/**
 * Whether a sibling's writer is provably gone, so removing it cannot hurt a save in progress: made
 * on this host by a pid that is not running, or by this process (whose saves run one at a time
 * under the lock, so its earlier ones are over).
 */
const writerIsGone = (sibling: Sibling): boolean =>
  sibling.writer !== undefined &&
  sibling.writer.hostTag === HOST_TAG &&
  (sibling.writer.pid === process.pid || !isRunning(sibling.writer.pid))

const isFile = (fs: CheckpointFileSystem, path: string): boolean => {
  try {
    return fs.kind(path) === 'file'
  } catch {
    return false
  }
}

const isDirectory = (fs: CheckpointFileSystem, path: string): boolean => {
  try {
    return fs.kind(path) === 'directory'
  } catch {
    return false
  }
}

/** A checkpoint directory holds a manifest (format 2) or, from backfold 0.1, a meta.json. */
const isCheckpoint = (fs: CheckpointFileSystem, path: string): boolean =>
  isFile(fs, join(path, CHECKPOINT_MANIFEST)) || isFile(fs, join(path, 'meta.json'))

const quietly = (f: () => void): void => {
  try {
    f()
  } catch {
    // Best-effort cleanup after a failure: the failure itself is what gets reported.
  }
}

// ---------------------------------------------------------------------------------------------
// the writer's lock
// ---------------------------------------------------------------------------------------------

/**
 * The exclusive right to save into one checkpoint directory, held as the lock file `<dir>.lock`.
 * Get one with `lockCheckpointDirectory`; pass it to `saveCheckpoint` as `lock` to save several
 * times under it; `release` it when done (releasing twice is harmless).
 * @since 0.2.0
 */
export interface CheckpointLock {
  /** The checkpoint directory (resolved). */
  readonly dir: string
  /** The lock file, `<dir>.lock`. */
  readonly path: string
  /** Whether the lock file is still this lock's (not released, not removed by hand). */
  readonly isHeld: () => boolean
  /** Removes the lock file if it is still this lock's; safe to call twice. */
  readonly release: () => void
}

const LockFileCodec = t.type({
  format: t.literal('backfold.checkpoint.lock'),
  pid: t.number,
  host: t.string,
  since: t.string,
  token: t.string,
})
type LockFile = t.TypeOf<typeof LockFileCodec>

/** The lock file's owner, or why it cannot be read (`missing` when there is none). */
const readLock = (path: string): LockFile | 'missing' | string => {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    return codeOf(error) === 'ENOENT' ? 'missing' : `cannot be read (${messageOf(error)})`
  }
  const value = parseJson(text)
  const decoded = E.isLeft(value) ? undefined : LockFileCodec.decode(value.right)
  return decoded !== undefined && E.isRight(decoded)
    ? decoded.right
    : 'is not a backfold lock file (damaged, or written by something else)'
}

const LOCK_ATTEMPTS = 5

/**
 * Takes the writer's lock of checkpoint directory `dir`: creates `<dir>.lock` atomically (a hard
 * link of a complete file, so a reader never sees a partial one), holding this process's pid and
 * host name. A lock whose pid is not running on this host is stale (its writer died) and is taken
 * over; a lock held by a running process, or by any process of another host, gives a `Left` naming
 * the holder and what to do. `saveCheckpoint` takes it by itself for one save; hold it across
 * saves (as `fitWithCheckpoints` does) so no other process can save in between.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { lockCheckpointDirectory, saveCheckpoint } from '@backfold/nn/node'
 * const lock = lockCheckpointDirectory('runs/mnist')
 * if (E.isRight(lock)) {
 *   try {
 *     saveCheckpoint('runs/mnist', contents, { lock: lock.right })
 *   } finally {
 *     lock.right.release()
 *   }
 * }
 * @since 0.2.0
 */
export const lockCheckpointDirectory = (dir: string): Either<CheckpointError, CheckpointLock> => {
  const target = resolve(dir)
  const parent = dirname(target)
  const path = `${target}.lock`
  const owner: LockFile = {
    format: 'backfold.checkpoint.lock',
    pid: process.pid,
    host: HOST,
    since: new Date().toISOString(),
    token: randomBytes(16).toString('hex'),
  }
  const fail = (message: string): Either<CheckpointError, never> => E.left(checkpointError(path, message))
  try {
    mkdirSync(parent, { recursive: true })
  } catch (error) {
    return fail(`could not prepare the parent directory: ${messageOf(error)}`)
  }
  const isHeld = (): boolean => {
    const current = readLock(path)
    return typeof current !== 'string' && current.token === owner.token
  }
  const lock: CheckpointLock = {
    dir: target,
    path,
    isHeld,
    release: () => {
      if (isHeld()) quietly(() => rmSync(path, { force: true }))
    },
  }
  const busy = (holder: LockFile): Either<CheckpointError, never> =>
    fail(
      holder.host !== HOST
        ? `${dir} is locked by pid ${holder.pid} on host ${holder.host} (since ${holder.since}); a lock from another host is never taken over: once no process on ${holder.host} saves there, delete ${path}`
        : holder.pid === process.pid
          ? `${dir} is locked by this process (pid ${holder.pid}, since ${holder.since}): another save or fitWithCheckpoints run is writing there; pass its lock as { lock } or use another directory`
          : `${dir} is being saved by another process (pid ${holder.pid} on this host, since ${holder.since}); one writer per checkpoint directory: wait for it, or save elsewhere`,
    )
  for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
    // The complete file first, then one atomic link: the lock exists whole or not at all.
    const temporary = join(parent, `.${basename(target)}.lock-${HOST_TAG}-${process.pid}-${suffix()}.tmp`)
    try {
      writeFileAtomicSync(temporary, new TextEncoder().encode(`${JSON.stringify(owner)}\n`))
      linkSync(temporary, path)
      // Durability of the lock itself is a nicety: a lock lost in a power cut had no live owner.
      quietly(() => syncDirectorySync(parent))
      return E.right(lock)
    } catch (error) {
      if (codeOf(error) !== 'EEXIST') return fail(`could not create the lock file: ${messageOf(error)}`)
    } finally {
      quietly(() => rmSync(temporary, { force: true }))
    }
    const holder = readLock(path)
    if (holder === 'missing') continue // released meanwhile
    if (typeof holder === 'string')
      return fail(`${holder}; if no process is saving to ${dir}, delete ${path}`)
    if (holder.host !== HOST || isRunning(holder.pid)) return busy(holder)
    // Stale: its writer died. Moved aside first, then checked to be the lock judged stale: between
    // the two, another process may have taken over and locked afresh; that lock is put back.
    const aside = `${path}.stale-${suffix()}`
    try {
      renameSync(path, aside)
    } catch {
      continue
    }
    const moved = readLock(aside)
    if (typeof moved !== 'string' && moved.token !== holder.token) {
      quietly(() => linkSync(aside, path))
      quietly(() => rmSync(aside, { force: true }))
      return busy(moved)
    }
    quietly(() => rmSync(aside, { force: true }))
  }
  return fail(`could not take the lock in ${LOCK_ATTEMPTS} attempts: other processes keep taking it`)
}

// ---------------------------------------------------------------------------------------------
// save and load
// ---------------------------------------------------------------------------------------------

/** Options of `saveCheckpoint`. @since 0.2.0 */
export interface SaveCheckpointOptions extends CheckpointIoOptions, LayerKindsOption {
  /**
   * A lock of `dir` already held (`lockCheckpointDirectory`); without it the save takes the lock
   * itself and releases it when done.
   */
  readonly lock?: CheckpointLock
}

/**
 * Saves a checkpoint directory crash-safely, as the only writer (see the module notes for the lock
 * and the exact guarantee): `config.json`, `params.safetensors`, `state.safetensors`,
 * `optimizer.safetensors`, `optimizer.json`, `meta.json` and `manifest.sha256`, their checksums.
 * The contents are validated first (`encodeCheckpoint`), so a checkpoint that could not be loaded
 * again is never written. A `Left` names the file or step that failed (or the process holding the
 * lock); the previous checkpoint in `dir` is then unchanged.
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
  opts: SaveCheckpointOptions = {},
): Either<CheckpointError, void> => {
  const files = encodeCheckpoint(contents, {
    sha256: nodeSha256,
    ...(opts.layers === undefined ? {} : { layers: opts.layers }),
  })
  if (E.isLeft(files)) return E.left(checkpointError(join(dir, files.left.source), files.left.message))
  const target = resolve(dir)
  if (opts.lock !== undefined) {
    if (opts.lock.dir !== target)
      return E.left(checkpointError(dir, `the lock given is ${opts.lock.path}, not this directory's`))
    return saveLocked(dir, files.right, opts, opts.lock)
  }
  const lock = lockCheckpointDirectory(dir)
  if (E.isLeft(lock)) return lock
  try {
    return saveLocked(dir, files.right, opts, lock.right)
  } finally {
    lock.right.release()
  }
}

const saveLocked = (
  dir: string,
  files: ReadonlyArray<readonly [CheckpointFileName, Uint8Array]>,
  opts: CheckpointIoOptions,
  lock: CheckpointLock,
): Either<CheckpointError, void> => {
  const fs = fileSystemOf(opts)
  const target = resolve(dir)
  const parent = dirname(target)
  const name = basename(target)
  const fail = (source: string, what: string, error: unknown): Either<CheckpointError, never> =>
    E.left(
      checkpointError(source, `${what}: ${messageOf(error)}; the previous checkpoint in ${dir} is unchanged`),
    )
  const lockLost = (): Either<CheckpointError, never> =>
    E.left(
      checkpointError(
        lock.path,
        `this save's lock of ${dir} is gone (released, or deleted while the save ran); nothing was replaced`,
      ),
    )
  if (!lock.isHeld()) return lockLost()

  let existing: 'missing' | 'file' | 'directory'
  try {
    fs.mkdir(parent)
    existing = fs.kind(target)
  } catch (error) {
    return fail(dir, 'could not prepare the parent directory', error)
  }
  if (existing === 'file')
    return E.left(checkpointError(dir, 'exists and is a file, not a checkpoint directory'))
  if (existing === 'directory' && !isCheckpoint(fs, target))
    return E.left(
      checkpointError(
        dir,
        `exists but is not a backfold checkpoint (it has neither ${CHECKPOINT_MANIFEST} nor meta.json); refusing to replace it: choose another directory or remove it`,
      ),
    )

  const temporary = join(parent, siblingName(name, 'tmp'))
  try {
    fs.mkdir(temporary)
  } catch (error) {
    return fail(temporary, 'could not create the temporary directory', error)
  }
  for (const [file, bytes] of files) {
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
    // Checked again right before replacing anything: a lock deleted by hand, or lost in a race
    // with a third process's takeover, must not let two writers rename at once.
    if (!lock.isHeld()) {
      quietly(() => fs.remove(temporary))
      return lockLost()
    }
    if (existing === 'directory') {
      old = join(parent, siblingName(name, 'old'))
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
  // The new checkpoint is in place and durable: this save's old directory is garbage, and so is
  // what earlier saves left whose writers are provably gone. Nothing a live writer might still use
  // is touched (the lock keeps other writers out; this is defence against one that ignores it).
  if (old !== undefined) quietly(() => fs.remove(old))
  for (const stale of [...siblings(fs, parent, name, 'old'), ...siblings(fs, parent, name, 'tmp')])
    if (writerIsGone(stale)) quietly(() => fs.remove(join(parent, stale.entry)))
  return E.right(undefined)
}

/** Options of `loadCheckpoint`. @since 0.1.0 */
export interface LoadCheckpointOptions<O> extends DecodeCheckpointOptions<O>, CheckpointIoOptions {}

/**
 * The directory to read: `dir` itself, or, when a save was interrupted between its two renames
 * (`dir` absent), the previous checkpoint it moved aside to `<dir>.old-…`.
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
    .map((sibling) => join(parent, sibling.entry))
    .filter((path) => isCheckpoint(fs, path))
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

/** How often `loadCheckpoint` starts again when a concurrent save replaced what it was reading. */
const LOAD_ATTEMPTS = 5

/**
 * Loads, verifies and validates a checkpoint directory for `model` (see `decodeCheckpoint`: every
 * file's SHA-256 against `manifest.sha256`, every JSON file through io-ts, the config against the
 * model's, the saved inShape against the files before the model is initialised, names, shapes and
 * dtypes against `model.init`, the optimizer state against `optimizer.init(params)` when
 * `optimizer` is given). Errors name the file and the problem. Safe while another process saves
 * into `dir`: a read that a save overtook starts again.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { loadCheckpoint } from '@backfold/nn/node'
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
  const manifestAt = (path: string): Uint8Array | undefined => {
    try {
      return fs.readFile(join(path, CHECKPOINT_MANIFEST))
    } catch {
      return undefined
    }
  }
  const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined): boolean =>
    a === undefined || b === undefined ? a === b : Buffer.compare(a, b) === 0
  for (let attempt = 1; ; attempt++) {
    const location = directoryToRead(fs, dir)
    if (E.isLeft(location)) {
      // dir may be missing only for the instant between a save's two renames.
      if (attempt < LOAD_ATTEMPTS && isDirectory(fs, resolve(dir))) continue
      return location
    }
    let manifestRead: Uint8Array | undefined
    const read = (file: CheckpointFileName): Either<CheckpointError, Uint8Array> => {
      try {
        const bytes = fs.readFile(join(location.right, file))
        if (file === CHECKPOINT_MANIFEST) manifestRead = bytes
        return E.right(bytes)
      } catch (error) {
        return E.left(checkpointError(join(location.right, file), `could not read: ${messageOf(error)}`))
      }
    }
    const loaded = decodeCheckpoint(read, model, { sha256: nodeSha256, ...opts, location: location.right })
    if (E.isRight(loaded) || attempt >= LOAD_ATTEMPTS) return loaded
    // A Left because a save replaced the directory mid-read (files of two checkpoints, or one
    // vanished) is no fault of the checkpoint: start again. Otherwise the Left stands.
    const now = directoryToRead(fs, dir)
    if (E.isRight(now) && now.right === location.right && sameBytes(manifestAt(now.right), manifestRead))
      return loaded
  }
}

// ---------------------------------------------------------------------------------------------
// training with checkpoints
// ---------------------------------------------------------------------------------------------

/** Where and how often `fitWithCheckpoints` saves. @since 0.1.0 */
export interface CheckpointSchedule extends CheckpointIoOptions, LayerKindsOption {
  /** The checkpoint directory, replaced at every save (see `saveCheckpoint`), locked for the run. */
  readonly dir: string
  /** The per-example input shape the model was built for (`model.init(key, inShape)`). */
  readonly inShape: Shape
  /** Save after every `every` completed epochs (default 1), and after the last epoch. */
  readonly every?: number
  /**
   * The model's config (default `encodeModel(model, { layers })`). Its kinds must be among
   * `layers` either way: every save checks that the config builds a model the params fit.
   */
  readonly config?: LayerConfig
  /**
   * The kinds the model's config holds (default `builtinLayers`); a model with custom layers passes
   * their kinds too: `layers: [...builtinLayers, gluKind]`.
   */
  readonly layers?: ReadonlyArray<LayerKind>
  /** Optimizer steps taken before this run (default 0), so `meta.json`'s step counts the whole training. */
  readonly initialStep?: number
}

/** Options of `fitWithCheckpoints`: `fit`'s, plus where to save. @since 0.1.0 */
export interface FitWithCheckpointsOptions<P, S, O> extends FitOptions<P, S, O> {
  readonly checkpoint: CheckpointSchedule
}

/**
 * `fit` that saves a checkpoint (params, layer state, optimizer state, step, epoch, key, history)
 * to `checkpoint.dir` after every `every` epochs and after the last one, holding the directory's
 * writer lock for the whole run (a second run saving there gets a `Left` before it trains). Training itself is exactly
 * `fit`'s: the checkpoints are taken by a callback, so every other callback, the reporter and the
 * results are unchanged. A failed save stops training and gives a `Left` (the directory still
 * holds the previous good checkpoint, so `resumeFit` can continue from it).
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers, adam, crossEntropy } from '@backfold/nn'
 * import { fitWithCheckpoints, resumeFit } from '@backfold/nn/node'
 * const model = layers.sequential(layers.dense(64), layers.relu(), layers.dense(10))
 * // with { params, state } from model.init(initKey, [784]):
 * fitWithCheckpoints({
 *   model, loss: crossEntropy, optimizer: adam(1e-3), params, state, data: train, epochs: 10,
 *   key: T.random.key(1), checkpoint: { dir: 'runs/mnist', inShape: [784] },
 * })
 * // after an interruption, the same options minus params/state/key continue bitwise identically:
 * resumeFit('runs/mnist', { model, loss: crossEntropy, optimizer: adam(1e-3), data: train, epochs: 10 })
 * @since 0.1.0
 */
export const fitWithCheckpoints = <P, S, O>(
  options: FitWithCheckpointsOptions<P, S, O>,
): Either<CheckpointError, FitResult<P, S, O>> => {
  // fit checks its options' keys, so `checkpoint` is not passed on.
  const { checkpoint, ...fitOptions } = options
  const every = checkpoint.every ?? 1
  if (!Number.isInteger(every) || every < 1)
    return E.left(checkpointError(checkpoint.dir, `every must be a positive integer, got ${String(every)}`))
  let config: LayerConfig
  if (checkpoint.config !== undefined) config = checkpoint.config
  else {
    const encoded = encodeModel(
      asChild(options.model),
      checkpoint.layers === undefined ? {} : { layers: checkpoint.layers },
    )
    if (E.isLeft(encoded))
      return E.left(
        checkpointError(
          join(checkpoint.dir, 'config.json'),
          `${formatConfigError(encoded.left)}; then pass the kinds as checkpoint.layers`,
        ),
      )
    config = encoded.right
  }
  const initialStep = checkpoint.initialStep ?? 0
  // Held for the whole run, so no other process can save into the directory between epochs.
  const lock = lockCheckpointDirectory(checkpoint.dir)
  if (E.isLeft(lock)) return lock
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
        { ...checkpoint, lock: lock.right },
      )
      if (E.isRight(saved)) return undefined
      failure = saved.left
      return 'stop'
    },
  }
  try {
    const result = fit({ ...fitOptions, callbacks: [...(options.callbacks ?? []), saver] })
    return failure === undefined ? E.right(result) : E.left(failure)
  } finally {
    lock.right.release()
  }
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
  /**
   * The kinds the checkpoint's config holds (default `builtinLayers`): a model with custom layers
   * passes their kinds too, `layers: [...builtinLayers, gluKind]`. Used to load and to save.
   * @since 0.2.0
   */
  readonly layers?: ReadonlyArray<LayerKind>
  /**
   * Resume from a checkpoint of backfold 0.1 (no `manifest.sha256`) without verifying it; the
   * first save then writes the current format, checksums included. See `DecodeCheckpointOptions`.
   * @since 0.2.0
   */
  readonly allowUnverified?: boolean
  readonly fileSystem?: Partial<CheckpointFileSystem>
}

/**
 * Continues training from the checkpoint in `dir`: loads and validates it for `model` and
 * `optimizer`, then runs `fitWithCheckpoints` from the saved epoch with the saved params, state,
 * optimizer state, key and history, saving to `dir` as it goes. `epochs` is the total (Keras's
 * meaning), so `resumeFit` with the options of the interrupted run gives bitwise the parameters
 * an uninterrupted run would have given.
 * @example
 * const resumed = resumeFit('runs/mnist', { model, loss: crossEntropy, optimizer, data: train, epochs: 10 })
 * @since 0.1.0
 */
export const resumeFit = <P, S, O>(
  dir: string,
  options: ResumeFitOptions<P, S, O>,
): Either<CheckpointError, FitResult<P, S, O>> => {
  const { every, ignoreConfigMismatch, allowUnverified, fileSystem, layers, ...fitOptions } = options
  const loaded = loadCheckpoint(dir, options.model, {
    optimizer: options.optimizer,
    ...(layers === undefined ? {} : { layers }),
    ...(ignoreConfigMismatch === undefined ? {} : { ignoreConfigMismatch }),
    ...(allowUnverified === undefined ? {} : { allowUnverified }),
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
      ...(layers === undefined ? {} : { layers }),
      ...(every === undefined ? {} : { every }),
      ...(fileSystem === undefined ? {} : { fileSystem }),
    },
  })
}
