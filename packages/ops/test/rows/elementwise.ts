import type { Tensor } from '@backfold/tensor'
import { unsafeTensor, zeros } from '@backfold/tensor'
import * as A from '../../src/activations/index'
import * as B from '../../src/binary/index'
import * as E from '../../src/elementwise/index'
import * as L from '../../src/losses/index'
import { anywhere, awayFromZero, indices, positive, unitInterior } from './domains'
import type { GradRow } from './types'
import { programRows, reductionProgramRows } from './program'

// Gradient rows for the elementwise, binary, activation and loss groups: every op of those groups
// has at least one row, binary ops have the three broadcasting patterns, and composites get rows too
// (named after their nearest op).

type Domain = (seed: number, shape: ReadonlyArray<number>) => Tensor

const unaryRow = (
  op: string,
  fn: (x: Tensor) => Tensor,
  domain: string,
  draw: Domain,
  seed: number,
  shape: ReadonlyArray<number> = [2, 3],
  label = `[${shape.join(',')}]`,
): GradRow => ({ op, label, domain, fn, args: () => [draw(seed, shape)], secondOrder: true })

const unaryRows: GradRow[] = [
  unaryRow('neg', E.neg, 'anywhere', anywhere, 101),
  unaryRow('abs', E.abs, 'away from 0 (kink)', awayFromZero, 102),
  unaryRow('sign', E.sign, 'away from 0 (jump)', awayFromZero, 103),
  unaryRow('exp', E.exp, 'anywhere', anywhere, 104),
  unaryRow('expm1', E.expm1, 'anywhere', anywhere, 105),
  unaryRow('log', E.log, 'positive', positive, 106),
  unaryRow('log1p', E.log1p, 'positive', positive, 107),
  unaryRow('sqrt', E.sqrt, 'positive', positive, 108),
  unaryRow('rsqrt', E.rsqrt, 'positive', positive, 109),
  unaryRow('square', E.square, 'anywhere', anywhere, 110),
  unaryRow('reciprocal', E.reciprocal, 'away from 0 (pole)', awayFromZero, 111),
  unaryRow('sin', E.sin, 'anywhere', anywhere, 112),
  unaryRow('cos', E.cos, 'anywhere', anywhere, 113),
  unaryRow('tanh', E.tanh, 'anywhere', anywhere, 114),
  unaryRow('sigmoid', E.sigmoid, 'anywhere', anywhere, 115),
  unaryRow('relu', E.relu, 'away from 0 (kink)', awayFromZero, 116),
  unaryRow('softplus', E.softplus, 'anywhere', anywhere, 117),
  // Uniform draws are never within the 1e-6 step of an integer (or a half for round), so the
  // finite differences see the flat part of each step.
  unaryRow('floor', E.floor, 'anywhere (off the integers)', anywhere, 118),
  unaryRow('ceil', E.ceil, 'anywhere (off the integers)', anywhere, 119),
  unaryRow('round', E.round, 'anywhere (off the half-integers)', anywhere, 120),
  unaryRow('erf', E.erf, 'anywhere', anywhere, 121),
  unaryRow('tan', E.tan, '(-0.9, 0.9), away from the poles', unitInterior, 125),
  unaryRow('asin', E.asin, '(-0.9, 0.9), inside the domain', unitInterior, 126),
  unaryRow('acos', E.acos, '(-0.9, 0.9), inside the domain', unitInterior, 127),
  unaryRow('atan', E.atan, 'anywhere', anywhere, 128),
  unaryRow('sinh', E.sinh, 'anywhere', anywhere, 129),
  unaryRow('cosh', E.cosh, 'anywhere', anywhere, 130),
  // Predicates: int32 masks whose VJP is explicitly zero (the finite differences of a mask are 0).
  {
    op: 'isnan',
    label: '[2,3]',
    domain: 'anywhere (zero gradient)',
    fn: E.isnan,
    args: () => [anywhere(131, [2, 3])],
  },
  {
    op: 'isfinite',
    label: '[2,3]',
    domain: 'anywhere (zero gradient)',
    fn: E.isfinite,
    args: () => [anywhere(132, [2, 3])],
  },
  {
    op: 'astype',
    label: 'float64 -> float32',
    // float32 cannot resolve a 1e-6 step around a typical value (its spacing there is ~1e-7), but
    // it can around 0; the VJP is linear, so one point is as good as any.
    domain: 'zero (float32 resolves the finite-difference step only near 0)',
    fn: (x) => E.astype(x, 'float32'),
    args: () => [zeros([2, 3], 'float64')],
    secondOrder: true,
  },
  {
    op: 'astype',
    label: 'float64 -> int32 (zero gradient)',
    domain: 'anywhere (off the integers)',
    fn: (x) => E.astype(x, 'int32'),
    args: () => [anywhere(122, [2, 3])],
  },
  {
    // Differentiable in ct (a mask), flat in y away from y = 0; the mask is read off y.
    op: 'reluGrad',
    label: 'ct [2,3], y [2,3]',
    domain: 'ct anywhere, y away from 0 (jump)',
    fn: (ct, y) => E.reluGrad(ct, y),
    args: () => [anywhere(123, [2, 3]), awayFromZero(124, [2, 3])],
    secondOrder: true,
  },
  {
    // stopGradient's own derivative (zero) differs from the finite differences of its value, so
    // its row cuts a locally constant factor: x · sign(x) = |x|, whose derivative sign(x) comes
    // through mul alone. The value passes through at every level and under vmap.
    op: 'stopGradient',
    label: 'x · stopGradient(sign x)',
    domain: 'away from 0 (kink)',
    fn: (x) => B.mul(x, E.stopGradient(E.sign(x))),
    args: () => [awayFromZero(125, [2, 3])],
    secondOrder: true,
  },
]

/** The broadcasting patterns every binary op is checked with. */
const binaryShapes: ReadonlyArray<readonly [ReadonlyArray<number>, ReadonlyArray<number>]> = [
  [
    [2, 3],
    [2, 3],
  ],
  [[3, 1], [4]],
  [[], [2, 3]],
  [
    [2, 1, 3],
    [4, 1],
  ],
]

const fmt = (shape: ReadonlyArray<number>): string => `[${shape.join(',')}]`

const binaryRows = (
  op: string,
  fn: (a: Tensor, b: Tensor) => Tensor,
  domain: string,
  drawA: Domain,
  drawB: Domain,
  seed: number,
  secondOrder: boolean,
): GradRow[] =>
  binaryShapes.map(([aShape, bShape], i) => ({
    op,
    label: `${fmt(aShape)} x ${fmt(bShape)}`,
    domain,
    fn,
    args: () => [drawA(seed + 2 * i, aShape), drawB(seed + 2 * i + 1, bShape)],
    secondOrder,
  }))

const arithmeticRows: GradRow[] = [
  ...binaryRows('add', B.add, 'anywhere', anywhere, anywhere, 200, true),
  ...binaryRows('sub', B.sub, 'anywhere', anywhere, anywhere, 210, true),
  ...binaryRows('mul', B.mul, 'anywhere', anywhere, anywhere, 220, true),
  ...binaryRows('div', B.div, 'a anywhere, b away from 0', anywhere, awayFromZero, 230, true),
  ...binaryRows('pow', B.pow, 'a positive, b anywhere', positive, anywhere, 240, true),
  // Independent uniform draws are never within the 1e-6 step of each other: no ties.
  ...binaryRows('atan2', B.atan2, 'away from the origin', awayFromZero, awayFromZero, 270, true),
  ...binaryRows('maximum', B.maximum, 'anywhere, no ties', anywhere, anywhere, 250, true),
  ...binaryRows('minimum', B.minimum, 'anywhere, no ties', anywhere, anywhere, 260, true),
  {
    op: 'pow',
    label: 'negative base, integer exponent',
    domain: 'a away from 0 (either sign), b a constant integer',
    fn: (a) => B.pow(a, 3),
    args: () => [awayFromZero(270, [2, 3])],
    secondOrder: true,
  },
]

const comparisonRows: GradRow[] = (
  [
    ['equal', B.equal],
    ['notEqual', B.notEqual],
    ['less', B.less],
    ['lessEqual', B.lessEqual],
    ['greater', B.greater],
    ['greaterEqual', B.greaterEqual],
  ] as const
).map(([op, fn], i) => ({
  op,
  label: '[3,1] x [4] (zero gradient)',
  domain: 'anywhere, no ties',
  fn,
  args: () => [anywhere(300 + 2 * i, [3, 1]), anywhere(301 + 2 * i, [4])],
}))

const whereRows: GradRow[] = [
  {
    op: 'where',
    label: 'cond [2,3], a [2,3], b [2,3]',
    domain: 'cond an int32 mask, a and b anywhere',
    fn: B.where,
    args: () => [indices(320, [2, 3], 2), anywhere(321, [2, 3]), anywhere(322, [2, 3])],
    secondOrder: true,
  },
  {
    op: 'where',
    label: 'cond [3,1], a [4], b []',
    domain: 'cond an int32 mask, a and b anywhere',
    fn: B.where,
    args: () => [indices(323, [3, 1], 2), anywhere(324, [4]), anywhere(325, [])],
    secondOrder: true,
  },
]

/** Label distributions: positive and normalised along `axis` (a plain loop, so rows do not depend on ops). */
const probabilities = (seed: number, shape: ReadonlyArray<number>, axis: number): Tensor => {
  const raw = positive(seed, shape).data
  const out = new Float64Array(raw.length)
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1)
  const size = shape[axis]!
  const outer = raw.length / (inner * size)
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let total = 0
      for (let k = 0; k < size; k++) total += raw[(o * size + k) * inner + i]!
      for (let k = 0; k < size; k++)
        out[(o * size + k) * inner + i] = raw[(o * size + k) * inner + i]! / total
    }
  return unsafeTensor('float64', shape, out)
}

const activationRows: GradRow[] = [
  unaryRow('softmax', (x) => A.softmax(x), 'anywhere', anywhere, 400, [2, 3], '[2,3] axis -1'),
  unaryRow('softmax', (x) => A.softmax(x, { axis: 0 }), 'anywhere', anywhere, 401, [3, 2], '[3,2] axis 0'),
  unaryRow(
    'softmax',
    (x) => A.softmax(x, { axis: 1 }),
    'anywhere',
    anywhere,
    402,
    [2, 3, 2],
    '[2,3,2] axis 1',
  ),
  unaryRow('logSoftmax', (x) => A.logSoftmax(x), 'anywhere', anywhere, 410, [2, 3], '[2,3] axis -1'),
  unaryRow(
    'logSoftmax',
    (x) => A.logSoftmax(x, { axis: 0 }),
    'anywhere',
    anywhere,
    411,
    [3, 2],
    '[3,2] axis 0',
  ),
  unaryRow(
    'logSoftmax',
    (x) => A.logSoftmax(x, { axis: 1 }),
    'anywhere',
    anywhere,
    412,
    [2, 3, 2],
    '[2,3,2] axis 1',
  ),
  unaryRow('clip', (x) => A.clip(x, -1, 1), 'anywhere, off the bounds ±1', anywhere, 420, [2, 3], '[-1, 1]'),
  unaryRow(
    'clip',
    (x) => A.clip(x, -Infinity, 0.5),
    'anywhere, off the bound 0.5',
    anywhere,
    421,
    [2, 3],
    '[-∞, 0.5]',
  ),
  unaryRow('logSigmoid', A.logSigmoid, 'anywhere', anywhere, 430),
  unaryRow('gelu', (x) => A.gelu(x), 'anywhere', anywhere, 431, [2, 3], 'exact (erf)'),
  unaryRow('gelu', (x) => A.gelu(x, { approximate: 'tanh' }), 'anywhere', anywhere, 432, [2, 3], 'tanh'),
  unaryRow('silu', A.silu, 'anywhere', anywhere, 433),
  unaryRow('elu', (x) => A.elu(x, 1.5), 'away from 0 (kink of the second derivative)', awayFromZero, 434),
  unaryRow('leakyRelu', (x) => A.leakyRelu(x, 0.1), 'away from 0 (kink)', awayFromZero, 435),
]

const lossRows: GradRow[] = [
  {
    op: 'softmaxCrossEntropy',
    label: 'logits [2,3], soft labels, axis -1',
    domain: 'logits anywhere, labels positive and normalised',
    fn: (logits, labels) => L.softmaxCrossEntropy(logits, labels),
    args: () => [anywhere(500, [2, 3]), probabilities(501, [2, 3], 1)],
    secondOrder: true,
  },
  {
    op: 'softmaxCrossEntropy',
    label: 'logits [3,2], axis 0, unnormalised labels',
    // The loss is linear in the labels, so labels off the simplex are a valid point too.
    domain: 'logits anywhere, labels anywhere',
    fn: (logits, labels) => L.softmaxCrossEntropy(logits, labels, { axis: 0 }),
    args: () => [anywhere(502, [3, 2]), anywhere(503, [3, 2])],
    secondOrder: true,
  },
  {
    op: 'softmaxCrossEntropy',
    label: 'logits [2,3,2], axis 1',
    domain: 'logits anywhere, labels positive and normalised',
    fn: (logits, labels) => L.softmaxCrossEntropy(logits, labels, { axis: 1 }),
    args: () => [anywhere(504, [2, 3, 2]), probabilities(505, [2, 3, 2], 1)],
  },
  {
    op: 'softmaxCrossEntropy',
    label: 'integer labels: logits [3,4], labels [3]',
    domain: 'logits anywhere, labels int32 in [0, 4)',
    fn: (logits, labels) => L.softmaxCrossEntropyWithIntegerLabels(logits, labels),
    args: () => [anywhere(510, [3, 4]), indices(511, [3], 4)],
    secondOrder: true,
  },
  {
    op: 'softmaxCrossEntropy',
    label: 'integer labels: logits [4,2,3], axis 0, labels [2,3]',
    domain: 'logits anywhere, labels int32 in [0, 4)',
    fn: (logits, labels) => L.softmaxCrossEntropyWithIntegerLabels(logits, labels, { axis: 0 }),
    args: () => [anywhere(512, [4, 2, 3]), indices(513, [2, 3], 4)],
  },
  // One example as vmap sees it (per-example losses): a vector of logits, a scalar label.
  {
    op: 'softmaxCrossEntropy',
    label: 'logits [4] (one example), soft labels',
    domain: 'logits anywhere, labels positive and normalised',
    fn: (logits, labels) => L.softmaxCrossEntropy(logits, labels),
    args: () => [anywhere(514, [4]), probabilities(515, [4], 0)],
    secondOrder: true,
  },
  {
    op: 'softmaxCrossEntropy',
    label: 'integer labels: logits [4] (one example), scalar label',
    domain: 'logits anywhere, label int32 in [0, 4)',
    fn: (logits, labels) => L.softmaxCrossEntropyWithIntegerLabels(logits, labels),
    args: () => [anywhere(516, [4]), indices(517, [], 4)],
    secondOrder: true,
  },
]

/** Gradient rows of every elementwise, binary, activation and loss op (and their composites). */
export const elementwiseRows: GradRow[] = [
  ...unaryRows,
  ...arithmeticRows,
  ...comparisonRows,
  ...whereRows,
  ...activationRows,
  ...lossRows,
  ...programRows,
  ...reductionProgramRows,
]
