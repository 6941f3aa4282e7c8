import type { AnyOp } from './core/op'
import {
  negOp,
  absOp,
  signOp,
  expOp,
  expm1Op,
  logOp,
  log1pOp,
  sqrtOp,
  rsqrtOp,
  squareOp,
  reciprocalOp,
  sinOp,
  cosOp,
  tanhOp,
  sigmoidOp,
  reluOp,
  reluGradOp,
  softplusOp,
  floorOp,
  ceilOp,
  roundOp,
  erfOp,
  astypeOp,
  stopGradientOp,
  elementwiseProgramOp,
  tanOp,
  asinOp,
  acosOp,
  atanOp,
  sinhOp,
  coshOp,
  isnanOp,
  isfiniteOp,
  type elementwiseOps,
} from './elementwise/index'
import {
  addOp,
  subOp,
  mulOp,
  divOp,
  powOp,
  maximumOp,
  minimumOp,
  equalOp,
  notEqualOp,
  lessOp,
  lessEqualOp,
  greaterOp,
  greaterEqualOp,
  whereOp,
  atan2Op,
  type binaryOps,
} from './binary/index'
import {
  sumOp,
  meanOp,
  prodOp,
  cumprodOp,
  cumsumOp,
  maxOp,
  minOp,
  argmaxOp,
  argminOp,
  logsumexpOp,
  normOp,
  reductionProgramOp,
  type reduceOps,
} from './reduce/index'
import { matmulOp, linearOp, matmulEpilogueOp, type linalgOps } from './linalg/index'
import {
  reshapeOp,
  transposeOp,
  broadcastToOp,
  flipOp,
  rollOp,
  tileOp,
  repeatOp,
  trilOp,
  triuOp,
  type shapeOps,
} from './shape/index'
import {
  sliceOp,
  concatOp,
  padOp,
  gatherOp,
  scatterAddOp,
  takeAlongAxisOp,
  scatterAddAlongAxisOp,
  oneHotOp,
  type indexingOps,
} from './indexing/index'
import {
  conv2dOp,
  conv2dBackwardInputOp,
  conv2dBackwardFilterOp,
  maxPool2dOp,
  maxPool2dBackwardOp,
  maxPool2dSelectOp,
  avgPool2dOp,
  avgPool2dBackwardOp,
  type convOps,
} from './conv/index'
import { softmaxOp, logSoftmaxOp, clipOp, type activationOps } from './activations/index'
import { softmaxCrossEntropyOp, type lossOps } from './losses/index'
import {
  randomBitsOp,
  randomSplitOp,
  randomFoldInOp,
  randomUniformOp,
  randomNormalOp,
  randomTruncatedNormalOp,
  randomBernoulliOp,
  type randomOps,
} from './random/index'
import { argsortOp, sortOp, type sortOps } from './sort/index'
import { scaledDotProductAttentionOp, type attentionOps } from './attention/index'

/**
 * The name of every built-in op, written out here rather than derived from the registry: the
 * registry below must then hold exactly these (a missing or misnamed entry fails to compile), and
 * `test/registry.test.ts` checks that every op module's exported op is one of them.
 * @since 0.1.0
 */
export type OpName =
  | 'abs'
  | 'add'
  | 'argmax'
  | 'argmin'
  | 'astype'
  | 'avgPool2d'
  | 'avgPool2dBackward'
  | 'broadcastTo'
  | 'ceil'
  | 'clip'
  | 'concat'
  | 'conv2d'
  | 'conv2dBackwardFilter'
  | 'conv2dBackwardInput'
  | 'cos'
  | 'cumprod'
  | 'cumsum'
  | 'div'
  | 'elementwiseProgram'
  | 'reductionProgram'
  | 'matmulEpilogue'
  | 'equal'
  | 'erf'
  | 'exp'
  | 'expm1'
  | 'floor'
  | 'gather'
  | 'greater'
  | 'greaterEqual'
  | 'less'
  | 'lessEqual'
  | 'linear'
  | 'log'
  | 'log1p'
  | 'logSoftmax'
  | 'logsumexp'
  | 'matmul'
  | 'max'
  | 'maxPool2d'
  | 'maxPool2dBackward'
  | 'maxPool2dSelect'
  | 'maximum'
  | 'mean'
  | 'min'
  | 'minimum'
  | 'mul'
  | 'neg'
  | 'norm'
  | 'notEqual'
  | 'oneHot'
  | 'pad'
  | 'pow'
  | 'prod'
  | 'reciprocal'
  | 'relu'
  | 'reluGrad'
  | 'reshape'
  | 'round'
  | 'rsqrt'
  | 'scatterAdd'
  | 'scatterAddAlongAxis'
  | 'sigmoid'
  | 'sign'
  | 'sin'
  | 'slice'
  | 'softmax'
  | 'softmaxCrossEntropy'
  | 'softplus'
  | 'sqrt'
  | 'square'
  | 'stopGradient'
  | 'sub'
  | 'sum'
  | 'takeAlongAxis'
  | 'tanh'
  | 'transpose'
  | 'where'
  | 'tan'
  | 'asin'
  | 'acos'
  | 'atan'
  | 'sinh'
  | 'cosh'
  | 'isnan'
  | 'isfinite'
  | 'atan2'
  | 'flip'
  | 'roll'
  | 'tile'
  | 'repeat'
  | 'tril'
  | 'triu'
  | 'argsort'
  | 'sort'
  | 'scaledDotProductAttention'
  | 'randomBits'
  | 'randomSplit'
  | 'randomFoldIn'
  | 'randomUniform'
  | 'randomNormal'
  | 'randomTruncatedNormal'
  | 'randomBernoulli'

/**
 * A registry entry: the op named `K`, with its ONNX lowering required (a compile error otherwise).
 * An op ONNX cannot express still has one: it says why with `onnx: unsupportedOnnx('...')`.
 * @since 0.2.0
 */
export type RegisteredOp<K extends OpName> = AnyOp & { readonly name: K } & {
  readonly onnx: NonNullable<AnyOp['onnx']>
}

/**
 * Every built-in op, by name. There is no registration by import side effect: this object is the
 * whole list. Each entry is an op whose `name` is its key, with every rule (forward, VJP, batching).
 * It is one plain object literal, not spreads of the family objects: a bundler drops a literal nobody
 * reads, but not a spread (which could run getters), which kept every op in every bundle. The family
 * objects (`elementwiseOps`, ...) are checked against it at compile time (below).
 * @example
 * import { registry } from '@backfold/ops'
 * Object.keys(registry).length // every built-in op
 * registry.exp.name // 'exp'
 * @since 0.1.0
 */
export const registry: { readonly [K in OpName]: RegisteredOp<K> } = {
  // elementwise
  neg: negOp,
  abs: absOp,
  sign: signOp,
  exp: expOp,
  expm1: expm1Op,
  log: logOp,
  log1p: log1pOp,
  sqrt: sqrtOp,
  rsqrt: rsqrtOp,
  square: squareOp,
  reciprocal: reciprocalOp,
  sin: sinOp,
  cos: cosOp,
  tanh: tanhOp,
  sigmoid: sigmoidOp,
  relu: reluOp,
  reluGrad: reluGradOp,
  softplus: softplusOp,
  floor: floorOp,
  ceil: ceilOp,
  round: roundOp,
  erf: erfOp,
  astype: astypeOp,
  stopGradient: stopGradientOp,
  elementwiseProgram: elementwiseProgramOp,
  tan: tanOp,
  asin: asinOp,
  acos: acosOp,
  atan: atanOp,
  sinh: sinhOp,
  cosh: coshOp,
  isnan: isnanOp,
  isfinite: isfiniteOp,
  // binary
  add: addOp,
  sub: subOp,
  mul: mulOp,
  div: divOp,
  pow: powOp,
  maximum: maximumOp,
  minimum: minimumOp,
  equal: equalOp,
  notEqual: notEqualOp,
  less: lessOp,
  lessEqual: lessEqualOp,
  greater: greaterOp,
  greaterEqual: greaterEqualOp,
  where: whereOp,
  atan2: atan2Op,
  // reduce
  sum: sumOp,
  mean: meanOp,
  prod: prodOp,
  cumprod: cumprodOp,
  cumsum: cumsumOp,
  max: maxOp,
  min: minOp,
  argmax: argmaxOp,
  argmin: argminOp,
  logsumexp: logsumexpOp,
  norm: normOp,
  reductionProgram: reductionProgramOp,
  // linalg
  matmul: matmulOp,
  linear: linearOp,
  matmulEpilogue: matmulEpilogueOp,
  // shape
  reshape: reshapeOp,
  transpose: transposeOp,
  broadcastTo: broadcastToOp,
  flip: flipOp,
  roll: rollOp,
  tile: tileOp,
  repeat: repeatOp,
  tril: trilOp,
  triu: triuOp,
  // indexing
  slice: sliceOp,
  concat: concatOp,
  pad: padOp,
  gather: gatherOp,
  scatterAdd: scatterAddOp,
  takeAlongAxis: takeAlongAxisOp,
  scatterAddAlongAxis: scatterAddAlongAxisOp,
  oneHot: oneHotOp,
  // conv
  conv2d: conv2dOp,
  conv2dBackwardInput: conv2dBackwardInputOp,
  conv2dBackwardFilter: conv2dBackwardFilterOp,
  maxPool2d: maxPool2dOp,
  maxPool2dBackward: maxPool2dBackwardOp,
  maxPool2dSelect: maxPool2dSelectOp,
  avgPool2d: avgPool2dOp,
  avgPool2dBackward: avgPool2dBackwardOp,
  // activations
  softmax: softmaxOp,
  logSoftmax: logSoftmaxOp,
  clip: clipOp,
  // losses
  softmaxCrossEntropy: softmaxCrossEntropyOp,
  // random
  randomBits: randomBitsOp,
  randomSplit: randomSplitOp,
  randomFoldIn: randomFoldInOp,
  randomUniform: randomUniformOp,
  randomNormal: randomNormalOp,
  randomTruncatedNormal: randomTruncatedNormalOp,
  randomBernoulli: randomBernoulliOp,
  // sort
  argsort: argsortOp,
  sort: sortOp,
  // attention
  scaledDotProductAttention: scaledDotProductAttentionOp,
}

// Compile-time checks of the family objects (type-level: nothing here survives in a bundle). Each
// family lists only registered ops, each under its own name, and every registered op is in a family
// (the family objects are what the op tests iterate over).
type FamilyOps = typeof elementwiseOps &
  typeof binaryOps &
  typeof reduceOps &
  typeof linalgOps &
  typeof shapeOps &
  typeof indexingOps &
  typeof convOps &
  typeof activationOps &
  typeof lossOps &
  typeof randomOps &
  typeof sortOps &
  typeof attentionOps
const _familiesListOnlyOpNames: Record<Exclude<keyof FamilyOps, OpName>, never> = {}
const _everyOpInAFamily: Record<Exclude<OpName, keyof FamilyOps>, never> = {}
const _familyEntriesAreRegistered: FamilyOps extends Partial<typeof registry> ? true : never = true
void [_familiesListOnlyOpNames, _everyOpInAFamily, _familyEntriesAreRegistered]
