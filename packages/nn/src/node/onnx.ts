import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import type { Layer } from '../layer'
import { exportOnnx, type OnnxError, type OnnxExportOptions } from '../onnx/export'
import { writeBytesAtomic } from './safetensors'

/**
 * Exports a model (see `exportOnnx`) and writes it atomically to `path`.
 * @example
 * await saveOnnx('out/model.onnx', model, params, state, { inputShape: [64] })
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
  try {
    await writeBytesAtomic(path, bytes.right)
    return E.right(undefined)
  } catch (error) {
    return E.left({ kind: 'OnnxError', path, message: `could not write: ${(error as Error).message}` })
  }
}
