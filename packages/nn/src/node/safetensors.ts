/**
 * safetensors files on disk (Node.js only): atomic saves and validated loads of parameter trees.
 * The byte format itself lives in the browser-safe `checkpoint/safetensors`.
 * @since 0.1.0
 */
import { readFile } from 'node:fs/promises'
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

/**
 * Saves a tree of tensors as a safetensors file, atomically (`writeFileAtomic`: a temporary file in
 * the same directory, fsync, rename), so a crash leaves the old file or the new one, never a partial
 * one. Resolves to `Left` naming the file when it cannot be written; throws only the programmer
 * errors of `encodeSafetensors` (a tree with two tensors of the same dotted name). The file holds
 * the names of `tree.flattenNamed` (`layers.0.weight`) and is byte-identical to what Python's
 * `safetensors` writes for the same tensors, so Python and PyTorch load it as it is.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * const saved = await saveSafetensors('out/params.safetensors', params, { metadata: { epochs: '30' } })
 * if (E.isLeft(saved)) console.error(formatCheckpointError(saved.left))
 * @since 0.1.0
 */
export const saveSafetensors = async (
  path: string,
  tree: unknown,
  opts: EncodeSafetensorsOptions = {},
): Promise<Either<CheckpointError, void>> =>
  pipe(
    await writeFileAtomic(path, encodeSafetensors(tree, opts)),
    E.mapLeft((error) => checkpointError(path, error.message)),
  )

/**
 * Reads and validates a safetensors file (see `decodeSafetensors`); every problem, including a
 * missing or unreadable file, resolves to `Left` naming the file. Never rejects. Pass the tensors
 * to `loadParams` to check them against a model.
 * @example
 * import { pipe } from 'fp-ts/lib/function.js'
 * import * as E from 'fp-ts/lib/Either.js'
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
