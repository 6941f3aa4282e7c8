import { randomBytes } from 'node:crypto'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import {
  checkpointError,
  decodeSafetensors,
  encodeSafetensors,
  type CheckpointError,
  type Safetensors,
} from '../checkpoint/safetensors'

/**
 * Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to disk,
 * then renamed over `path`. A crash at any point leaves either the old file or the new one, never
 * a half-written file under `path`.
 * @since 0.1.0
 */
export const writeBytesAtomic = async (
  path: string,
  bytes: Uint8Array,
  /** For tests: runs after the data is on disk, before the rename (throw to simulate a crash there). */
  hooks: { readonly beforeRename?: () => Promise<void> } = {},
): Promise<void> => {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const handle = await open(temporary, 'w')
    try {
      await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await hooks.beforeRename?.()
    await rename(temporary, path)
  } catch (error) {
    await rm(temporary, { force: true })
    throw error
  }
}

/**
 * Saves a tree of tensors as a safetensors file (atomically). Resolves to `Left` with the file named
 * when the write fails.
 * @example
 * await saveSafetensors('out/params.safetensors', params, { metadata: { epochs: '30' } })
 * @since 0.1.0
 */
export const saveSafetensors = async (
  path: string,
  tree: unknown,
  opts: { readonly metadata?: Readonly<Record<string, string>> } = {},
): Promise<Either<CheckpointError, void>> => {
  try {
    await writeBytesAtomic(path, encodeSafetensors(tree, opts))
    return E.right(undefined)
  } catch (error) {
    return E.left(checkpointError(path, `could not write: ${(error as Error).message}`))
  }
}

/**
 * Reads and validates a safetensors file; every problem comes back as `Left` naming the file.
 * @since 0.1.0
 */
export const loadSafetensors = async (path: string): Promise<Either<CheckpointError, Safetensors>> => {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (error) {
    return E.left(checkpointError(path, `could not read: ${(error as Error).message}`))
  }
  return decodeSafetensors(bytes, { source: path })
}
