// y = max(a, b) ; ā = ȳ [a > b] + ȳ/2 [a = b], b̄ likewise
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { batchElementwise } from '../core/batching'
import { unbroadcast } from '../core/unbroadcast'
import { equal } from './equal'
import { greater } from './greater'
import { less } from './less'
import { mul } from './mul'
import { where } from './where'
import { operands } from '../internal/operands'
import { binaryOnnx } from '../staging/onnx/rules'

/** The `maximum` op. @since 0.1.0 */
export const maximumOp = defineOp<'maximum', [Tensor, Tensor]>({
  name: 'maximum',
  forward: ([a, b]) => T.maximum(a, b),
  abstract: ([a, b]) => T.binaryOutput('maximum', a, b),
  vjp: (ct, [a, b], _y, _p, needed) => {
    // Ties split the cotangent half and half, so maximum(x, x) has gradient 1 like x itself.
    const tieShare = where(equal(a, b), mul(ct, 0.5), 0)
    return [
      needed[0] ? unbroadcast(where(greater(a, b), ct, tieShare), a.shape) : undefined,
      needed[1] ? unbroadcast(where(less(a, b), ct, tieShare), b.shape) : undefined,
    ]
  },
  batch: batchElementwise,
  onnx: binaryOnnx('Max'),
})

/**
 * Elementwise max (NaN propagates). Broadcasts like NumPy; dtypes promote (a plain number takes the other operand's dtype).
 * Gradient convention: where a = b the cotangent is split half and half between a and b.
 * @example
 * maximum(tensor([1, 5]), tensor([3, 2])) // [3, 5]
 * @throws ShapeError when the shapes do not broadcast.
 * @since 0.1.0
 */
export const maximum = (a: Tensor | number, b: Tensor | number): Tensor =>
  applyOp(maximumOp, operands(a, b), undefined)
