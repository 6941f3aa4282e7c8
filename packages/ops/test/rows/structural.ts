import type { Tensor } from '@backfold/tensor'
import { unsafeTensor } from '@backfold/tensor'
import {
  concat as concatParts,
  gather,
  oneHot,
  pad,
  scatterAdd,
  scatterAddAlongAxis,
  slice,
  split,
  stack,
  takeAlongAxis,
} from '../../src/indexing/index'
import * as C from '../../src/conv/index'
import { dot, linear, matmul, outer } from '../../src/linalg/index'
import * as R from '../../src/reduce/index'
import {
  broadcastTo,
  expandDims,
  flip,
  ravel,
  repeat,
  reshape,
  roll,
  squeeze,
  tile,
  transpose,
  tril,
  triu,
} from '../../src/shape/index'
import { mul } from '../../src/binary/mul'
import { argsort, sort, topk } from '../../src/sort/index'
import { anywhere, awayFromZero, distinct, indices } from './domains'
import type { GradRow } from './types'
import { randomRows } from './random'
import { matmulEpilogueRows } from './matmulEpilogue'
import { attentionRows } from './attention'

// Gradient rows for the reduce, linalg, shape, indexing and conv groups: every op of those groups
// has at least one row; composites (variance, dot, outer, expandDims, squeeze, ravel, stack, split)
// get rows named after the op they are built on.

const fmt = (shape: ReadonlyArray<number>): string => `[${shape.join(',')}]`

/** An int32 tensor with exactly these entries (repeated indices, chosen by hand). */
const int32 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  unsafeTensor('int32', shape, Int32Array.from(values))

/** A float64 tensor with exactly these entries (zeros placed by hand). */
const float64 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  unsafeTensor('float64', shape, Float64Array.from(values))

const reduceRows: GradRow[] = [
  {
    op: 'sum',
    label: '[2,3,4] axes [0,2]',
    domain: 'anywhere',
    fn: (x) => R.sum(x, { axis: [0, 2] }),
    args: () => [anywhere(1001, [2, 3, 4])],
    secondOrder: true,
  },
  {
    op: 'sum',
    label: '[2,3] all axes',
    domain: 'anywhere',
    fn: (x) => R.sum(x),
    args: () => [anywhere(1002, [2, 3])],
  },
  {
    op: 'sum',
    label: '[2,3,4] axis -1 keepDims',
    domain: 'anywhere',
    fn: (x) => R.sum(x, { axis: -1, keepDims: true }),
    args: () => [anywhere(1003, [2, 3, 4])],
  },
  {
    op: 'sum',
    label: '[2,3] no axes',
    domain: 'anywhere',
    fn: (x) => R.sum(x, { axis: [] }),
    args: () => [anywhere(1004, [2, 3])],
  },
  {
    op: 'mean',
    label: '[3,4] axis 1',
    domain: 'anywhere',
    fn: (x) => R.mean(x, { axis: 1 }),
    args: () => [anywhere(1010, [3, 4])],
    secondOrder: true,
  },
  {
    op: 'mean',
    label: '[2,3,2] all axes keepDims',
    domain: 'anywhere',
    fn: (x) => R.mean(x, { keepDims: true }),
    args: () => [anywhere(1011, [2, 3, 2])],
  },
  {
    op: 'mean',
    label: 'variance (composite) [3,4] axis 1',
    domain: 'anywhere',
    fn: (x) => R.variance(x, { axis: 1 }),
    args: () => [anywhere(1012, [3, 4])],
    secondOrder: true,
  },
  {
    op: 'mean',
    label: 'variance (composite) [2,3,2] axes [0,2] ddof 1 keepDims',
    domain: 'anywhere',
    fn: (x) => R.variance(x, { axis: [0, 2], ddof: 1, keepDims: true }),
    args: () => [anywhere(1013, [2, 3, 2])],
  },
  {
    op: 'prod',
    label: '[3,4] axis 1',
    domain: 'away from 0',
    fn: (x) => R.prod(x, { axis: 1 }),
    args: () => [awayFromZero(1020, [3, 4])],
    secondOrder: true,
  },
  {
    op: 'prod',
    label: '[2,3] all axes',
    domain: 'anywhere',
    fn: (x) => R.prod(x),
    args: () => [anywhere(1021, [2, 3])],
  },
  {
    op: 'prod',
    label: '[3,3] axis 1, one exact zero per row',
    // prod is a polynomial, so its derivatives at exact zeros are finite differences like anywhere else.
    domain: 'exact zeros, one per reduced set',
    fn: (x) => R.prod(x, { axis: 1 }),
    args: () => [float64([3, 3], [0, 1.5, -0.7, 1.2, 0, 0.8, 0.9, -1.3, 0])],
    secondOrder: true,
  },
  {
    op: 'prod',
    label: '[3,3] axis 0, two or three exact zeros per column',
    // The mixed second derivative between two zeros of a set is the product of the rest, not 0.
    domain: 'exact zeros, several per reduced set',
    fn: (x) => R.prod(x, { axis: 0 }),
    args: () => [float64([3, 3], [0, 0, 0, 0, 1.1, 0, 0.7, 0, 0])],
    secondOrder: true,
  },
  {
    op: 'prod',
    label: '[2,3,2] axes [0,2], two zeros per set',
    domain: 'exact zeros, several per reduced set',
    fn: (x) => R.prod(x, { axis: [0, 2] }),
    args: () => [float64([2, 3, 2], [0, 1.2, 0.5, -0.9, 1.3, 0, 0, 0.8, 1.1, 0, 0, -1.4])],
    secondOrder: true,
  },
  {
    op: 'cumprod',
    label: '[3,4] axis 1',
    domain: 'anywhere',
    fn: (x) => R.cumprod(x, { axis: 1 }),
    args: () => [anywhere(1025, [3, 4])],
    secondOrder: true,
  },
  {
    op: 'cumprod',
    label: '[4,3] axis 0 exclusive reverse, exact zeros',
    domain: 'exact zeros, up to three per scanned line',
    fn: (x) => R.cumprod(x, { axis: 0, exclusive: true, reverse: true }),
    args: () => [float64([4, 3], [0, 0, 1.2, 0.7, 0, 0, -1.1, 0, 0.9, 0, 0.6, 0])],
    secondOrder: true,
  },
  {
    op: 'cumprod',
    label: '[2,4] axis -1 exclusive, then reverse inclusive, exact zeros',
    domain: 'exact zeros, two per scanned line',
    fn: (x) => mul(R.cumprod(x, { axis: -1, exclusive: true }), R.cumprod(x, { axis: -1, reverse: true })),
    args: () => [float64([2, 4], [0, 1.3, 0, -0.8, 0.9, 0, -1.2, 0])],
    secondOrder: true,
  },
  {
    op: 'cumsum',
    label: '[3,4] axis 1',
    domain: 'anywhere',
    fn: (x) => R.cumsum(x, { axis: 1 }),
    args: () => [anywhere(1027, [3, 4])],
    secondOrder: true,
  },
  {
    op: 'cumsum',
    label: '[4,3] axis 0 exclusive reverse',
    domain: 'anywhere',
    fn: (x) => R.cumsum(x, { axis: 0, exclusive: true, reverse: true }),
    args: () => [anywhere(1028, [4, 3])],
    secondOrder: true,
  },
  {
    op: 'max',
    label: '[3,4] axis 1',
    domain: 'distinct (no ties)',
    fn: (x) => R.max(x, { axis: 1 }),
    args: () => [distinct(1030, [3, 4])],
    secondOrder: true,
  },
  {
    op: 'max',
    label: '[2,3,2] all axes',
    domain: 'distinct (no ties)',
    fn: (x) => R.max(x),
    args: () => [distinct(1031, [2, 3, 2])],
  },
  {
    op: 'min',
    label: '[3,4] axis 0 keepDims',
    domain: 'distinct (no ties)',
    fn: (x) => R.min(x, { axis: 0, keepDims: true }),
    args: () => [distinct(1040, [3, 4])],
    secondOrder: true,
  },
  {
    op: 'argmax',
    label: '[3,4] axis 1 (zero gradient)',
    domain: 'distinct (no ties)',
    fn: (x) => R.argmax(x, { axis: 1 }),
    args: () => [distinct(1050, [3, 4])],
  },
  {
    op: 'argmax',
    label: 'flattened (zero gradient)',
    domain: 'distinct (no ties)',
    fn: (x) => R.argmax(x),
    args: () => [distinct(1051, [2, 3])],
  },
  {
    op: 'argmin',
    label: '[3,4] axis 0 keepDims (zero gradient)',
    domain: 'distinct (no ties)',
    fn: (x) => R.argmin(x, { axis: 0, keepDims: true }),
    args: () => [distinct(1060, [3, 4])],
  },
  {
    op: 'argmin',
    label: '[2,3,2] flattened keepDims (zero gradient)',
    domain: 'distinct (no ties)',
    fn: (x) => R.argmin(x, { keepDims: true }),
    args: () => [distinct(1061, [2, 3, 2])],
  },
  {
    op: 'logsumexp',
    label: '[3,4] axis 1',
    domain: 'anywhere',
    fn: (x) => R.logsumexp(x, { axis: 1 }),
    args: () => [anywhere(1070, [3, 4])],
    secondOrder: true,
  },
  {
    op: 'logsumexp',
    label: '[2,3,2] axes [0,2] keepDims',
    domain: 'anywhere',
    fn: (x) => R.logsumexp(x, { axis: [0, 2], keepDims: true }),
    args: () => [anywhere(1071, [2, 3, 2])],
  },
  {
    op: 'norm',
    label: '[3,4] axis 1',
    domain: 'away from 0',
    fn: (x) => R.norm(x, { axis: 1 }),
    args: () => [awayFromZero(1080, [3, 4])],
    secondOrder: true,
  },
  {
    op: 'norm',
    label: '[2,3] all axes',
    domain: 'anywhere',
    fn: (x) => R.norm(x),
    args: () => [anywhere(1081, [2, 3])],
  },
]

/** One matmul row: shapes, flags, and second order (matmul rows always check it). */
const matmulRow = (
  aShape: ReadonlyArray<number>,
  bShape: ReadonlyArray<number>,
  transposeA: boolean,
  transposeB: boolean,
  seed: number,
): GradRow => ({
  op: 'matmul',
  label: `${fmt(aShape)}${transposeA ? 'ᵀ' : ''} @ ${fmt(bShape)}${transposeB ? 'ᵀ' : ''}`,
  domain: 'anywhere',
  fn: (a, b) => matmul(a, b, { transposeA, transposeB }),
  args: () => [anywhere(seed, aShape), anywhere(seed + 1, bShape)],
  secondOrder: true,
})

const linalgRows: GradRow[] = [
  {
    op: 'linear',
    label: 'x [4,3], w [5,3], b [5], no activation',
    domain: 'anywhere',
    fn: (x, w, b) => linear(x, w, b),
    args: () => [anywhere(1140, [4, 3]), anywhere(1141, [5, 3]), anywhere(1142, [5])],
    secondOrder: true,
  },
  {
    op: 'linear',
    label: 'x [2,3], w [4,3], no bias',
    domain: 'anywhere',
    fn: (x, w) => linear(x, w),
    args: () => [anywhere(1143, [2, 3]), anywhere(1144, [4, 3])],
    secondOrder: true,
  },
  {
    op: 'linear',
    label: 'x [3,2], w [4,2], b [4], relu',
    // The bias keeps every pre-activation at least 0.5 away from ReLU's kink.
    domain: 'pre-activations away from 0',
    fn: (x, w, b) => linear(x, w, b, 'relu'),
    args: () => {
      const x = anywhere(1145, [3, 2])
      const w = anywhere(1146, [4, 2])
      const z = matmul(x, w, { transposeB: true }).data
      const bias = Float64Array.from({ length: 4 }, (_, j) => {
        const column = [0, 1, 2].map((i) => z[i * 4 + j]!)
        // Shift the column so all its entries sit on one side of 0 except a clear split.
        return j % 2 === 0 ? 0.5 - Math.min(...column) : -0.5 - Math.max(...column)
      })
      return [x, w, unsafeTensor('float64', [4], bias)]
    },
  },
  matmulRow([2, 3], [3, 4], false, false, 1100),
  matmulRow([2, 3], [4, 3], false, true, 1102),
  matmulRow([3, 2], [3, 4], true, false, 1104),
  matmulRow([3, 2], [4, 3], true, true, 1106),
  // Batch broadcasting: [2,1] against [3] batch axes, and a rank-2 operand against a batch.
  matmulRow([2, 1, 2, 3], [3, 3, 2], false, false, 1108),
  matmulRow([2, 3, 2], [4, 3], true, true, 1110),
  matmulRow([3, 2], [2, 1, 3, 4], true, false, 1112),
  matmulRow([1, 2, 3], [2, 2, 3], false, true, 1114),
  // Vectors (NumPy semantics, reshaped around the op).
  matmulRow([3], [3, 4], false, false, 1116),
  matmulRow([2, 3], [3], false, false, 1118),
  matmulRow([2, 3, 4], [4], false, false, 1120),
  matmulRow([4], [3, 4], false, true, 1122),
  matmulRow([3], [3], false, false, 1124),
  {
    op: 'matmul',
    label: 'dot (composite) [5] · [5]',
    domain: 'anywhere',
    fn: dot,
    args: () => [anywhere(1130, [5]), anywhere(1131, [5])],
    secondOrder: true,
  },
  {
    op: 'matmul',
    label: 'outer (composite) [3] ⊗ [4]',
    domain: 'anywhere',
    fn: outer,
    args: () => [anywhere(1132, [3]), anywhere(1133, [4])],
    secondOrder: true,
  },
]

const shapeRows: GradRow[] = [
  {
    op: 'reshape',
    label: '[2,3,4] -> [4,-1]',
    domain: 'anywhere',
    fn: (x) => reshape(x, [4, -1]),
    args: () => [anywhere(1200, [2, 3, 4])],
    secondOrder: true,
  },
  {
    op: 'reshape',
    label: '[] -> [1,1]',
    domain: 'anywhere',
    fn: (x) => reshape(x, [1, 1]),
    args: () => [anywhere(1201, [])],
  },
  {
    op: 'reshape',
    label: 'expandDims (composite) [2,3] axis -1',
    domain: 'anywhere',
    fn: (x) => expandDims(x, { axis: -1 }),
    args: () => [anywhere(1202, [2, 3])],
  },
  {
    op: 'reshape',
    label: 'squeeze (composite) [1,3,1,2]',
    domain: 'anywhere',
    fn: (x) => squeeze(x),
    args: () => [anywhere(1203, [1, 3, 1, 2])],
  },
  {
    op: 'reshape',
    label: 'ravel (composite) [2,3]',
    domain: 'anywhere',
    fn: ravel,
    args: () => [anywhere(1204, [2, 3])],
  },
  {
    op: 'sort',
    label: '[3,4] axis 1',
    domain: 'distinct (no ties)',
    fn: (x) => sort(x, { axis: 1 }),
    args: () => [distinct(1320, [3, 4])],
    secondOrder: true,
  },
  {
    op: 'sort',
    label: '[4,3] axis 0 descending',
    domain: 'distinct (no ties)',
    fn: (x) => sort(x, { axis: 0, descending: true }),
    args: () => [distinct(1321, [4, 3])],
    secondOrder: true,
  },
  {
    // topk is argsort + slice + takeAlongAxis: its row checks the values' gradient through them.
    op: 'sort',
    label: 'topk 2 of [3,5] (values)',
    domain: 'distinct (no ties)',
    fn: (x) => topk(x, 2).values,
    args: () => [distinct(1322, [3, 5])],
    secondOrder: true,
  },
  {
    op: 'argsort',
    label: '[3,4] (zero gradient)',
    domain: 'distinct (no ties)',
    fn: (x) => argsort(x),
    args: () => [distinct(1323, [3, 4])],
  },
  {
    op: 'flip',
    label: '[2,3,4] axes [0,2]',
    domain: 'anywhere',
    fn: (x) => flip(x, { axis: [0, -1] }),
    args: () => [anywhere(1300, [2, 3, 4])],
    secondOrder: true,
  },
  {
    op: 'roll',
    label: '[3,4] shifts [1,-3] on axes [0,1]',
    domain: 'anywhere',
    fn: (x) => roll(x, [1, -3], { axis: [0, 1] }),
    args: () => [anywhere(1301, [3, 4])],
    secondOrder: true,
  },
  {
    op: 'tile',
    label: '[2,3] reps [2,1,3] (promoted)',
    domain: 'anywhere',
    fn: (x) => tile(x, [2, 1, 3]),
    args: () => [anywhere(1302, [2, 3])],
    secondOrder: true,
  },
  {
    op: 'tile',
    label: '[2,3] reps [2] (padded)',
    domain: 'anywhere',
    fn: (x) => tile(x, 2),
    args: () => [anywhere(1303, [2, 3])],
  },
  {
    op: 'repeat',
    label: '[2,3] 3 times on axis 0',
    domain: 'anywhere',
    fn: (x) => repeat(x, 3, { axis: 0 }),
    args: () => [anywhere(1304, [2, 3])],
    secondOrder: true,
  },
  {
    op: 'tril',
    label: '[2,3,4] k -1',
    domain: 'anywhere',
    fn: (x) => tril(x, { k: -1 }),
    args: () => [anywhere(1305, [2, 3, 4])],
    secondOrder: true,
  },
  {
    op: 'triu',
    label: '[4,3] k 1',
    domain: 'anywhere',
    fn: (x) => triu(x, { k: 1 }),
    args: () => [anywhere(1306, [4, 3])],
    secondOrder: true,
  },
  {
    op: 'transpose',
    label: '[2,3,4] perm [2,0,1]',
    domain: 'anywhere',
    fn: (x) => transpose(x, [2, 0, 1]),
    args: () => [anywhere(1210, [2, 3, 4])],
    secondOrder: true,
  },
  {
    op: 'reshape',
    label: '[2,3,4] -> [3,8] (no prefix of the new shape holds the first axis)',
    domain: 'anywhere',
    fn: (x) => reshape(x, [3, 8]),
    args: () => [anywhere(1205, [2, 3, 4])],
  },
  {
    op: 'transpose',
    label: '[3,4] default (reversed)',
    domain: 'anywhere',
    fn: (x) => transpose(x),
    args: () => [anywhere(1211, [3, 4])],
  },
  {
    op: 'broadcastTo',
    label: '[3,1] -> [2,3,4]',
    domain: 'anywhere',
    fn: (x) => broadcastTo(x, [2, 3, 4]),
    args: () => [anywhere(1220, [3, 1])],
    secondOrder: true,
  },
  {
    op: 'transpose',
    label: '[2,3,2,2] perm [3,1,0,2]',
    domain: 'anywhere',
    fn: (x) => transpose(x, [3, 1, 0, 2]),
    args: () => [anywhere(1212, [2, 3, 2, 2])],
  },
  {
    op: 'broadcastTo',
    label: '[4,1] -> [2,1,4,3]',
    domain: 'anywhere',
    fn: (x) => broadcastTo(x, [2, 1, 4, 3]),
    args: () => [anywhere(1222, [4, 1])],
  },
  {
    op: 'broadcastTo',
    label: '[] -> [2,3]',
    domain: 'anywhere',
    fn: (x) => broadcastTo(x, [2, 3]),
    args: () => [anywhere(1221, [])],
  },
]

const indexingRows: GradRow[] = [
  {
    op: 'slice',
    label: '[4,5] [1:3, -4:-1] (unit steps: pad)',
    domain: 'anywhere',
    fn: (x) =>
      slice(x, [
        { start: 1, stop: 3 },
        { start: -4, stop: -1 },
      ]),
    args: () => [anywhere(1300, [4, 5])],
    secondOrder: true,
  },
  {
    op: 'slice',
    label: '[4,5] [::2, 1:] (strided: scatter)',
    domain: 'anywhere',
    fn: (x) => slice(x, [{ step: 2 }, { start: 1 }]),
    args: () => [anywhere(1301, [4, 5])],
    secondOrder: true,
  },
  {
    op: 'slice',
    label: '[4,5] [::-1, -1:0:-2] (negative steps)',
    domain: 'anywhere',
    fn: (x) => slice(x, [{ step: -1 }, { start: -1, stop: 0, step: -2 }]),
    args: () => [anywhere(1302, [4, 5])],
    secondOrder: true,
  },
  {
    op: 'slice',
    label: '[2,3,4] [:, ::-2, 3::-3] (negative steps reaching index 0)',
    domain: 'anywhere',
    fn: (x) => slice(x, [undefined, { step: -2 }, { start: 3, step: -3 }]),
    args: () => [anywhere(1303, [2, 3, 4])],
  },
  {
    op: 'slice',
    label: 'split (composite) [2,5] sizes [2,3] axis 1, parts swapped',
    domain: 'anywhere',
    fn: (x) => {
      const [left, right] = split(x, [2, 3], { axis: 1 })
      return concatParts([right!, left!], { axis: 1 })
    },
    args: () => [anywhere(1304, [2, 5])],
  },
  {
    op: 'concat',
    label: '[2,3] ++ [2,1] ++ [2,2] axis 1',
    domain: 'anywhere',
    fn: (a, b, c) => concatParts([a, b, c], { axis: 1 }),
    args: () => [anywhere(1310, [2, 3]), anywhere(1311, [2, 1]), anywhere(1312, [2, 2])],
    secondOrder: true,
  },
  {
    op: 'concat',
    label: '[1,3] ++ [2,3] axis -2',
    domain: 'anywhere',
    fn: (a, b) => concatParts([a, b], { axis: -2 }),
    args: () => [anywhere(1313, [1, 3]), anywhere(1314, [2, 3])],
  },
  {
    op: 'concat',
    label: 'stack (composite) three [2,3] axis -1',
    domain: 'anywhere',
    fn: (a, b, c) => stack([a, b, c], { axis: -1 }),
    args: () => [anywhere(1315, [2, 3]), anywhere(1316, [2, 3]), anywhere(1317, [2, 3])],
  },
  {
    op: 'pad',
    label: '[2,3] [[1,0],[2,1]] value 0.5',
    domain: 'anywhere',
    fn: (x) =>
      pad(
        x,
        [
          [1, 0],
          [2, 1],
        ],
        0.5,
      ),
    args: () => [anywhere(1320, [2, 3])],
    secondOrder: true,
  },
  {
    op: 'pad',
    label: '[2,2,2] leading axis only',
    domain: 'anywhere',
    fn: (x) => pad(x, [[0, 2]]),
    args: () => [anywhere(1321, [2, 2, 2])],
  },
  {
    op: 'gather',
    label: '[4,3] rows [2,0,2,3,2] (repeated indices)',
    domain: 'x anywhere, indices with repeats',
    fn: (x, idx) => gather(x, idx, { axis: 0 }),
    args: () => [anywhere(1330, [4, 3]), int32([5], [2, 0, 2, 3, 2])],
    secondOrder: true,
  },
  {
    op: 'gather',
    label: '[2,4] axis 1, indices [2,3]',
    domain: 'x anywhere, random indices',
    fn: (x, idx) => gather(x, idx, { axis: -1 }),
    args: () => [anywhere(1331, [2, 4]), indices(1332, [2, 3], 4)],
  },
  {
    op: 'scatterAdd',
    label: 'updates [2,5] -> [2,3] axis 1 (repeated indices)',
    domain: 'updates anywhere, indices with repeats',
    fn: (updates, idx) => scatterAdd(updates, idx, [2, 3], { axis: 1 }),
    args: () => [anywhere(1340, [2, 5]), int32([5], [1, 1, 0, 2, 1])],
    secondOrder: true,
  },
  {
    op: 'takeAlongAxis',
    label: '[3,4] axis 1, indices [3,2]',
    domain: 'x anywhere, indices with repeats',
    fn: (x, idx) => takeAlongAxis(x, idx, { axis: 1 }),
    args: () => [anywhere(1350, [3, 4]), int32([3, 2], [3, 3, 0, 2, 1, 1])],
    secondOrder: true,
  },
  {
    op: 'takeAlongAxis',
    label: '[4,2] axis 0, indices [3,2]',
    domain: 'x anywhere, random indices',
    fn: (x, idx) => takeAlongAxis(x, idx, { axis: 0 }),
    args: () => [anywhere(1351, [4, 2]), indices(1352, [3, 2], 4)],
  },
  {
    op: 'scatterAddAlongAxis',
    label: 'updates [3,2] -> [3,4] axis 1',
    domain: 'updates anywhere, indices with repeats',
    fn: (updates, idx) => scatterAddAlongAxis(updates, idx, [3, 4], { axis: 1 }),
    args: () => [anywhere(1360, [3, 2]), int32([3, 2], [3, 3, 0, 2, 1, 1])],
    secondOrder: true,
  },
  {
    op: 'oneHot',
    label: 'x ⊙ oneHot(argmax x) (zero gradient through the indices)',
    domain: 'distinct (no ties)',
    fn: (x) => mul(x, oneHot(R.argmax(x, { axis: 1 }), 4, 'float64')),
    args: () => [distinct(1370, [3, 4])],
  },
  // Rows with int32 arguments of every index rank, so the vmap table maps indices too.
  {
    op: 'oneHot',
    label: 'x ⊙ oneHot(indices [3]) (int32 argument)',
    domain: 'x anywhere, indices given',
    fn: (x, idx) => mul(x, oneHot(idx, 4, 'float64')),
    args: () => [anywhere(1371, [3, 4]), int32([3], [2, 0, 3])],
  },
  {
    op: 'gather',
    label: '[3,4,2] axis 1, indices [2,3] (index axes in the middle)',
    domain: 'x anywhere, random indices',
    fn: (x, idx) => gather(x, idx, { axis: 1 }),
    args: () => [anywhere(1333, [3, 4, 2]), indices(1334, [2, 3], 4)],
  },
  {
    op: 'gather',
    label: '[3,4] axis 1, a scalar index',
    domain: 'x anywhere, index given',
    fn: (x, idx) => gather(x, idx, { axis: 1 }),
    args: () => [anywhere(1335, [3, 4]), int32([], [2])],
  },
  {
    op: 'scatterAdd',
    label: 'updates [3,2,2,2] -> [3,4,2] axis 1, indices [2,2] (repeated)',
    domain: 'updates anywhere, indices with repeats',
    fn: (updates, idx) => scatterAdd(updates, idx, [3, 4, 2], { axis: 1 }),
    args: () => [anywhere(1341, [3, 2, 2, 2]), int32([2, 2], [3, 0, 3, 1])],
  },
  {
    op: 'scatterAdd',
    label: 'updates [] -> [4], a scalar index',
    domain: 'updates anywhere, index given',
    fn: (updates, idx) => scatterAdd(updates, idx, [4]),
    args: () => [anywhere(1342, []), int32([], [1])],
  },
  {
    op: 'takeAlongAxis',
    label: '[2,3,4] axis 2, indices [2,3,2]',
    domain: 'x anywhere, random indices',
    fn: (x, idx) => takeAlongAxis(x, idx, { axis: -1 }),
    args: () => [anywhere(1353, [2, 3, 4]), indices(1354, [2, 3, 2], 4)],
  },
  {
    op: 'scatterAddAlongAxis',
    label: 'updates [2,3] -> [4,3] axis 0',
    domain: 'updates anywhere, random indices',
    fn: (updates, idx) => scatterAddAlongAxis(updates, idx, [4, 3], { axis: 0 }),
    args: () => [anywhere(1361, [2, 3]), indices(1362, [2, 3], 4)],
  },
]

const convRows: GradRow[] = [
  {
    op: 'conv2d',
    label: 'x [2,1,3,4], w [2,1,2,2], valid',
    domain: 'anywhere',
    fn: (x, w) => C.conv2d(x, w),
    args: () => [anywhere(1400, [2, 1, 3, 4]), anywhere(1401, [2, 1, 2, 2])],
    secondOrder: true,
  },
  {
    op: 'conv2d',
    label: 'x [1,2,4,3], w [3,2,2,2], stride 2, padding 1',
    domain: 'anywhere',
    fn: (x, w) => C.conv2d(x, w, { stride: 2, padding: 1 }),
    args: () => [anywhere(1402, [1, 2, 4, 3]), anywhere(1403, [3, 2, 2, 2])],
  },
  {
    op: 'conv2d',
    label: 'x [1,1,4,5], w [2,1,2,2], dilation 2, padding [1,0,0,1]',
    domain: 'anywhere',
    fn: (x, w) => C.conv2d(x, w, { dilation: 2, padding: [1, 0, 0, 1] }),
    args: () => [anywhere(1404, [1, 1, 4, 5]), anywhere(1405, [2, 1, 2, 2])],
  },
  {
    op: 'conv2d',
    label: "x [1,2,3,4], w [1,2,3,3], 'same', stride 2",
    domain: 'anywhere',
    fn: (x, w) => C.conv2d(x, w, { stride: 2, padding: 'same' }),
    args: () => [anywhere(1406, [1, 2, 3, 4]), anywhere(1407, [1, 2, 3, 3])],
  },
  {
    op: 'conv2d',
    label: 'x [1,2,3,3] convolved with its own first 8 entries as w [1,2,2,2] (quadratic in x)',
    // The second derivative of conv2d in one argument is zero; making w a function of x exercises
    // the VJPs of conv2dBackwardInput and conv2dBackwardFilter in the second-order check.
    domain: 'anywhere',
    fn: (x) => C.conv2d(x, reshape(slice(ravel(x), [{ stop: 8 }]), [1, 2, 2, 2]), { padding: 1 }),
    args: () => [anywhere(1408, [1, 2, 3, 3])],
    secondOrder: true,
  },
  {
    op: 'conv2dBackwardInput',
    label: 'dy [1,2,2,3], w [2,2,2,2] -> x [1,2,4,5], stride 2, padding [1,0,1,0]',
    domain: 'anywhere',
    fn: (dy, w) => C.conv2dBackwardInput(dy, w, [1, 2, 4, 5], { stride: 2, padding: [1, 0, 1, 0] }),
    args: () => [anywhere(1410, [1, 2, 2, 3]), anywhere(1411, [2, 2, 2, 2])],
    secondOrder: true,
  },
  {
    op: 'conv2dBackwardFilter',
    label: 'x [1,2,4,4], dy [1,2,2,2] -> w [2,2,2,2], dilation 2',
    domain: 'anywhere',
    fn: (x, dy) => C.conv2dBackwardFilter(x, dy, [2, 2, 2, 2], { dilation: 2 }),
    args: () => [anywhere(1420, [1, 2, 4, 4]), anywhere(1421, [1, 2, 2, 2])],
    secondOrder: true,
  },
  {
    op: 'maxPool2d',
    label: 'x [1,1,4,5], kernel 3, stride 2, padding 1',
    domain: 'distinct (no ties)',
    fn: (x) => C.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }),
    args: () => [distinct(1430, [1, 1, 4, 5])],
    secondOrder: true,
  },
  {
    op: 'maxPool2d',
    label: 'x [2,2,2,4], kernel [2,2], stride [1,2]',
    domain: 'distinct (no ties)',
    fn: (x) => C.maxPool2d(x, { kernelSize: [2, 2], stride: [1, 2] }),
    args: () => [distinct(1431, [2, 2, 2, 4])],
  },
  {
    op: 'maxPool2dBackward',
    label: 'dy [1,1,2,3], x [1,1,4,5], kernel 3, stride 2, padding 1',
    domain: 'dy anywhere, x distinct (no ties)',
    fn: (dy, x) => C.maxPool2dBackward(dy, x, { kernelSize: 3, stride: 2, padding: 1 }),
    args: () => [anywhere(1440, [1, 1, 2, 3]), distinct(1441, [1, 1, 4, 5])],
    secondOrder: true,
  },
  {
    op: 'maxPool2dSelect',
    label: 'src [1,1,4,5], x [1,1,4,5], kernel 3, stride 2, padding 1',
    domain: 'src anywhere, x distinct (no ties)',
    fn: (src, x) => C.maxPool2dSelect(src, x, { kernelSize: 3, stride: 2, padding: 1 }),
    args: () => [anywhere(1450, [1, 1, 4, 5]), distinct(1451, [1, 1, 4, 5])],
    secondOrder: true,
  },
  {
    op: 'avgPool2d',
    label: 'x [1,2,3,4], kernel 2, stride 1, padding 1',
    domain: 'anywhere',
    fn: (x) => C.avgPool2d(x, { kernelSize: 2, stride: 1, padding: 1 }),
    args: () => [anywhere(1460, [1, 2, 3, 4])],
    secondOrder: true,
  },
  {
    op: 'avgPool2d',
    label: "x [1,1,5,4], kernel [3,2], stride 2, 'same'",
    domain: 'anywhere',
    fn: (x) => C.avgPool2d(x, { kernelSize: [3, 2], stride: 2, padding: 'same' }),
    args: () => [anywhere(1461, [1, 1, 5, 4])],
  },
  {
    op: 'avgPool2dBackward',
    label: 'dy [1,2,2,3] -> x [1,2,4,5], kernel 2, padding [0,1,1,0]',
    domain: 'anywhere',
    fn: (dy) => C.avgPool2dBackward(dy, [1, 2, 4, 5], { kernelSize: 2, padding: [0, 1, 1, 0] }),
    args: () => [anywhere(1470, [1, 2, 2, 3])],
    secondOrder: true,
  },
]

/** Gradient rows of every reduce, linalg, shape, indexing and conv op. */
export const structuralRows: GradRow[] = [
  ...reduceRows,
  ...linalgRows,
  ...shapeRows,
  ...indexingRows,
  ...convRows,
  ...randomRows,
  ...matmulEpilogueRows,
  ...attentionRows,
]
