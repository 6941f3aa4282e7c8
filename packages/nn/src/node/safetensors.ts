/**
 * safetensors files on disk (Node.js only): atomic saves and validated loads of parameter trees.
 * The byte format itself lives in the browser-safe `checkpoint/safetensors`.
 * @since 0.1.0
 */
import { readFile, readdir, rm, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import {
  checkpointError,
  decodeSafetensors,
  encodeSafetensors,
  type CheckpointError,
  type EncodeSafetensorsOptions,
  type Safetensors,
} from '../checkpoint/safetensors'
import { writeFileAtomic } from './files'

/** Whether process `pid` runs on this host (`EPERM`: it runs, as another user). */
const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return typeof error === 'object' && error !== null && 'code' in error && error.code === 'EPERM'
  }
}

/**
 * A temporary of an earlier save is left untouched this long, even when its pid is not running
 * here: a writer on another host sharing the directory has a pid that means nothing on this one,
 * and it keeps its temporary fresh while it writes.
 */
const STALE_TEMPORARY_MS = 60_000

/**
 * Removes what killed saves of `path` left: `writeFileAtomic` names its temporary
 * `.<file>.<pid>.<random>.tmp`, so only temporaries of this very file are considered, and of those
 * only ones whose pid is not running on this host and which nobody has written to for a minute. A
 * live process's temporary (saving this file or any other) is never touched. Best effort: a
 * temporary that cannot be listed or removed is left for the next save.
 */
const removeStaleTemporaries = async (path: string): Promise<void> => {
  const directory = dirname(resolve(path))
  const name = basename(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const pattern = new RegExp(`^\\.${name}\\.([1-9][0-9]{0,9})\\.[0-9a-f]{12}\\.tmp$`)
  let entries: string[]
  try {
    entries = await readdir(directory)
  } catch {
    return
  }
  for (const entry of entries) {
    const pid = pattern.exec(entry)?.[1]
    if (pid === undefined || Number(pid) === process.pid || isRunning(Number(pid))) continue
    const temporary = join(directory, entry)
    try {
      if (Date.now() - (await stat(temporary)).mtimeMs >= STALE_TEMPORARY_MS)
        await rm(temporary, { force: true })
    } catch {
      // Gone already (another save cleaned it), or not ours to remove: either way nothing to do.
    }
  }
}

/**
 * Saves a tree of tensors as a safetensors file, atomically (`writeFileAtomic`: a temporary file in
 * the same directory, fsync, rename), so a crash leaves the old file or the new one, never a partial
 * one. A process killed mid-save (`kill -9`) leaves its temporary behind; the next save of the same
 * file removes it, once its pid is not running on this host and it has not been written to for a
 * minute (temporaries of other files, or of live processes, are left alone). Resolves to `Left` naming the file when it cannot be written; throws only the programmer
 * errors of `encodeSafetensors` (a tree with two tensors of the same dotted name). The file holds
 * the names of `tree.flattenNamed` (`layers.0.weight`) and is byte-identical to what Python's
 * `safetensors` writes for the same tensors, so Python and PyTorch load it as it is. With
 * `{ floatDType: 'F16' }` (or `'BF16'`) float tensors are stored with 16 bits, rounded to nearest
 * even; a value the format cannot hold throws unless `allowOverflow: true` (see `encodeSafetensors`).
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { saveSafetensors } from '@backfold/nn/node'
 * import { formatCheckpointError } from '@backfold/nn'
 * const saved = await saveSafetensors('out/params.safetensors', params, { metadata: { epochs: '30' } })
 * if (E.isLeft(saved)) console.error(formatCheckpointError(saved.left))
 * @since 0.1.0
 */
export const saveSafetensors = async (
  path: string,
  tree: unknown,
  opts: EncodeSafetensorsOptions = {},
): Promise<Either<CheckpointError, void>> => {
  const bytes = encodeSafetensors(tree, opts)
  // First, so the space a killed save held is free for this one.
  await removeStaleTemporaries(path)
  return pipe(
    await writeFileAtomic(path, bytes),
    E.mapLeft((error) => checkpointError(path, error.message)),
  )
}

/**
 * Reads and validates a safetensors file (see `decodeSafetensors`); every problem, including a
 * missing or unreadable file, resolves to `Left` naming the file. Never rejects. Pass the tensors
 * to `loadParams` to check them against a model.
 * @example
 * import { pipe } from 'fp-ts/lib/function.js'
 * import * as E from 'fp-ts/lib/Either.js'
 * import { loadSafetensors } from '@backfold/nn/node'
 * import { loadParams } from '@backfold/nn'
 * const params = pipe(
 *   await loadSafetensors('out/params.safetensors'),
 *   E.chain(({ tensors }) => loadParams(initialised.params, tensors, { source: 'out/params.safetensors' })),
 * )
 * @since 0.1.0
 */
export const loadSafetensors = async (path: string): Promise<Either<CheckpointError, Safetensors>> => {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (error) {
    return E.left(
      checkpointError(
        path,
        `could not read the file: ${error instanceof Error ? error.message : String(error)}`,
      ),
    )
  }
  return decodeSafetensors(bytes, { source: path })
}
