import type { AnyOp } from './core/op'
import { elementwiseOps } from './elementwise/index'
import { binaryOps } from './binary/index'
import { reduceOps } from './reduce/index'
import { linalgOps } from './linalg/index'
import { shapeOps } from './shape/index'
import { indexingOps } from './indexing/index'
import { convOps } from './conv/index'
import { activationOps } from './activations/index'
import { lossOps } from './losses/index'
import { randomOps } from './random/index'
import { sortOps } from './sort/index'
import { attentionOps } from './attention/index'

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
 * Every built-in op, by name. There is no registration by import side effect: this object is the
 * whole list. Each entry is an op whose `name` is its key, with every rule (forward, VJP, batching).
 * @since 0.1.0
 */
const allOps = {
  ...elementwiseOps,
  ...binaryOps,
  ...reduceOps,
  ...linalgOps,
  ...shapeOps,
  ...indexingOps,
  ...convOps,
  ...activationOps,
  ...lossOps,
  ...randomOps,
  ...sortOps,
  ...attentionOps,
} as const

// A family that lists an op under a name missing from `OpName` fails here (spreads escape the
// excess-property check of the annotation below).
const _noUnlistedOps: Record<Exclude<keyof typeof allOps, OpName>, never> = {}
void _noUnlistedOps

export const registry: { readonly [K in OpName]: AnyOp & { readonly name: K } } = allOps
