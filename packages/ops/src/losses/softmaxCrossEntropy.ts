// y = −Σ labels ⊙ logSoftmax(logits) (along axis) ; l̄ogits = ȳ (softmax(logits) Σ labels − labels), l̄abels = −ȳ logSoftmax(logits)
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp, mapTensors, type Aval, type BatchAxes, type Batched } from '../core/op'
import { batchSize, moveAxis } from '../core/batching'
import { AXIS_OPTIONS, checkOptions, type AxisOptions } from '../core/options'
import { mul } from '../binary/mul'
import { sub } from '../binary/sub'
import { neg } from '../elementwise/neg'
import { logSoftmax } from '../activations/logSoftmax'
import { softmax } from '../activations/softmax'
import { sum } from '../reduce/sum'
import { broadcastTo } from '../shape/broadcastTo'
import { reshape } from '../shape/reshape'
import { logSumExp, reduceTo } from '../staging/onnx/rules'

/** Parameters of the `softmaxCrossEntropy` op: the class axis, non-negative. @since 0.1.0 */
export interface SoftmaxCrossEntropyParams {
  readonly axis: number
}

/** The op's inputs: logits and labels, of one shape. */
type LossInputs = [logits: Tensor, labels: Tensor]

/**
 * The shape rule: through the shape functions of the kernels `forward` calls (in the same order),
 * so a staged loss has the eager loss's shape and dtype and throws its errors.
 */
const lossAval = ([logits, labels]: LossInputs, { axis }: SoftmaxCrossEntropyParams): Aval => {
  const logNormalizer = {
    shape: T.reduceShape('logsumexp', logits.shape, { axes: axis, keepDims: true }),
    dtype: T.reduceDType('logsumexp', logits.dtype),
  }
  const negLogProbs = T.binaryOutput('sub', logNormalizer, logits)
  const masked = T.binaryOutput('equal', labels, 0)
  const terms = T.whereOutput(masked, 0, T.binaryOutput('mul', labels, negLogProbs))
  return {
    shape: T.reduceShape('sum', terms.shape, { axes: axis }),
    dtype: T.reduceDType('sum', terms.dtype),
  }
}

/**
 * The batching rule: logits and labels have one example's shape each, so once their examples lie
 * along one axis the op applies to the whole batch with the class axis renumbered around it; the
 * loss of each example is its row of the result (no reduction over examples to undo: the op keeps
 * every slice's loss). The examples stay where the first mapped input has them; the other input is
 * moved there, or broadcast there when it is shared (unmapped labels: the same targets for all).
 */
const batchLoss = (
  xs: LossInputs,
  axes: BatchAxes<LossInputs>,
  { axis }: SoftmaxCrossEntropyParams,
  self: (xs: LossInputs, p: SoftmaxCrossEntropyParams) => Tensor,
): Batched => {
  const size = batchSize(xs, axes)
  const at = axes[0] ?? axes[1] ?? 0
  const [logits, labels] = mapTensors(xs, (x, i) => {
    const from = axes[i]
    if (from !== undefined) return moveAxis(x, from, at)
    const withAxis = reshape(x, [...x.shape.slice(0, at), 1, ...x.shape.slice(at)])
    return broadcastTo(withAxis, [...x.shape.slice(0, at), size, ...x.shape.slice(at)])
  })
  // In batch coordinates the class axis moves right past the examples' axis when it was at or after it.
  const classAxis = axis >= at ? axis + 1 : axis
  // The class axis is reduced away: the examples' axis moves left when the classes came before it.
  return [self([logits, labels], { axis: classAxis }), classAxis < at ? at - 1 : at]
}

/** The `softmaxCrossEntropy` op (inputs: logits, labels). @since 0.1.0 */
export const softmaxCrossEntropyOp = defineOp<'softmaxCrossEntropy', LossInputs, SoftmaxCrossEntropyParams>({
  name: 'softmaxCrossEntropy',
  forward: ([logits, labels], { axis }) => {
    // logsumexp(logits) − logits (= −logSoftmax) is finite for any finite logits: ±1000 cannot overflow.
    const negLogProbs = T.sub(T.logsumexp(logits, { axes: axis, keepDims: true }), logits)
    // A class with label 0 contributes 0 even where its logit is −∞ (a masked class), not 0 · ∞ = NaN.
    const terms = T.where(T.equal(labels, 0), 0, T.mul(labels, negLogProbs))
    return T.sum(terms, { axes: axis })
  },
  abstract: lossAval,
  vjp: (ct, [logits, labels], _y, { axis }, needed) => {
    // ȳ has the class axis removed; put it back as size 1 so it broadcasts over the classes.
    const perExample = (): Tensor =>
      reshape(
        ct,
        logits.shape.map((d, i) => (i === axis ? 1 : d)),
      )
    const logitsCotangent = (): Tensor => {
      const labelMass = sum(labels, { axis, keepDims: true })
      return mul(perExample(), sub(mul(softmax(logits, { axis }), labelMass), labels))
    }
    return [
      needed[0] ? logitsCotangent() : undefined,
      // Labels are data almost always: their cotangent is computed only when asked for.
      needed[1] ? neg(mul(perExample(), logSoftmax(logits, { axis }))) : undefined,
    ]
  },
  batch: batchLoss,
  // forward's formula: Σ over the class axis of (labels == 0 ? 0 : labels · (logsumexp − logits)).
  onnx: (b, [logits, labels], { axis }, { inputs: [al, ay], output }) => {
    const lseType = T.toFloat(al.dtype)
    const common = T.promoteTypes(ay.dtype, lseType)
    const z = b.cast(logits, al.dtype, lseType)
    const negLogProbs = b.cast(b.node('Sub', [logSumExp(b, z, [axis], lseType), z]), lseType, common)
    const y = b.cast(labels, ay.dtype, common)
    const terms = b.node('Where', [
      b.node('Equal', [y, b.scalar(0, common)]),
      b.scalar(0, common),
      b.node('Mul', [y, negLogProbs]),
    ])
    return reduceTo(b, 'ReduceSum', b.cast(terms, common, output.dtype), [axis], output.shape)
  },
})

/**
 * Softmax cross-entropy, stable: the per-example loss
 * `−Σ labels ⊙ logSoftmax(logits)` along `axis` (default the last), with that axis removed.
 * `labels` has the shape of `logits` and holds probabilities (one-hot or soft); for labels that
 * sum to 1 this is `logsumexp(logits) − Σ labels ⊙ logits`. Logits of ±1000 give finite values and
 * gradients; a class with label 0 may have logit −∞. Both arguments are differentiable
 * (the logits gradient is `softmax(logits) Σ labels − labels`).
 * @example
 * softmaxCrossEntropy(tensor([[2, 0]]), tensor([[1, 0]]))                // [0.1269]
 * softmaxCrossEntropy(tensor([[2], [0]]), tensor([[1], [0]]), { axis: 0 }) // [0.1269]
 * // written for one example and mapped: the per-example losses, as above
 * vmap(softmaxCrossEntropy)(tensor([[2, 0], [0, 2]]), tensor([[1, 0], [1, 0]])) // [0.1269, 2.1269]
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
