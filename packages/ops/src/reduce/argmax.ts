// i = argmax_axis x ; no derivative (an index): zero VJP
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import {
  argReduceOptions,
  argReduceParams,
  argReductionAval,
  batchArgReduction,
  type ArgReduceOptions,
  type ArgReduceParams,
} from '../internal/reduceParams'
import { zeroCotangents } from '../core/zeroCotangents'
import { argReduceOnnx } from '../staging/onnx/rules'

/** The argmax op (int32 result, zero VJP). @since 0.1.0 */
export const argmaxOp = defineOp<'argmax', [Tensor], ArgReduceParams>({
  name: 'argmax',
  forward: ([x], p) => T.argmax(x, argReduceOptions(p)),
  vjp: zeroCotangents,
  batch: batchArgReduction,
  abstract: argReductionAval('argmax'),
  onnx: argReduceOnnx('ArgMax'),
})

/**
 * Index of the maximum along `axis` (int32); without `axis`, the index into the flattened tensor.
 * Ties give the first occurrence. Not differentiable: its VJP is zero.
 * @example
 * argmax(tensor([[1, 5], [7, 2]]), { axis: 1 }) // [1, 0]
 * @since 0.1.0
 */
export const argmax = (x: Tensor, opts?: ArgReduceOptions): Tensor =>
  applyOp(argmaxOp, [x], argReduceParams('argmax', x, opts))
