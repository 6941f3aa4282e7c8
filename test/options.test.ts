import { describe, expect, it } from 'vitest'
import * as O from '@backfold/ops'
import * as N from '@backfold/nn'
import * as T from '@backfold/tensor'

// Every public entry point that takes an options record (or a structured argument) refuses an
// unknown key or a malformed value at run time, naming the accepted keys, the way a type checker
// would have refused it at compile time. The calls below are made as plain JavaScript makes them:
// through Reflect.apply, so the types do not stop them before the run-time check can.

/** Calls `fn` with `args` unchecked, as an untyped caller would. */
const callUntyped = (fn: (...args: never[]) => unknown, ...args: unknown[]): unknown =>
  Reflect.apply(fn, undefined, args)

/** The message of the `BackfoldError` that `call` throws (other errors propagate; no error fails). */
const messageOf = (call: () => unknown): string => {
  try {
    call()
  } catch (e) {
    if (e instanceof T.BackfoldError) return e.message
    throw e
  }
  return '(no error: the call was accepted)'
}

const x = T.ones([2, 3])
const image = T.ones([1, 1, 4, 4])
const kernel = T.ones([1, 1, 2, 2])
const indices = T.tensor([1, 0], 'int32')
const columnIndices = T.tensor([[1], [0]], 'int32')
const labels = T.tensor([0, 2], 'int32')
const square = (t: T.Tensor): T.Tensor => O.sum(O.mul(t, t))
const data = { x: T.ones([4, 3]), y: T.ones([4, 2]) }
const model = N.layers.dense(2)
const record = { epoch: 0, loss: 1, seconds: 1, samples: 4 }

type Row = readonly [label: string, call: () => unknown, expected: RegExp]

const opsRows: ReadonlyArray<Row> = [
  // reductions: several axes allowed, the old `axes` answered with the new spelling
  [
    'sum axes',
    () => callUntyped(O.sum, x, { axes: 1 }),
    /^sum: unknown option 'axes' \(write 'axis' instead\) in options; accepted options: axis, keepDims$/,
  ],
  ['mean axes', () => callUntyped(O.mean, x, { axes: 1 }), /^mean: unknown option 'axes' \(write 'axis'/],
  ['prod axes', () => callUntyped(O.prod, x, { axes: [0] }), /^prod: unknown option 'axes' \(write 'axis'/],
  ['max axes', () => callUntyped(O.max, x, { axes: 1 }), /^max: unknown option 'axes' \(write 'axis'/],
  ['min axes', () => callUntyped(O.min, x, { axes: 1 }), /^min: unknown option 'axes' \(write 'axis'/],
  [
    'logsumexp axes',
    () => callUntyped(O.logsumexp, x, { axes: 1 }),
    /^logsumexp: unknown option 'axes' \(write 'axis'/,
  ],
  ['norm axes', () => callUntyped(O.norm, x, { axes: 1 }), /^norm: unknown option 'axes' \(write 'axis'/],
  [
    'variance unbiased',
    () => callUntyped(O.variance, x, { unbiased: true }),
    /^variance: unknown option 'unbiased'.*accepted options: axis, keepDims, ddof$/,
  ],
  [
    'sum keepdims',
    () => callUntyped(O.sum, x, { axis: 1, keepdims: true }),
    /^sum: unknown option 'keepdims' \(write 'keepDims' instead\)/,
  ],
  [
    'sum axis string',
    () => callUntyped(O.sum, x, { axis: '1' }),
    /^sum: option 'axis' must be an integer axis or an array of integer axes, got '1'$/,
  ],
  [
    'sum keepDims number',
    () => callUntyped(O.sum, x, { keepDims: 1 }),
    /^sum: option 'keepDims' must be a boolean, got 1$/,
  ],
  [
    'sum positional axis',
    () => callUntyped(O.sum, x, 1),
    /^sum: options must be a record .*write \{ axis: 1 \}$/,
  ],
  ['sum inherited name', () => callUntyped(O.sum, x, { toString: 1 }), /^sum: unknown option 'toString'/],
  // one-axis ops
  [
    'argmax axes',
    () => callUntyped(O.argmax, x, { axes: 1 }),
    /^argmax: unknown option 'axes' \(write 'axis'/,
  ],
  [
    'argmin axis list',
    () => callUntyped(O.argmin, x, { axis: [0, 1] }),
    /^argmin: option 'axis' must be an integer axis, got \[0, 1\]$/,
  ],
  [
    'softmax positional axis',
    () => callUntyped(O.softmax, x, 1),
    /^softmax: options must be a record with the keys axis, got 1; axes are passed by name: write \{ axis: 1 \}$/,
  ],
  [
    'logSoftmax dim',
    () => callUntyped(O.logSoftmax, x, { dim: 1 }),
    /^logSoftmax: unknown option 'dim' \(write 'axis' instead\)/,
  ],
  ['concat positional axis', () => callUntyped(O.concat, [x, x], 1), /^concat: .*write \{ axis: 1 \}/],
  ['stack positional axis', () => callUntyped(O.stack, [x, x], 1), /^stack: .*write \{ axis: 1 \}/],
  ['split positional axis', () => callUntyped(O.split, x, 3, 1), /^split: .*write \{ axis: 1 \}/],
  ['gather positional axis', () => callUntyped(O.gather, x, indices, 1), /^gather: .*write \{ axis: 1 \}/],
  [
    'takeAlongAxis positional',
    () => callUntyped(O.takeAlongAxis, x, columnIndices, 1),
    /^takeAlongAxis: .*write \{ axis: 1 \}/,
  ],
  [
    'takeAlongAxis no axis',
    () => callUntyped(O.takeAlongAxis, x, columnIndices),
    /^takeAlongAxis: no options given: expected a record with axis/,
  ],
  [
    'scatterAdd old order',
    () => callUntyped(O.scatterAdd, x, indices, 1, [2, 3]),
    /^scatterAdd: options must be a record with the keys axis, got \[2, 3\]/,
  ],
  [
    'scatterAddAlongAxis old order',
    () => callUntyped(O.scatterAddAlongAxis, x, columnIndices, 1, [2, 3]),
    /^scatterAddAlongAxis: options must be a record/,
  ],
  ['expandDims positional', () => callUntyped(O.expandDims, x, 0), /^expandDims: .*write \{ axis: 0 \}/],
  ['squeeze positional', () => callUntyped(O.squeeze, T.ones([1, 3]), 0), /^squeeze: .*write \{ axis: 0 \}/],
  [
    'softmaxCrossEntropy positional',
    () => callUntyped(O.softmaxCrossEntropy, x, x, 1),
    /^softmaxCrossEntropy: .*write \{ axis: 1 \}/,
  ],
  [
    'integer labels positional',
    () => callUntyped(O.softmaxCrossEntropyWithIntegerLabels, x, indices, 1),
    /^softmaxCrossEntropyWithIntegerLabels: .*write \{ axis: 1 \}/,
  ],
  // structured arguments
  [
    'slice array range',
    () => callUntyped(O.slice, x, [[0, 1]]),
    /^slice: ranges\[0\] must be a record with the keys start, stop, step, got \[0, 1\]$/,
  ],
  [
    'slice unknown key',
    () => callUntyped(O.slice, x, [undefined, { begin: 1 }]),
    /^slice: unknown option 'begin' in ranges\[1\]; accepted options: start, stop, step$/,
  ],
  [
    'slice float bound',
    () => callUntyped(O.slice, x, [{ stop: 1.5 }]),
    /^slice: option 'stop' must be an integer, got 1.5$/,
  ],
  // geometry
  [
    'conv2d group (the option is groups)',
    () => callUntyped(O.conv2d, image, kernel, { group: 2 }),
    /^conv2d: unknown option 'group' in options; accepted options: stride, padding, dilation, groups$/,
  ],
  [
    'conv2dBackwardInput group',
    () => callUntyped(O.conv2dBackwardInput, T.ones([1, 1, 3, 3]), kernel, [1, 1, 4, 4], { group: 2 }),
    /^conv2dBackwardInput: unknown option 'group'.*accepted options: stride, padding, dilation, groups$/,
  ],
  [
    'conv2dBackwardFilter group',
    () => callUntyped(O.conv2dBackwardFilter, image, T.ones([1, 1, 3, 3]), [1, 1, 2, 2], { group: 2 }),
    /^conv2dBackwardFilter: unknown option 'group'/,
  ],
  [
    'maxPool2d kernel',
    () => callUntyped(O.maxPool2d, image, { kernel: 2 }),
    /^maxPool2d: unknown option 'kernel'.*accepted options: kernelSize, stride, padding$/,
  ],
  [
    'maxPool2d none',
    () => callUntyped(O.maxPool2d, image),
    /^maxPool2d: no options given: expected a record with kernelSize/,
  ],
  [
    'maxPool2d no kernelSize',
    () => callUntyped(O.maxPool2d, image, { stride: 2 }),
    /^maxPool2d: option 'kernelSize' is required/,
  ],
  [
    'avgPool2d strides',
    () => callUntyped(O.avgPool2d, image, { kernelSize: 2, strides: 2 }),
    /^avgPool2d: unknown option 'strides'/,
  ],
  [
    'maxPool2dBackward',
    () => callUntyped(O.maxPool2dBackward, T.ones([1, 1, 2, 2]), image, { size: 2 }),
    /^maxPool2dBackward: unknown option 'size'/,
  ],
  [
    'maxPool2dSelect',
    () => callUntyped(O.maxPool2dSelect, image, image, { size: 2 }),
    /^maxPool2dSelect: unknown option 'size'/,
  ],
  [
    'avgPool2dBackward',
    () => callUntyped(O.avgPool2dBackward, T.ones([1, 1, 2, 2]), [1, 1, 4, 4], { size: 2 }),
    /^avgPool2dBackward: unknown option 'size'/,
  ],
  [
    'matmul transpose',
    () => callUntyped(O.matmul, x, x, { transpose: true }),
    /^matmul: unknown option 'transpose'.*transposeA, transposeB$/,
  ],
  [
    'gelu approx',
    () => callUntyped(O.gelu, x, { approx: 'tanh' }),
    /^gelu: unknown option 'approx' in options; accepted options: approximate$/,
  ],
  [
    'gelu fast',
    () => callUntyped(O.gelu, x, { approximate: 'fast' }),
    /^gelu: option 'approximate' must be one of 'none', 'tanh', got 'fast'$/,
  ],
  // transformations
  [
    'grad argnum',
    () => callUntyped(O.grad, square, { argnum: 0 }),
    /^grad: unknown option 'argnum' \(write 'argnums' instead\).*accepted options: argnums, hasAux$/,
  ],
  [
    'valueAndGrad has_aux',
    () => callUntyped(O.valueAndGrad, square, { has_aux: true }),
    /^valueAndGrad: unknown option 'has_aux'/,
  ],
  [
    'vjp argnum',
    () => callUntyped(O.vjp, square, { argnum: 0 }),
    /^vjp: unknown option 'argnum' \(write 'argnums' instead\) in options; accepted options: argnums$/,
  ],
  [
    'jacrev argnum',
    () => callUntyped(O.jacrev, square, { argnum: 0 }),
    /^jacrev: unknown option 'argnum' \(write 'argnums' instead\)/,
  ],
  [
    'customVjp rule',
    () => callUntyped(O.customVjp, square, { forward: square, backwards: square }),
    /^customVjp: unknown option 'backwards' in rule; accepted options: forward, backward$/,
  ],
]

const nnRows: ReadonlyArray<Row> = [
  // files: a misspelt option of a reader would otherwise be ignored
  [
    'decodeSafetensors sourc',
    () => callUntyped(N.decodeSafetensors, new Uint8Array(0), { sourc: 'x.safetensors' }),
    /^decodeSafetensors: unknown option 'sourc' in options; accepted options: source$/,
  ],
  [
    'loadParams sourc',
    () => callUntyped(N.loadParams, {}, {}, { sourc: 'x.safetensors' }),
    /^loadParams: unknown option 'sourc' in options; accepted options: source$/,
  ],
  // layers: the run-time form of a type error, thrown where the layer is made
  [
    'dense bias',
    () => callUntyped(N.layers.dense, 10, { bias: false }),
    /^dense: unknown option 'bias' in options; accepted options: useBias, weightInit, biasInit, dtype, activation$/,
  ],
  [
    'dense useBias string',
    () => callUntyped(N.layers.dense, 10, { useBias: 'no' }),
    /^dense: option 'useBias' must be a boolean, got 'no'$/,
  ],
  [
    'dense weightInit',
    () => callUntyped(N.layers.dense, 10, { weightInit: 'he' }),
    /^dense: option 'weightInit' must be a function/,
  ],
  [
    'conv2d group (the option is groups)',
    () => callUntyped(N.layers.conv2d, 8, 3, { group: 2 }),
    /^conv2d: unknown option 'group'.*accepted options: stride, padding, dilation, groups, useBias, weightInit, biasInit, dtype$/,
  ],
  ['maxPool2d size', () => callUntyped(N.layers.maxPool2d, { size: 2 }), /^maxPool2d: unknown option 'size'/],
  [
    'avgPool2d none',
    () => callUntyped(N.layers.avgPool2d),
    /^avgPool2d: no options given: expected a record with kernelSize/,
  ],
  [
    'batchNorm momentun',
    () => callUntyped(N.layers.batchNorm, { momentun: 0.1 }),
    /^batchNorm: unknown option 'momentun'.*momentum, eps, affine, dtype$/,
  ],
  [
    'layerNorm axis',
    () => callUntyped(N.layers.layerNorm, { axis: -1 }),
    /^layerNorm: unknown option 'axis'.*eps, axes, affine, dtype$/,
  ],
  [
    'embedding init',
    () => callUntyped(N.layers.embedding, 10, 4, { init: 'normal' }),
    /^embedding: unknown option 'init' in options; accepted options: weightInit, dtype$/,
  ],
  // optimizers, transformations, schedules
  [
    'adam beta1',
    () => callUntyped(N.adam, 1e-3, { beta1: 0.9 }),
    /^adam: unknown option 'beta1' in options; accepted options: b1, b2, eps, epsRoot$/,
  ],
  [
    'adam b1 string',
    () => callUntyped(N.adam, 1e-3, { b1: '0.9' }),
    /^adam: option 'b1' must be a number, got '0.9'$/,
  ],
  [
    'adamw decay',
    () => callUntyped(N.adamw, 1e-3, { decay: 0.1 }),
    /^adamw: unknown option 'decay'.*weightDecay, include$/,
  ],
  [
    'rmsprop rho',
    () => callUntyped(N.rmsprop, 1e-3, { rho: 0.9 }),
    /^rmsprop: unknown option 'rho'.*decay, eps$/,
  ],
  [
    'adagrad initial',
    () => callUntyped(N.adagrad, 0.1, { initial: 0.1 }),
    /^adagrad: unknown option 'initial'.*initialAccumulator, eps$/,
  ],
  [
    'scaleByAdam beta1',
    () => callUntyped(N.scaleByAdam, { beta1: 0.9 }),
    /^scaleByAdam: unknown option 'beta1'/,
  ],
  [
    'scaleByRms rho',
    () => callUntyped(N.scaleByRms, { rho: 0.9 }),
    /^scaleByRms: unknown option 'rho'.*decay, eps, initialScale$/,
  ],
  [
    'scaleByRss initial',
    () => callUntyped(N.scaleByRss, { initial: 0.1 }),
    /^scaleByRss: unknown option 'initial'/,
  ],
  [
    'traceMomentum nestrov',
    () => callUntyped(N.traceMomentum, 0.9, { nestrov: true }),
    /^traceMomentum: unknown option 'nestrov'.*accepted options: nesterov$/,
  ],
  [
    'addDecayedWeights mask',
    () => callUntyped(N.addDecayedWeights, 1e-4, { mask: () => true }),
    /^addDecayedWeights: unknown option 'mask'.*accepted options: include$/,
  ],
  [
    'piecewiseConstant boundaries',
    () => callUntyped(N.piecewiseConstant, { init: 1, boundaries: {} }),
    /^piecewiseConstant: unknown option 'boundaries'/,
  ],
  [
    'exponentialDecay stairs',
    () => callUntyped(N.exponentialDecay, { init: 1, decayRate: 0.5, transitionSteps: 10, stairs: true }),
    /^exponentialDecay: unknown option 'stairs'/,
  ],
  [
    'cosineDecay steps',
    () => callUntyped(N.cosineDecay, { init: 1, steps: 10 }),
    /^cosineDecay: unknown option 'steps'.*init, decaySteps, alpha$/,
  ],
  [
    'cosineDecay no decaySteps',
    () => callUntyped(N.cosineDecay, { init: 1 }),
    /^cosineDecay: option 'decaySteps' is required/,
  ],
  [
    'warmupCosineDecay warmup',
    () => callUntyped(N.warmupCosineDecay, { init: 0, peak: 1, warmup: 5, decaySteps: 10 }),
    /^warmupCosineDecay: unknown option 'warmup'/,
  ],
  [
    'chain member not called',
    () => callUntyped(N.chain, { clip: N.clipByGlobalNorm }),
    /^chain: member 'clip' is not a gradient transformation.*call it/,
  ],
  // losses
  [
    'huber beta',
    () => callUntyped(N.huber, x, x, { beta: 1 }),
    /^huber: unknown option 'beta'.*accepted options: delta$/,
  ],
  [
    'crossEntropy smoothing',
    () => callUntyped(N.crossEntropy, T.ones([2, 3]), labels, { smoothing: 0.1 }),
    /^crossEntropy: unknown option 'smoothing'.*labelSmoothing$/,
  ],
  [
    'l2Penalty filter',
    () => callUntyped(N.l2Penalty, {}, 1e-4, { filter: () => true }),
    /^l2Penalty: unknown option 'filter'.*accepted options: include$/,
  ],
  [
    'l1Penalty filter',
    () => callUntyped(N.l1Penalty, {}, 1e-4, { filter: () => true }),
    /^l1Penalty: unknown option 'filter'/,
  ],
  // training
  [
    'fit epoch',
    () => callUntyped(N.fit, { model, loss: N.meanSquaredError, optimizer: N.sgd(0.1), data, epoch: 3 }),
    /^fit: unknown option 'epoch' in options; accepted options: model, loss, optimizer, .*stopOnNaN.*jit/,
  ],
  [
    'fit without epochs',
    () =>
      callUntyped(N.fit, {
        model,
        loss: N.meanSquaredError,
        optimizer: N.sgd(0.1),
        params: {},
        state: {},
        data,
        key: T.random.key(0),
      }),
    /^fit: option 'epochs' is required/,
  ],
  [
    'makeTrainStep lr',
    () => callUntyped(N.makeTrainStep, { model, loss: N.meanSquaredError, optimizer: N.sgd(0.1), lr: 0.1 }),
    /^makeTrainStep: unknown option 'lr'.*model, loss, optimizer, regularizer, jit, donate, executor$/,
  ],
  [
    'evaluate batch',
    () => callUntyped(N.evaluate, model, {}, {}, data, { batch: 2 }),
    /^evaluate: unknown option 'batch'.*batchSize, loss, metrics$/,
  ],
  [
    'predict batch',
    () => callUntyped(N.predict, model, {}, {}, data.x, { batch: 2 }),
    /^predict: unknown option 'batch'.*accepted options: batchSize$/,
  ],
  [
    'earlyStopping patient',
    () => callUntyped(N.earlyStopping, { patient: 3 }),
    /^earlyStopping: unknown option 'patient'.*monitor, patience, minDelta, mode, restoreBest$/,
  ],
  [
    'earlyStopping monitor',
    () => callUntyped(N.earlyStopping, { monitor: 'val_loss' }),
    /^earlyStopping: option 'monitor' must be one of 'loss', 'accuracy', 'valLoss', 'valAccuracy', got 'val_loss'$/,
  ],
  [
    'historyChartSvg height',
    () => callUntyped(N.historyChartSvg, [record], { height: 100 }),
    /^historyChartSvg: unknown option 'height'.*title, width, panelHeight, labels, xLabel, x$/,
  ],
  [
    'formatEpochRecord prefix',
    () => callUntyped(N.formatEpochRecord, record, 3, { prefix: 'test' }),
    /^formatEpochRecord: unknown option 'prefix'.*accepted options: validationName$/,
  ],
]

describe('unknown option keys and malformed values are refused, naming the accepted keys', () => {
  it.each(opsRows)('ops: %s', (_label, call, expected) => {
    expect(messageOf(call)).toMatch(expected)
  })
  it.each(nnRows)('nn: %s', (_label, call, expected) => {
    expect(messageOf(call)).toMatch(expected)
  })

  it('accepts every key it names, undefined values included (the same calls, corrected)', () => {
    expect(T.toArray(O.sum(x, { axis: 1, keepDims: undefined }))).toEqual([3, 3])
    expect(O.softmax(x, { axis: 0 }).shape).toEqual([2, 3])
    expect(O.slice(x, [{ start: 0, stop: 1 }]).shape).toEqual([1, 3])
    expect(O.conv2d(image, kernel, { stride: 2 }).shape).toEqual([1, 1, 2, 2])
    expect(N.layers.conv2d(8, 3, { padding: 'same' }).init(T.random.key(0), [1, 4, 4])._tag).toBe('Right')
    expect(() => N.adam(1e-3, { b1: 0.8, b2: 0.99, eps: 1e-7, epsRoot: 0 })).not.toThrow()
  })
})

describe('the axis convention', () => {
  const m = T.tensor([
    [1, 5, 2],
    [7, 0, 3],
  ])
  it('takes one axis or a list under `axis` for reductions, negative counting from the end', () => {
    expect(T.toArray(O.sum(m, { axis: -1 }))).toEqual([8, 10])
    expect(T.item(O.max(m, { axis: [0, 1] }))).toBe(7)
    expect(T.toNested(O.mean(m, { axis: 0, keepDims: true }))).toEqual([[4, 2.5, 2.5]])
  })
  it('takes one number under `axis` for the single-axis ops', () => {
    expect(T.toArray(O.argmax(m, { axis: -1 }))).toEqual([1, 0])
    expect(O.concat([m, m], { axis: -1 }).shape).toEqual([2, 6])
    expect(O.stack([m, m], { axis: 1 }).shape).toEqual([2, 2, 3])
    expect(O.split(m, 3, { axis: 1 }).map((p) => p.shape)).toEqual([
      [2, 1],
      [2, 1],
      [2, 1],
    ])
    expect(T.toNested(O.gather(m, indices, { axis: 1 }))).toEqual([
      [5, 1],
      [0, 7],
    ])
    expect(T.toNested(O.takeAlongAxis(m, columnIndices, { axis: 1 }))).toEqual([[5], [7]])
    expect(O.expandDims(m, { axis: -1 }).shape).toEqual([2, 3, 1])
    expect(O.squeeze(T.ones([1, 3, 1]), { axis: [0, 2] }).shape).toEqual([3])
  })
})
