/**
 * ONNX files on disk (Node.js only); the bytes come from the browser-safe `exportOnnx`.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import type { Layer } from '../layer'
import { onnxError, type OnnxError } from '../onnx/error'
import { exportOnnx, type OnnxExportOptions } from '../onnx/export'
import { writeFileAtomic } from './files'

/**
 * Exports a model for inference (see `exportOnnx`) and writes the ONNX file atomically: readers and
 * a crash see the old file or the new one, never a partial one. Resolves to a `Left` naming the
 * layer that cannot be exported, or the file that cannot be written; never rejects.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { formatOnnxError } from '@backfold/nn'
 * import { saveOnnx } from '@backfold/nn/node'
 * const saved = await saveOnnx('out/model.onnx', model, params, state, { inputShape: [64] })
 * if (E.isLeft(saved)) console.error(formatOnnxError(saved.left))
 * @since 0.1.0
 */
export const saveOnnx = async <P, S>(
  path: string,
  model: Layer<P, S>,
  params: P,
  state: S,
  opts: OnnxExportOptions,
): Promise<Either<OnnxError, void>> => {
  const bytes = exportOnnx(model, params, state, opts)
  if (E.isLeft(bytes)) return bytes
  const written = await writeFileAtomic(path, bytes.right)
  return E.isLeft(written) ? E.left(onnxError(path, written.left.message)) : E.right(undefined)
}
