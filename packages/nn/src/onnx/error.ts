/**
 * Why a model could not be exported to ONNX: where in the model (the layer's path, as in
 * `LayerError`: `'features.1 (conv2d)'`), and what is wrong.
 * @since 0.1.0
 */
export interface OnnxError {
  readonly kind: 'OnnxError'
  /** Dotted path of the layer inside the model, with its kind; the model's kind for the root. */
  readonly path: string
  readonly message: string
}

/** Builds an `OnnxError`. @since 0.1.0 */
export const onnxError = (path: string, message: string): OnnxError => ({ kind: 'OnnxError', path, message })

/** Formats an `OnnxError` for people: `features.1 (conv2d): ...`. @since 0.1.0 */
export const formatOnnxError = (e: OnnxError): string =>
  e.path === '' ? e.message : `${e.path}: ${e.message}`
