// i = argmin_axis x ; no derivative (an index): zero VJP
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

/** The argmin op (int32 result, zero VJP). @since 0.1.0 */
export const argminOp = defineOp<'argmin', [Tensor], ArgReduceParams>({
  name: 'argmin',
  forward: ([x], p) => T.argmin(x, argReduceOptions(p)),
  vjp: zeroCotangents,
  batch: batchArgReduction,
  abstract: argReductionAval('argmin'),
  onnx: argReduceOnnx('ArgMin'),
})

/**
 * Index of the minimum along `axis` (int32); without `axis`, the index into the flattened tensor.
 * Ties give the first occurrence. Not differentiable: its VJP is zero.
 * @example
 * argmin(tensor([[1, 5], [7, 2]]), { axis: 1 }) // [0, 1]
 * @since 0.1.0
 */
export const argmin = (x: Tensor, opts?: ArgReduceOptions): Tensor =>
  applyOp(argminOp, [x], argReduceParams('argmin', x, opts))
