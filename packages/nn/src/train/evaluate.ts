import * as O from '@backfold/ops'
import { checkOptions, option, optionSchema } from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import type { Layer } from '../layer'
import type { Dataset } from '../data/dataset'
import type { LossFunction } from './step'
import { countCorrect, isClassification } from './step'

/** A metric: model output and targets (whole data set) to a number. @since 0.1.0 */
export type Metric = (output: Tensor, labels: Tensor) => number

/** Options of `predict`. @since 0.1.0 */
export interface PredictOptions {
  /** Examples per forward pass (default 256): bounds the memory of intermediate activations. */
  readonly batchSize?: number
}

/** Options of `evaluate`. @since 0.1.0 */
export interface EvaluateOptions extends PredictOptions {
  /** Reported as `loss` when given. */
  readonly loss?: LossFunction
  /**
   * Named metrics over the whole data set. Default: `{ accuracy }` when the labels are int32 class
   * indices `[N]` and the output is `[N, C]`, none otherwise.
   */
  readonly metrics?: Readonly<Record<string, Metric>>
}

/** What `evaluate` measured: `loss` (if a loss was given) and one entry per metric. @since 0.1.0 */
export type Evaluation = Readonly<Record<string, number>>

const PREDICT_OPTIONS = optionSchema({ batchSize: option.number })
const EVALUATE_OPTIONS = optionSchema({
  batchSize: option.number,
  loss: option.function,
  metrics: option.record,
})

const checkBatchSize = (op: string, batchSize: number): void => {
  if (!Number.isInteger(batchSize) || batchSize <= 0)
    throw new T.ValueError(op, `batchSize must be a positive integer, got ${batchSize}`)
}

/**
 * The model's outputs for every example of `x`, in evaluation mode (dropout off, batch norm on its
 * running statistics), computed `batchSize` examples at a time and concatenated.
 * @example
 * const logits = predict(model, params, state, test.x, { batchSize: 512 }) // [N, 10]
 * const classes = T.argmax(logits, { axis: 1 })
 * @since 0.1.0
 */
export const predict = <P, S>(
  model: Layer<P, S>,
  params: P,
  state: S,
  x: Tensor,
  opts: PredictOptions = {},
): Tensor => {
  checkOptions('predict', opts, PREDICT_OPTIONS)
  return predictWith(evaluationForward(model), params, state, x, opts.batchSize)
}

/** A model's forward pass in evaluation mode, eager or staged. @internal */
export type EvaluationForward<P, S> = (params: P, state: S, x: Tensor) => Tensor

/** `model.apply` in evaluation mode, op by op. @internal */
export const evaluationForward =
  <P, S>(model: Layer<P, S>): EvaluationForward<P, S> =>
  (params, state, x) =>
    model.apply(params, state, x, { training: false })[0]

/** `predict` with the forward pass given (e.g. staged with `jit`, as `fit`'s validation is). */
const predictWith = <P, S>(
  forward: EvaluationForward<P, S>,
  params: P,
  state: S,
  x: Tensor,
  batchSizeOption: number | undefined,
): Tensor => {
  const batchSize = batchSizeOption ?? 256
  checkBatchSize('predict', batchSize)
  if (x.shape.length === 0)
    throw new T.ShapeError('predict', `x has shape ${T.fmtShape(x.shape)}; expected a batch [N, ...]`)
  const count = x.shape[0]!
  if (count <= batchSize) return forward(params, state, x)
  const outputs: Tensor[] = []
  for (let start = 0; start < count; start += batchSize) {
    const batch = T.slice(x, [{ start, stop: Math.min(start + batchSize, count) }])
    outputs.push(forward(params, state, batch))
  }
  return T.concat(outputs, 0)
}

/**
 * Loss and metrics of the model on a data set, in evaluation mode. Outputs are computed in batches
 * (see `predict`); the loss and each metric are then computed once over all outputs, so every
 * metric is exact (not an average of batch averages).
 * @example
 * evaluate(model, params, state, test, { loss: crossEntropy }) // { loss: 0.08, accuracy: 0.975 }
 * @since 0.1.0
 */
export const evaluate = <P, S>(
  model: Layer<P, S>,
  params: P,
  state: S,
  dataset: Dataset,
  opts: EvaluateOptions = {},
): Evaluation => {
  checkOptions('evaluate', opts, EVALUATE_OPTIONS)
  return evaluateWith(evaluationForward(model), params, state, dataset, opts)
}

/** `evaluate` with the forward pass given; the options record is already checked. @internal */
export const evaluateWith = <P, S>(
  forward: EvaluationForward<P, S>,
  params: P,
  state: S,
  dataset: Dataset,
  opts: EvaluateOptions,
): Evaluation => {
  const output = predictWith(forward, params, state, dataset.x, opts.batchSize)
  const loss = opts.loss === undefined ? undefined : opts.loss(output, dataset.y)
  return measured(output, dataset.y, loss, opts.metrics)
}

/** The evaluation from the outputs and the loss over all of them. */
const measured = (
  output: Tensor,
  labels: Tensor,
  loss: Tensor | undefined,
  metrics: EvaluateOptions['metrics'],
): Evaluation => {
  const result: Record<string, number> = {}
  if (loss !== undefined) result['loss'] = T.item(loss)
  if (metrics !== undefined)
    for (const [name, metric] of Object.entries(metrics)) result[name] = metric(output, labels)
  else if (isClassification(output, labels) && labels.shape[0]! > 0)
    result['accuracy'] = countCorrect(output, labels) / labels.shape[0]!
  return result
}

/** What a staged evaluation pass returns: the outputs of every example and the loss over them. @internal */
export interface EvaluationOutputs {
  readonly output: Tensor
  readonly loss: Tensor
}

/**
 * `evaluate`'s computation as one function of tensors, for `jit` to stage as one graph (`fit`'s
 * validation): the evaluation-mode forward pass `batchSize` examples at a time (slices of `x`, the
 * outputs concatenated, as `predict` does), then the loss over all outputs. One graph per data set
 * shape, so a validation pass is one call: no eager loss, no per-batch calls.
 * @internal
 */
export const evaluationPass = <P, S>(
  model: Layer<P, S>,
  loss: LossFunction,
  batchSizeOption: number | undefined,
) => {
  const forward = evaluationForward(model)
  const batchSize = batchSizeOption ?? 256
  checkBatchSize('predict', batchSize)
  return (params: P, state: S, x: Tensor, y: Tensor): EvaluationOutputs => {
    const count = x.shape[0]!
    let output: Tensor
    if (count <= batchSize) output = forward(params, state, x)
    else {
      const outputs: Tensor[] = []
      for (let start = 0; start < count; start += batchSize)
        outputs.push(
          forward(params, state, O.slice(x, [{ start, stop: Math.min(start + batchSize, count) }])),
        )
      output = O.concat(outputs, { axis: 0 })
    }
    return { output, loss: loss(output, y) }
  }
}

/** `evaluate` with the loss, from a (staged) `evaluationPass`; values as `evaluateWith`'s, the loss to float rounding. @internal */
export const evaluateWithPass = <P, S>(
  pass: (params: P, state: S, x: Tensor, y: Tensor) => EvaluationOutputs,
  params: P,
  state: S,
  dataset: Dataset,
): Evaluation => {
  if (dataset.x.shape.length === 0)
    throw new T.ShapeError('predict', `x has shape ${T.fmtShape(dataset.x.shape)}; expected a batch [N, ...]`)
  const { output, loss } = pass(params, state, dataset.x, dataset.y)
  return measured(output, dataset.y, loss, undefined)
}
