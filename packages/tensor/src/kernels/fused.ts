/**
 * Fused elementwise kernels: what would otherwise be two or three passes (and as many fresh
 * buffers) over the same tensors, in one. They exist for the hot paths of training: the backward
 * pass of ReLU layers and the optimizer updates. Same-shape float operands only; no broadcasting.
 * @since 0.1.0
 */
import { getBackend } from '../backend'
import type { DType } from '../dtype'
import { ShapeError, ValueError, fmtShape } from '../errors'
import { shapesEqual, type Shape } from '../shape'
import { requireConcrete, type Tensor } from '../tensor'
import { checkSameFloat, requireSameFloat } from './sameFloat'

/**
 * `alpha · x + y` in one pass (BLAS `axpy`), computed in float64 and rounded once to the dtype.
 * `x` and `y` share a float dtype and a shape.
 * @example
 * axpy(0.9, trace, g) // momentum: t ← g + 0.9 t
 * @throws DTypeError / ShapeError for mismatched operands; ValueError for a non-finite alpha.
 * @since 0.1.0
 */
export const axpy = (alpha: number, x: Tensor, y: Tensor): Tensor => {
  if (!Number.isFinite(alpha)) throw new ValueError('axpy', `alpha must be a finite number, got ${alpha}`)
  requireSameFloat('axpy', ['x', 'y'], [x, y])
  return getBackend().axpy(alpha, x, y)
}

/**
 * ReLU's backward pass: `y > 0 ? ct : 0`, with `y` the ReLU's output (or input: the sign is the
 * same). One pass, where `where(greater(y, 0), ct, 0)` takes two and an int32 mask; NaN in `y`
 * gives 0 (NaN > 0 is false), as the unfused form.
 * @example
 * reluGrad(upstream, activations)
 * @throws DTypeError / ShapeError for mismatched operands.
 * @since 0.1.0
 */
export const reluGrad = (ct: Tensor, y: Tensor): Tensor => {
  requireConcrete('reluGrad', 'ct', ct)
  requireConcrete('reluGrad', 'y', y)
  reluGradOutput(ct, y)
  return getBackend().reluGrad(ct, y)
}

/**
 * The shape and dtype of `reluGrad(ct, y)` (which may be abstract: only their shapes and dtypes are
 * read), with the kernel's own checks: `ct`'s shape and dtype.
 * @example
 * reluGradOutput({ shape: [8, 4], dtype: 'float32' }, { shape: [8, 4], dtype: 'float32' })
 * // { shape: [8, 4], dtype: 'float32' }
 * @throws DTypeError / ShapeError for mismatched operands.
 * @since 0.2.0
 */
export const reluGradOutput = (
  ct: { readonly shape: Shape; readonly dtype: DType },
  y: { readonly shape: Shape; readonly dtype: DType },
): { readonly shape: number[]; readonly dtype: DType } => {
  checkSameFloat('reluGrad', ['ct', 'y'], [ct, y])
  return { shape: [...ct.shape], dtype: ct.dtype }
}

/** Rejects logits and labels that are not float tensors of one dtype and one shape of rank ≥ 1. */
const checkClasses = (
  op: string,
  logits: { readonly shape: Shape; readonly dtype: DType },
  labels: { readonly shape: Shape; readonly dtype: DType },
): void => {
  checkSameFloat(op, ['logits', 'labels'], [logits, labels])
  if (logits.shape.length === 0)
    throw new ShapeError(op, 'logits are a scalar; expected classes along the last axis')
}

const requireClasses = (op: string, logits: Tensor, labels: Tensor): void => {
  requireConcrete(op, 'logits', logits)
  requireConcrete(op, 'labels', labels)
  checkClasses(op, logits, labels)
}

/**
 * The shape and dtype of `softmaxCrossEntropyLoss(logits, labels)` (which may be abstract: only
 * their shapes and dtypes are read), with the kernel's own checks: the logits' shape without the
 * last axis, their dtype.
 * @example
 * softmaxCrossEntropyLossOutput({ shape: [8, 10], dtype: 'float32' }, { shape: [8, 10], dtype: 'float32' })
 * // { shape: [8], dtype: 'float32' }
 * @throws DTypeError / ShapeError for mismatched operands or scalar logits.
 * @since 0.2.0
 */
export const softmaxCrossEntropyLossOutput = (
  logits: { readonly shape: Shape; readonly dtype: DType },
  labels: { readonly shape: Shape; readonly dtype: DType },
): { readonly shape: number[]; readonly dtype: DType } => {
  checkClasses('softmaxCrossEntropyLoss', logits, labels)
  return { shape: logits.shape.slice(0, -1), dtype: logits.dtype }
}

/**
 * Softmax cross-entropy along the LAST axis in one pass per row: the per-example loss
 * `Σ_j labels_j (logsumexp(logits) − logits_j)`, the last axis removed. A class with label 0
 * contributes 0 even where its logit is −∞. Computed in float64 per row, rounded once. `logits` and
 * `labels` share a float dtype and a shape. (`@backfold/ops`' `softmaxCrossEntropy` is the
 * differentiable form; this is its kernel.)
 * @example
 * softmaxCrossEntropyLoss(tensor([[2, 0]]), tensor([[1, 0]])) // [0.1269]
 * @throws DTypeError / ShapeError for mismatched operands or scalar logits.
 * @since 0.1.0
 */
export const softmaxCrossEntropyLoss = (logits: Tensor, labels: Tensor): Tensor => {
  requireConcrete('softmaxCrossEntropyLoss', 'logits', logits)
  requireConcrete('softmaxCrossEntropyLoss', 'labels', labels)
  // The backends lay the loss out as this says (the rows of the logits, their dtype).
  softmaxCrossEntropyLossOutput(logits, labels)
  return getBackend().softmaxCrossEntropy(logits, labels)
}

/**
 * The logits' cotangent of `softmaxCrossEntropyLoss`, in one pass per row:
 * `ct_i · (softmax(logits_i) · Σ_j labels_ij − labels_i)`, for `ct` shaped like the loss (the logits'
 * shape without the last axis). Float64 per row, rounded once.
 * @example
 * softmaxCrossEntropyGrad(ones([1]), tensor([[2, 0]]), tensor([[1, 0]])) // [[-0.1192, 0.1192]]
 * @throws DTypeError / ShapeError for mismatched operands.
 * @since 0.1.0
 */
export const softmaxCrossEntropyGrad = (ct: Tensor, logits: Tensor, labels: Tensor): Tensor => {
  requireConcrete('softmaxCrossEntropyGrad', 'ct', ct)
  requireClasses('softmaxCrossEntropyGrad', logits, labels)
  const rows = logits.shape.slice(0, -1)
  if (ct.dtype !== logits.dtype || !shapesEqual(ct.shape, rows))
    throw new ShapeError(
      'softmaxCrossEntropyGrad',
      `ct has shape ${fmtShape(ct.shape)} and dtype ${ct.dtype}; expected ${fmtShape(rows)} (the logits' shape ` +
        `${fmtShape(logits.shape)} without the class axis) and ${logits.dtype}`,
    )
  return getBackend().softmaxCrossEntropyGrad(ct, logits, labels)
}
