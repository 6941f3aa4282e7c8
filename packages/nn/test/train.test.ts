import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import type { Layer } from '../src/layer'
import { batchNorm, dense, dropout, relu, sequential } from '../src/layers/index'
import { l2Penalty, meanSquaredError, crossEntropy } from '../src/losses/index'
import { adam, scale, sgd } from '../src/optim/index'
import { flattenNamed } from '../src/tree'
import type { Dataset } from '../src/data/index'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  earlyStopping,
  evaluate,
  fit,
  stopOnNaN,
  TrainingDivergedError,
  formatEpochRecord,
  historyChartSvg,
  makeTrainStep,
  predict,
} from '../src/train/index'
import type { EpochRecord, Reporter } from '../src/train/index'
import { niceTicks } from '../src/train/chart'
import { fitWithCheckpoints, loadCheckpoint } from '../src/node/checkpoint'
import type { GradientTransformation } from '../src/optim/transform'
import { bitsOf, blobs, init } from './helpers'
import { map } from '../src/tree'

// ---------------------------------------------------------------------------------------------
// helpers written for the tests
// ---------------------------------------------------------------------------------------------

const mlp = () => sequential(dense(8), relu(), dense(3))

const baseOptions = (seed = 0) => {
  const model = mlp()
  const { params, state } = init(model, T.random.key(seed), [2])
  return {
    model,
    loss: crossEntropy,
    optimizer: adam(0.05),
    params,
    state,
    data: blobs(60, 1),
    epochs: 3,
    batchSize: 16,
    key: T.random.key(7),
  }
}

// ---------------------------------------------------------------------------------------------
// makeTrainStep
// ---------------------------------------------------------------------------------------------

describe('makeTrainStep', () => {
  // Linear regression y = x wᵀ + b, MSE, plain SGD: the step written out by hand.
  const x = T.tensor(
    [
      [1, 2, -1],
      [0.5, -1, 2],
      [-2, 0, 1],
      [3, 1, 0],
    ],
    'float64',
  )
  const target = T.tensor([[1], [-1], [0.5], [2]], 'float64')
  const model = dense(1, { dtype: 'float64' })
  const { params, state } = init(model, T.random.key(3), [3])

  const manualStep = (lr: number, lambda: number) => {
    const w = Array.from(params.weight.data)
    const b = params.bias.data[0]!
    const n = 4
    let loss = 0
    const gw = [0, 0, 0]
    let gb = 0
    for (let i = 0; i < n; i++) {
      let prediction = b
      for (let j = 0; j < 3; j++) prediction += w[j]! * x.data[3 * i + j]!
      const error = prediction - target.data[i]!
      loss += (error * error) / n
      for (let j = 0; j < 3; j++) gw[j]! += (2 / n) * error * x.data[3 * i + j]!
      gb += (2 / n) * error
    }
    loss += (lambda / 2) * w.reduce((a, v) => a + v * v, 0)
    return {
      loss,
      weight: w.map((v, j) => v - lr * (gw[j]! + lambda * v)),
      bias: b - lr * gb,
    }
  }

  it('takes one gradient step exactly as the hand-derived update', () => {
    const step = makeTrainStep({ model, loss: meanSquaredError, optimizer: sgd(0.1) })
    const optimizer = sgd(0.1)
    const result = step(params, state, optimizer.init(params), { x, y: target })
    const expected = manualStep(0.1, 0)
    expect(result.metrics.loss).toBeCloseTo(expected.loss, 12)
    expect(result.metrics.accuracy).toBeUndefined()
    Array.from(result.params.weight.data).forEach((v, j) => expect(v).toBeCloseTo(expected.weight[j]!, 12))
    expect(result.params.bias.data[0]).toBeCloseTo(expected.bias, 12)
  })

  it('adds the regulariser to the objective and its gradient', () => {
    const lambda = 0.3
    const step = makeTrainStep({
      model,
      loss: meanSquaredError,
      optimizer: sgd(0.1),
      regularizer: (p) => l2Penalty(p, lambda),
    })
    const result = step(params, state, sgd(0.1).init(params), { x, y: target })
    const expected = manualStep(0.1, lambda)
    expect(result.metrics.loss).toBeCloseTo(expected.loss, 12)
    Array.from(result.params.weight.data).forEach((v, j) => expect(v).toBeCloseTo(expected.weight[j]!, 12))
    expect(result.params.bias.data[0]).toBeCloseTo(expected.bias, 12)
  })

  it('is pure: same inputs, same outputs; inputs untouched', () => {
    const step = makeTrainStep({ model, loss: meanSquaredError, optimizer: adam(0.01) })
    const optState = adam(0.01).init(params)
    const before = [bitsOf(params), bitsOf(optState), Array.from(x.data), Array.from(target.data)]
    const a = step(params, state, optState, { x, y: target })
    const b = step(params, state, optState, { x, y: target })
    expect(bitsOf(a.params)).toEqual(bitsOf(b.params))
    expect(bitsOf(a.optState)).toEqual(bitsOf(b.optState))
    expect([bitsOf(params), bitsOf(optState), Array.from(x.data), Array.from(target.data)]).toEqual(before)
  })

  it('returns the layer state of the forward pass (batch-norm running statistics)', () => {
    const bnModel = sequential(dense(2, { dtype: 'float64' }), batchNorm())
    const built = init(bnModel, T.random.key(5), [3])
    const step = makeTrainStep({ model: bnModel, loss: meanSquaredError, optimizer: sgd(0.1) })
    const result = step(built.params, built.state, sgd(0.1).init(built.params), {
      x,
      y: T.zeros([4, 2], 'float64'),
    })
    // running mean = 0.9 · 0 + 0.1 · (batch mean of the dense output at the initial parameters)
    const w = built.params[0].weight.data
    const bias = built.params[0].bias.data
    for (let c = 0; c < 2; c++) {
      let mean = 0
      for (let i = 0; i < 4; i++) {
        let z = bias[c]!
        for (let j = 0; j < 3; j++) z += w[3 * c + j]! * x.data[3 * i + j]!
        mean += z / 4
      }
      expect(result.state[1].runningMean.data[c]).toBeCloseTo(0.1 * mean, 7) // running stats are float32
    }
  })

  it('reports batch accuracy for class-index labels', () => {
    const identity = dense(2, { dtype: 'float64' })
    const fixed = {
      weight: T.tensor(
        [
          [1, 0],
          [0, 1],
        ],
        'float64',
      ),
      bias: T.tensor([0, 0], 'float64'),
    }
    const step = makeTrainStep({ model: identity, loss: crossEntropy, optimizer: scale(0) })
    const batch = {
      x: T.tensor(
        [
          [2, 1],
          [0, 1],
          [3, 0],
          [1, 5],
        ],
        'float64',
      ), // argmax 0, 1, 0, 1
      y: T.tensor([0, 0, 0, 0], 'int32'),
    }
    expect(step(fixed, {}, scale(0).init(fixed), batch).metrics.accuracy).toBe(0.5)
  })

  it('feeds the key to stochastic layers: different keys, different updates', () => {
    const dropModel = sequential(dense(8), dropout(0.5), dense(3))
    const built = init(dropModel, T.random.key(0), [2])
    const step = makeTrainStep({ model: dropModel, loss: crossEntropy, optimizer: sgd(0.1) })
    const data = blobs(12, 2)
    const optState = sgd(0.1).init(built.params)
    const a = step(built.params, built.state, optState, data, T.random.key(1))
    const b = step(built.params, built.state, optState, data, T.random.key(1))
    const c = step(built.params, built.state, optState, data, T.random.key(2))
    expect(bitsOf(a.params)).toEqual(bitsOf(b.params))
    expect(bitsOf(a.params)).not.toEqual(bitsOf(c.params))
  })
})

// ---------------------------------------------------------------------------------------------
// fit
// ---------------------------------------------------------------------------------------------

/** A one-parameter model that records which examples (feature 0 holds the id) each batch held. */
// It reads its inputs' values while it runs, so the steps that use it run eagerly (`jit: false`):
// a staged step sees no values.
const recordingModel = (log: number[][]): Layer<{ readonly w: Tensor }, Record<never, never>> => ({
  kind: 'recorder',
  init: () => E.right({ params: { w: T.ones([1]) }, state: {}, outShape: [1] }),
  apply: (params, state, x) => {
    const rows = x.shape[0]!
    const ids: number[] = []
    for (let i = 0; i < rows; i++) ids.push(O.concrete(x).data[2 * i]!)
    log.push(ids)
    return [O.mul(O.slice(x, [undefined, { start: 0, stop: 1 }]), params.w), state]
  },
})

const idData = (n: number): Dataset => {
  const x = new Float32Array(2 * n)
  for (let i = 0; i < n; i++) x[2 * i] = i
  return { x: T.unsafeTensor('float32', [n, 2], x), y: T.zeros([n, 1]) }
}

describe('fit', () => {
  it('is deterministic: the same key gives bitwise identical parameters; another key does not', () => {
    const a = fit(baseOptions())
    const b = fit(baseOptions())
    expect(bitsOf(a.params)).toEqual(bitsOf(b.params))
    expect(bitsOf(a.optState)).toEqual(bitsOf(b.optState))
    expect(a.history.map((r) => r.loss)).toEqual(b.history.map((r) => r.loss))
    const c = fit({ ...baseOptions(), key: T.random.key(8) })
    expect(bitsOf(c.params)).not.toEqual(bitsOf(a.params))
  })

  it('learns an easy problem and records one history entry per epoch', () => {
    const data = blobs(150, 1)
    const options = { ...baseOptions(), data, validationData: blobs(60, 9), epochs: 8 }
    const result = fit(options)
    expect(result.history.map((r) => r.epoch)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    expect(result.epoch).toBe(8)
    expect(result.stopped).toBe(false)
    for (const record of result.history) {
      expect(record.samples).toBe(150)
      expect(record.accuracy).toBeGreaterThanOrEqual(0)
      expect(record.valLoss).toBeGreaterThan(0)
      expect(record.seconds).toBeGreaterThanOrEqual(0)
    }
    expect(result.history[7]!.loss).toBeLessThan(result.history[0]!.loss)
    expect(result.history[7]!.valAccuracy).toBeGreaterThan(0.9)
    expect(evaluate(options.model, result.params, result.state, data)['accuracy']).toBeGreaterThan(0.9)
  })

  it('shuffles every epoch differently, covers every example once, keeps the last partial batch', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 8 }), (n, batchSize) => {
        const log: number[][] = []
        const model = recordingModel(log)
        fit({
          model,
          loss: meanSquaredError,
          optimizer: scale(0),
          params: { w: T.ones([1]) },
          state: {},
          data: idData(n),
          epochs: 2,
          batchSize,
          key: T.random.key(n),
          jit: false,
        })
        const perEpoch = Math.ceil(n / batchSize)
        expect(log.length).toBe(2 * perEpoch)
        for (let e = 0; e < 2; e++) {
          const epochBatches = log.slice(e * perEpoch, (e + 1) * perEpoch)
          const sizes = epochBatches.map((b) => b.length)
          expect(sizes).toEqual(
            Array.from({ length: perEpoch }, (_, i) => Math.min(batchSize, n - i * batchSize)),
          )
          expect(epochBatches.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i))
        }
        if (n >= 8) expect(log.slice(0, perEpoch).flat()).not.toEqual(log.slice(perEpoch).flat())
      }),
      { numRuns: 25 },
    )
  })

  it('keeps the order with shuffle: false', () => {
    const log: number[][] = []
    fit({
      model: recordingModel(log),
      loss: meanSquaredError,
      optimizer: scale(0),
      params: { w: T.ones([1]) },
      state: {},
      data: idData(5),
      epochs: 1,
      batchSize: 2,
      shuffle: false,
      key: T.random.key(0),
      jit: false,
    })
    expect(log).toEqual([[0, 1], [2, 3], [4]])
  })

  it('resumes exactly: 2 epochs, then 2 more from the saved state, equals 4 epochs (with dropout)', () => {
    const model = sequential(dense(8), dropout(0.3), relu(), dense(3))
    const { params, state } = init(model, T.random.key(0), [2])
    const common = {
      model,
      loss: crossEntropy,
      optimizer: adam(0.02),
      state,
      data: blobs(45, 3),
      batchSize: 10,
      key: T.random.key(11),
    }
    const straight = fit({ ...common, params, epochs: 4 })
    let saved: { params: typeof params; state: typeof state; optState: unknown; epoch: number } | undefined
    const firstHalf = fit({
      ...common,
      params,
      epochs: 4,
      callbacks: [
        {
          onEpochEnd: (info) => {
            saved = { params: info.params, state: info.state, optState: info.optState, epoch: info.epoch }
            return info.epoch === 2 ? 'stop' : undefined
          },
        },
      ],
    })
    expect(firstHalf.stopped).toBe(true)
    expect(saved?.epoch).toBe(2)
    const resumed = fit({
      ...common,
      params: saved!.params,
      state: saved!.state,
      optState: firstHalf.optState,
      initialEpoch: saved!.epoch,
      epochs: 4,
      history: firstHalf.history,
    })
    expect(bitsOf(resumed.params)).toEqual(bitsOf(straight.params))
    expect(bitsOf(resumed.optState)).toEqual(bitsOf(straight.optState))
    expect(resumed.history.map((r) => r.loss)).toEqual(straight.history.map((r) => r.loss))
  })

  it('stops after the batch when onBatchEnd says so, and records the partial epoch', () => {
    const batchesSeen: Array<[number, number]> = []
    const result = fit({
      ...baseOptions(),
      callbacks: [
        {
          onBatchEnd: (info) => {
            batchesSeen.push([info.epoch, info.batch])
            expect(info.batchesPerEpoch).toBe(4)
            return info.epoch === 1 && info.batch === 1 ? 'stop' : undefined
          },
        },
      ],
    })
    expect(batchesSeen).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [0, 3],
      [1, 0],
      [1, 1],
    ])
    expect(result.stopped).toBe(true)
    expect(result.history.map((r) => r.samples)).toEqual([60, 32])
    expect(result.epoch).toBe(2)
  })

  it('calls the reporter hooks in order', () => {
    const events: string[] = []
    const reporter: Reporter = {
      start: (info) => events.push(`start ${info.samples}/${info.batchesPerEpoch}/${info.validationSamples}`),
      batch: (p) => events.push(`batch ${p.epoch}.${p.batch} ${p.samples}`),
      epoch: (r) => events.push(`epoch ${r.epoch}`),
      end: (h) => events.push(`end ${h.length}`),
    }
    fit({ ...baseOptions(), epochs: 2, batchSize: 25, validationData: blobs(9, 4), reporter })
    expect(events).toEqual([
      'start 60/3/9',
      'batch 0.0 25',
      'batch 0.1 50',
      'batch 0.2 60',
      'epoch 0',
      'batch 1.0 25',
      'batch 1.1 50',
      'batch 1.2 60',
      'epoch 1',
      'end 2',
    ])
  })

  it('rejects bad options with clear errors', () => {
    expect(() => fit({ ...baseOptions(), epochs: -1 })).toThrow(/epochs must be an integer >= 0/)
    expect(() => fit({ ...baseOptions(), batchSize: 0 })).toThrow(/batchSize/)
    expect(() => fit({ ...baseOptions(), initialEpoch: 5 })).toThrow(/initialEpoch 5/)
    expect(() => fit({ ...baseOptions(), data: { x: T.zeros([4, 2]), y: T.zeros([3], 'int32') } })).toThrow(
      /\[4,2\].*\[3\]/,
    )
  })
})

// ---------------------------------------------------------------------------------------------
// stopping on NaN
// ---------------------------------------------------------------------------------------------

/** Plain gradient steps, except that step `badStep` (0-based) multiplies every update by NaN. */
const divergesAt = (badStep: number): GradientTransformation<{ readonly count: number }> => ({
  init: () => ({ count: 0 }),
  update: (grads, state) => [
    map(grads, (g) => O.mul(g, state.count === badStep ? Number.NaN : -0.05)),
    { count: state.count + 1 },
  ],
})

/** Every float value of a tree is finite. */
const allFinite = (tree: unknown): boolean =>
  flattenNamed(tree).every(([, t]) => Array.from(t.data).every(Number.isFinite))

const caught = (run: () => unknown): TrainingDivergedError => {
  try {
    run()
  } catch (e) {
    if (e instanceof TrainingDivergedError) return e
    throw e
  }
  throw new Error('expected a TrainingDivergedError; training ran to the end')
}

describe('stopOnNaN (on by default in fit)', () => {
  it('stops at the first NaN batch loss, naming the epoch and batch, before later callbacks see it', () => {
    const data = blobs(60, 1)
    const x = Float32Array.from(data.x.data)
    x[2 * 20] = Number.NaN // example 20: batch 1 of every epoch without shuffling (batches of 16)
    const seen: number[] = []
    const error = caught(() =>
      fit({
        ...baseOptions(),
        data: { x: T.unsafeTensor('float32', [60, 2], x), y: data.y },
        shuffle: false,
        callbacks: [{ onBatchEnd: (info) => void seen.push(info.loss) }],
      }),
    )
    expect(error).toBeInstanceOf(T.ValueError)
    expect(error.message).toMatch(
      /^stopOnNaN: the training loss is NaN at epoch 0, batch 1 \(step 2\): training diverged and was stopped/,
    )
    expect(error.message).toMatch(/Lower the learning rate/)
    expect([error.epoch, error.batch, error.lastFinite]).toEqual([0, 1, undefined])
    expect(seen).toHaveLength(1) // the user's callback saw batch 0 only
    expect(seen.every(Number.isFinite)).toBe(true)
  })

  it("catches parameters made NaN by an epoch's last update (its loss was still finite) at that epoch's end", () => {
    const epochsSeen: number[] = []
    const error = caught(() =>
      fit({
        ...baseOptions(),
        optimizer: divergesAt(5), // 3 batches per epoch: the last batch of epoch 1
        batchSize: 20,
        epochs: 4,
        callbacks: [{ onEpochEnd: (info) => void epochsSeen.push(info.epoch) }],
      }),
    )
    expect(error.message).toMatch(/^stopOnNaN: params '[\w.]*weight' is NaN at the end of epoch 1:/)
    expect([error.epoch, error.batch]).toEqual([1, undefined])
    expect(epochsSeen).toEqual([1]) // the epoch with NaN parameters never reached the user's callback
    expect(error.lastFinite?.epoch).toBe(1)
    expect(allFinite(error.lastFinite?.params)).toBe(true)
  })

  it('can be turned off explicitly, and then trains on with NaN parameters', () => {
    const result = fit({
      ...baseOptions(),
      optimizer: divergesAt(5),
      batchSize: 20,
      epochs: 4,
      stopOnNaN: false,
    })
    expect(result.epoch).toBe(4)
    expect(allFinite(result.params)).toBe(false)
    // The callback on its own does what the default does.
    expect(() =>
      fit({
        ...baseOptions(),
        optimizer: divergesAt(5),
        batchSize: 20,
        epochs: 4,
        stopOnNaN: false,
        callbacks: [stopOnNaN()],
      }),
    ).toThrow(TrainingDivergedError)
  })

  it('keeps fitWithCheckpoints from saving a NaN checkpoint: the last good one stays', () => {
    const root = mkdtempSync(join(tmpdir(), 'backfold-nan-'))
    try {
      const options = { ...baseOptions(), optimizer: divergesAt(5), batchSize: 20, epochs: 4 }
      const dir = join(root, 'guarded')
      expect(() => fitWithCheckpoints({ ...options, checkpoint: { dir, inShape: [2] } })).toThrow(
        /params '[\w.]*weight' is NaN at the end of epoch 1/,
      )
      const saved = loadCheckpoint(dir, options.model, { optimizer: divergesAt(5) })
      if (E.isLeft(saved)) throw new Error(saved.left.message)
      expect(saved.right.epoch).toBe(1)
      expect(allFinite(saved.right.params)).toBe(true)
      // Without the guard the same run saves NaN weights (so the check above can fail).
      const unguarded = join(root, 'unguarded')
      fitWithCheckpoints({ ...options, stopOnNaN: false, checkpoint: { dir: unguarded, inShape: [2] } })
      const last = loadCheckpoint(unguarded, options.model, { optimizer: divergesAt(5) })
      if (E.isLeft(last)) throw new Error(last.left.message)
      expect(last.right.epoch).toBe(4)
      expect(allFinite(last.right.params)).toBe(false)
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})

// ---------------------------------------------------------------------------------------------
// early stopping
// ---------------------------------------------------------------------------------------------

/** Keras's EarlyStopping rule, written out: the epoch index at which training stops, or -1. */
const kerasStopEpoch = (
  values: ReadonlyArray<number>,
  patience: number,
  minDelta: number,
  mode: 'min' | 'max',
): number => {
  let best = mode === 'min' ? Infinity : -Infinity
  let wait = 0
  for (let e = 0; e < values.length; e++) {
    const v = values[e]!
    // Keras negates min_delta in 'min' mode, then tests monitor_op(value - min_delta, best).
    const better = mode === 'min' ? v + minDelta < best : v - minDelta > best
    wait++
    if (better) {
      best = v
      wait = 0
      continue
    }
    if (wait >= patience) return e
  }
  return -1
}

const record = (epoch: number, valLoss: number): EpochRecord => ({
  epoch,
  loss: 1,
  valLoss,
  seconds: 0,
  samples: 1,
})

describe('earlyStopping', () => {
  it("follows Keras's rule on any sequence of values", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 15 }),
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(0, 1, 2.5),
        fc.constantFrom<'min' | 'max'>('min', 'max'),
        (values, patience, minDelta, mode) => {
          const callback = earlyStopping({ monitor: 'valLoss', patience, minDelta, mode })
          callback.onTrainBegin?.({ initialEpoch: 0, epochs: values.length })
          let stoppedAt = -1
          for (let e = 0; e < values.length && stoppedAt === -1; e++) {
            const signal = callback.onEpochEnd?.({
              params: {},
              state: {},
              optState: {},
              epoch: e + 1,
              record: record(e, values[e]!),
              history: [],
              key: T.random.key(0),
            })
            if (signal === 'stop') stoppedAt = e
          }
          expect(stoppedAt).toBe(kerasStopEpoch(values, patience, minDelta, mode))
        },
      ),
      { numRuns: 200 },
    )
  })

  it('stops fit and restores the best epoch when asked', () => {
    const paramsByEpoch: unknown[] = []
    // A high learning rate makes the validation loss bounce, so some epoch is not the last best one.
    const options = { ...baseOptions(), optimizer: adam(0.5), epochs: 12, validationData: blobs(30, 5) }
    const result = fit({
      ...options,
      callbacks: [
        { onEpochEnd: (info) => void paramsByEpoch.push(info.params) },
        earlyStopping({ monitor: 'valLoss', patience: 2, restoreBest: true }),
      ],
    })
    const losses = result.history.map((r) => r.valLoss!)
    const best = losses.indexOf(Math.min(...losses))
    expect(best).toBeLessThan(losses.length - 1) // so restoring really changes the result
    expect(result.epoch).toBe(best + 1)
    expect(bitsOf(result.params)).toEqual(bitsOf(paramsByEpoch[best]))
    const stopAt = kerasStopEpoch(losses, 2, 0, 'min')
    expect(result.stopped).toBe(stopAt !== -1)
    if (stopAt !== -1) expect(result.history.length).toBe(stopAt + 1)
  })

  it('names the missing metric', () => {
    expect(() => fit({ ...baseOptions(), callbacks: [earlyStopping()] })).toThrow(
      /monitor 'valLoss' is not in the epoch record/,
    )
    expect(() => earlyStopping({ patience: -1 })).toThrow(/patience/)
  })
})

// ---------------------------------------------------------------------------------------------
// evaluate and predict
// ---------------------------------------------------------------------------------------------

describe('evaluate and predict', () => {
  const model = mlp()
  const { params, state } = init(model, T.random.key(2), [2])
  const data = blobs(50, 6)

  it('predict in batches equals one forward pass', () => {
    const whole = model.apply(params, state, data.x, { training: false })[0]
    for (const batchSize of [1, 7, 50, 64]) {
      const batched = predict(model, params, state, data.x, { batchSize })
      expect(batched.shape).toEqual([50, 3])
      expect(T.allClose(batched, whole, { rtol: 1e-6, atol: 1e-6 })).toBe(true)
    }
  })

  it('evaluate computes loss and accuracy over the whole set', () => {
    const result = evaluate(model, params, state, data, { loss: crossEntropy, batchSize: 8 })
    const logits = model.apply(params, state, data.x, { training: false })[0].data
    let correct = 0
    let loss = 0
    for (let i = 0; i < 50; i++) {
      const row = [logits[3 * i]!, logits[3 * i + 1]!, logits[3 * i + 2]!]
      const predicted = row.indexOf(Math.max(...row))
      if (predicted === data.y.data[i]) correct++
      const m = Math.max(...row)
      const logSumExp = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0))
      loss += (logSumExp - row[data.y.data[i]!]!) / 50
    }
    expect(result['accuracy']).toBe(correct / 50)
    expect(result['loss']).toBeCloseTo(loss, 5)
  })

  it('uses the metrics given instead of the default, and has no accuracy for regression targets', () => {
    const custom = evaluate(model, params, state, data, { metrics: { rows: (output) => output.shape[0]! } })
    expect(custom).toEqual({ rows: 50 })
    const regression = evaluate(
      dense(1),
      init(dense(1), T.random.key(0), [2]).params,
      {},
      { x: data.x, y: T.zeros([50, 1]) },
    )
    expect(regression).toEqual({})
  })
})

// ---------------------------------------------------------------------------------------------
// formatting and charts
// ---------------------------------------------------------------------------------------------

describe('formatEpochRecord', () => {
  it('prints the metrics present', () => {
    const r: EpochRecord = {
      epoch: 2,
      loss: 0.21543,
      accuracy: 0.93912,
      valLoss: 0.18621,
      valAccuracy: 0.94444,
      seconds: 0.5,
      samples: 1000,
    }
    expect(formatEpochRecord(r, 30)).toBe(
      'epoch  3/30  loss 0.2154  acc 0.9391  val_loss 0.1862  val_acc 0.9444  0.50s  2000 samples/s',
    )
    expect(
      formatEpochRecord({ epoch: 0, loss: NaN, seconds: 0, samples: 4 }, 5, { validationName: 'test' }),
    ).toBe('epoch 1/5  loss NaN  0.00s')
  })
})

describe('historyChartSvg', () => {
  const history: EpochRecord[] = Array.from({ length: 12 }, (_, e) => ({
    epoch: e,
    loss: 2 / (e + 1),
    accuracy: 1 - 0.5 / (e + 1),
    valLoss: 2.2 / (e + 1),
    valAccuracy: 1 - 0.6 / (e + 1),
    seconds: 1,
    samples: 10,
  }))

  it('draws both panels with one polyline per series, ticks and a legend', () => {
    const svg = historyChartSvg(history, { title: 'a < b & c', labels: { valAccuracy: 'test accuracy' } })
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true)
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true)
    expect(svg).toContain('a &lt; b &amp; c')
    for (const label of ['training loss', 'validation loss', 'training accuracy', 'test accuracy'])
      expect(svg).toContain(label)
    const series = [...svg.matchAll(/<polyline points="([^"]+)" fill="none" stroke="#(?:0072B2|D55E00)"/g)]
    expect(series.length).toBe(4)
    for (const match of series) expect(match[1]!.split(' ').length).toBe(12)
    expect(svg).toContain('>epoch<')
    // every opened element is closed (the file is self-contained XML)
    const opened = (svg.match(/<(?:svg|text)\b/g) ?? []).length
    const closed = (svg.match(/<\/(?:svg|text)>/g) ?? []).length
    expect(closed).toBe(opened)
  })

  it("puts each record at the x option's value, labelled xLabel", () => {
    const records: EpochRecord[] = [0, 1, 2].map((i) => ({
      epoch: i,
      loss: 3 - i,
      seconds: 1,
      samples: 1,
    }))
    const steps = [100, 200, 400]
    const svg = historyChartSvg(records, { xLabel: 'training step', x: (_, i) => steps[i]!, width: 720 })
    expect(svg).toContain('>training step<')
    expect(svg).not.toContain('>epoch<')
    const [points] = [...svg.matchAll(/<polyline points="([^"]+)" fill="none" stroke="#0072B2"/g)].map((m) =>
      m[1]!.split(' ').map((p) => Number(p.split(',')[0])),
    )
    // Plot from x = 64 to 720 - 24 over steps 100..400: 100 → 64, 200 → 64 + 632/3, 400 → 696.
    expect(points![0]).toBeCloseTo(64, 1)
    expect(points![1]).toBeCloseTo(64 + 632 / 3, 1)
    expect(points![2]).toBeCloseTo(696, 1)
    for (const tick of ['100', '200', '300', '400']) expect(svg).toContain(`>${tick}</text>`)
    expect(() => historyChartSvg(records, { x: () => NaN })).toThrow(
      /historyChartSvg: the x option gave NaN for record 0/,
    )
  })

  it('leaves out non-finite values and the accuracy panel when there is none', () => {
    const svg = historyChartSvg([
      { epoch: 0, loss: 1, seconds: 1, samples: 1 },
      { epoch: 1, loss: NaN, seconds: 1, samples: 1 },
      { epoch: 2, loss: 0.5, seconds: 1, samples: 1 },
    ])
    expect(svg).not.toContain('NaN')
    expect(svg).not.toContain('accuracy')
    expect(historyChartSvg([])).toContain('no epochs recorded')
  })

  it('niceTicks covers the range with steps of 1, 2 or 5 times a power of ten', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 1e-6, max: 1e6, noNaN: true }),
        (lo, span) => {
          const { ticks } = niceTicks(lo, lo + span)
          const step = ticks[1]! - ticks[0]!
          // within a hair of a step: values a rounding error outside the last tick need no extra tick
          expect(ticks[0]!).toBeLessThanOrEqual(lo + step * 1e-6)
          expect(ticks[ticks.length - 1]!).toBeGreaterThanOrEqual(lo + span - step * 1e-6)
          const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9)
          expect([1, 2, 5, 10].some((m) => Math.abs(mantissa - m) < 1e-3)).toBe(true)
          expect(ticks.length).toBeLessThanOrEqual(13)
        },
      ),
      { numRuns: 200 },
    )
  })
})
