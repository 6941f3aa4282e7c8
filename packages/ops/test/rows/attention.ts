import { unsafeTensor, type Tensor } from '@backfold/tensor'
import { scaledDotProductAttention } from '../../src/attention/index'
import { anywhere } from './domains'
import type { GradRow } from './types'

// Gradient rows of the attention op: shapes with broadcast batch axes, an int32 mask with a fully
// masked query (zeros, zero gradient), a differentiated additive mask, causal with Lq < Lk and Lq > Lk.

const int32 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  unsafeTensor('int32', shape, Int32Array.from(values))

/** Gradient rows of `scaledDotProductAttention`. */
export const attentionRows: GradRow[] = [
  {
    op: 'scaledDotProductAttention',
    label: 'q [2,3,4], k [2,5,4], v [2,5,3]',
    domain: 'anywhere',
    fn: (q, k, v) => scaledDotProductAttention(q!, k!, v!),
    args: () => [anywhere(1600, [2, 3, 4]), anywhere(1601, [2, 5, 4]), anywhere(1602, [2, 5, 3])],
    secondOrder: true,
  },
  {
    op: 'scaledDotProductAttention',
    label: 'q [1,2,3,2] broadcast against k [2,4,2], v [2,4,3], causal (Lq < Lk), scale 0.7',
    domain: 'anywhere',
    fn: (q, k, v) => scaledDotProductAttention(q!, k!, v!, { causal: true, scale: 0.7 }),
    args: () => [anywhere(1603, [1, 2, 3, 2]), anywhere(1604, [2, 4, 2]), anywhere(1605, [2, 4, 3])],
    secondOrder: true,
  },
  {
    op: 'scaledDotProductAttention',
    label: 'int32 mask [3,4] with a fully masked query, q [2,3,2]',
    domain: 'anywhere',
    fn: (q, k, v, m) => scaledDotProductAttention(q!, k!, v!, { mask: m }),
    args: () => [
      anywhere(1606, [2, 3, 2]),
      anywhere(1607, [2, 4, 2]),
      anywhere(1608, [2, 4, 2]),
      int32([3, 4], [1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 0]),
    ],
    secondOrder: true,
  },
  {
    op: 'scaledDotProductAttention',
    label: 'additive mask [1,4] differentiated, causal with Lq > Lk (first query fully masked)',
    domain: 'anywhere',
    fn: (q, k, v, m) => scaledDotProductAttention(q!, k!, v!, { mask: m, causal: true }),
    args: () => [
      anywhere(1609, [3, 2]),
      anywhere(1610, [2, 2]),
      anywhere(1611, [2, 3]),
      anywhere(1612, [1, 2]),
    ],
    secondOrder: true,
  },
]
