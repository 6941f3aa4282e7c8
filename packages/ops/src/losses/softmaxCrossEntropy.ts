// y = −Σ labels ⊙ logSoftmax(logits) (along axis) ; l̄ogits = ȳ (softmax(logits) Σ labels − labels), l̄abels = −ȳ logSoftmax(logits)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { Tracer } from '../core/trace'
import { mul } from '../binary/mul'
import { sub } from '../binary/sub'
import { neg } from '../elementwise/neg'
import { logSoftmax } from '../activations/logSoftmax'
import { softmax } from '../activations/softmax'
import { sum } from '../reduce/sum'
import { reshape } from '../shape/reshape'

/** Parameters of the `softmaxCrossEntropy` op: the class axis, non-negative. @since 0.1.0 */
export interface SoftmaxCrossEntropyParams {
  readonly axis: number
}

/** Classes on the last axis and one float dtype: the fused kernels of `@backfold/tensor` apply. */
const fusable = (logits: Tensor, labels: Tensor, axis: number): boolean =>
  axis === logits.shape.length - 1 && logits.dtype === labels.dtype && logits.dtype !== 'int32'

/** The `softmaxCrossEntropy` op (inputs: logits, labels). @since 0.1.0 */
export const softmaxCrossEntropyOp = defineOp<SoftmaxCrossEntropyParams>({
  name: 'softmaxCrossEntropy',
  forward: ([logits, labels], { axis }) => {
    // Classes on the last axis, one float dtype: one fused pass per row.
    if (fusable(logits!, labels!, axis)) return T.softmaxCrossEntropyLoss(logits!, labels!)
    // logsumexp(logits) − logits (= −logSoftmax) is finite for any finite logits: ±1000 cannot overflow.
    const negLogProbs = T.sub(T.logsumexp(logits!, { axes: axis, keepDims: true }), logits!)
    // A class with label 0 contributes 0 even where its logit is −∞ (a masked class), not 0 · ∞ = NaN.
    const terms = T.where(T.equal(labels!, 0), 0, T.mul(labels!, negLogProbs))
    return T.sum(terms, { axes: axis })
  },
  vjp: (ct, [logits, labels], _y, { axis }, needed) => {
    // First order (nothing traced) on the last axis: the logits' cotangent in one fused pass; under
    // an enclosing transformation, ops (so the gradient can itself be differentiated).
    const fusedLogits =
      needed[0] !== false &&
      fusable(logits!, labels!, axis) &&
      ct.dtype === logits!.dtype &&
      [ct, logits!, labels!].every((t) => !(t instanceof Tracer))
    // ȳ has the class axis removed; put it back as size 1 so it broadcasts over the classes.
    const perExample = (): Tensor =>
      reshape(
        ct,
        logits!.shape.map((d, i) => (i === axis ? 1 : d)),
      )
    const logitsCotangent = (): Tensor => {
      if (fusedLogits) return T.softmaxCrossEntropyGrad(ct, logits!, labels!)
      const labelMass = sum(labels!, { axis, keepDims: true })
      return mul(perExample(), sub(mul(softmax(logits!, { axis }), labelMass), labels!))
    }
    return [
      needed[0] !== false ? logitsCotangent() : undefined,
      // Labels are data almost always: their cotangent is computed only when asked for.
      needed[1] !== false ? neg(mul(perExample(), logSoftmax(logits!, { axis }))) : undefined,
    ]
  },
})

/**
 * Softmax cross-entropy, fused and stable: the per-example loss
 * `−Σ labels ⊙ logSoftmax(logits)` along `axis` (default the last), with that axis removed.
 * `labels` has the shape of `logits` and holds probabilities (one-hot or soft); for labels that
 * sum to 1 this is `logsumexp(logits) − Σ labels ⊙ logits`. Logits of ±1000 give finite values and
 * gradients; a class with label 0 may have logit −∞. Both arguments are differentiable
 * (the logits gradient is `softmax(logits) Σ labels − labels`).
 * @example
 * softmaxCrossEntropy(tensor([[2, 0]]), tensor([[1, 0]]))                // [0.1269]
 * softmaxCrossEntropy(tensor([[2], [0]]), tensor([[1], [0]]), { axis: 0 }) // [0.1269]
 * @throws ShapeError when labels and logits differ in shape; ValueError for an unknown option or a bad axis.
 * @since 0.1.0
 */
export const softmaxCrossEntropy = (logits: Tensor, labels: Tensor, opts?: AxisOptions): Tensor => {
  const op = 'softmaxCrossEntropy'
  checkOptions(op, opts, AXIS_OPTIONS)
  if (!T.shapesEqual(logits.shape, labels.shape))
    throw new T.ShapeError(
      op,
      `labels have shape ${T.fmtShape(labels.shape)} but logits have shape ${T.fmtShape(logits.shape)}; ` +
        'expected one probability per logit (for integer class labels use softmaxCrossEntropyWithIntegerLabels)',
    )
  return applyOp(softmaxCrossEntropyOp, [logits, labels], {
    axis: T.normalizeAxis(op, opts?.axis ?? -1, logits.shape.length),
  })
}
