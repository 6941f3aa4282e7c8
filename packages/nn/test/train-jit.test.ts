// makeTrainStep and fit with jit (the default): the forward pass, the gradient, the new layer state
// and the optimizer update staged once per batch shape, agreeing with the eager step (`jit: false`)
// to float32 rounding.
import { describe, it, expect } from 'vitest'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import type { Layer } from '../src/layer'
import {
  avgPool2d,
  batchNorm,
  conv2d,
  dense,
  dropout,
  elu,
  embedding,
  flatten,
  gelu,
  globalAvgPool2d,
  layerNorm,
  leakyRelu,
  maxPool2d,
  parallel,
  relu,
  residual,
  sequential,
  sigmoid,
  silu,
  softmax,
  tanh,
} from '../src/layers/index'
import {
  huber,
  l1Penalty,
  l2Penalty,
  meanSquaredError,
  quadraticCost,
  sigmoidBinaryCrossEntropy,
  crossEntropy,
} from '../src/losses/index'
import { adam, adamw, cosineDecay, momentum, sgd, warmupCosineDecay } from '../src/optim/index'
import type { GradientTransformation } from '../src/optim/transform'
import { applyGradients } from '../src/optim/applyUpdates'
import { flattenNamed } from '../src/tree'
import { evaluate, fit, makeTrainStep } from '../src/train/index'
import type { LossFunction } from '../src/train/index'
import { batchOf, dataset, init, maxDifference } from './helpers'

interface Case<P, S, O> {
  readonly name: string
  readonly model: Layer<P, S>
  readonly inShape: ReadonlyArray<number>
  readonly classes: number
  readonly loss: LossFunction
  readonly optimizer: GradientTransformation<O>
  readonly regularizer?: (params: P) => Tensor
  readonly usesKey: boolean
}

/** Runs `steps` steps eagerly and jitted from the same start; returns both ends and the stats. */
const runBoth = <P, S, O>(c: Case<P, S, O>, steps: number, batchSize: number) => {
  const { params, state } = init(c.model, T.random.key(11), c.inShape)
  const data = dataset(steps * batchSize, c.inShape, c.classes, 5)
  const common = {
    model: c.model,
    loss: c.loss,
    optimizer: c.optimizer,
    ...(c.regularizer === undefined ? {} : { regularizer: c.regularizer }),
  }
  const eager = makeTrainStep({ ...common, jit: false })
  const jitted = makeTrainStep(common) // jit by default
  let a = { params, state, optState: c.optimizer.init(params) }
  let b = a
  const losses: Array<readonly [number, number]> = []
  for (let s = 0; s < steps; s++) {
    const batch = batchOf(data, s * batchSize, (s + 1) * batchSize)
    const key = c.usesKey ? T.random.foldIn(T.random.key(3), s) : undefined
    const ra = eager(a.params, a.state, a.optState, batch, key)
    const rb = jitted(b.params, b.state, b.optState, batch, key)
    losses.push([ra.metrics.loss, rb.metrics.loss])
    a = ra
    b = rb
  }
  return { eager: a, jitted: b, losses, stats: jitted.stats(), eagerStats: eager.stats() }
}

describe('makeTrainStep with jit', () => {
  const cases = [
    {
      name: 'MLP with adam',
      model: sequential(dense(16), relu(), dense(4)),
      inShape: [6],
      classes: 4,
      loss: crossEntropy,
      optimizer: adam(0.01),
      usesKey: false,
    },
    {
      name: 'CNN with momentum',
      model: sequential(
        conv2d(4, 3, { padding: 'same' }),
        relu(),
        maxPool2d({ kernelSize: 2 }),
        flatten(),
        dense(3),
      ),
      inShape: [1, 6, 6],
      classes: 3,
      loss: crossEntropy,
      optimizer: momentum(0.05, 0.9),
      usesKey: false,
    },
    {
      name: 'batchNorm + dropout with an L2 regularizer',
      // No bias before batchNorm: its gradient is zero up to rounding, and adam scales that noise
      // (of either sign) up to ±lr, so eager and jitted would differ by ~lr there for no real reason.
      model: sequential(dense(12, { useBias: false }), batchNorm(), relu(), dropout(0.3), dense(3)),
      inShape: [5],
      classes: 3,
      loss: crossEntropy,
      optimizer: adam(0.01),
      regularizer: (p: unknown) => l2Penalty(p, 1e-3),
      usesKey: true,
    },
  ] as const

  for (const c of cases)
    it(`${c.name}: same params, state and losses as the eager step over 6 steps, one trace`, () => {
      const run = runBoth<unknown, unknown, unknown>(c as unknown as Case<unknown, unknown, unknown>, 6, 8)
      // float32 rounding only: the staged graph composes the same ops in a different order
      // (fusion). Measured max |Δ| after 6 steps: params ≤ 3e-8, batchNorm state 1.2e-7.
      expect(maxDifference(run.eager.params, run.jitted.params)).toBeLessThan(1e-6)
      expect(maxDifference(run.eager.state, run.jitted.state)).toBeLessThan(1e-6)
      expect(maxDifference(run.eager.optState, run.jitted.optState)).toBeLessThan(1e-6)
      for (const [eagerLoss, jittedLoss] of run.losses) expect(jittedLoss).toBeCloseTo(eagerLoss, 5)
      // The parameters actually moved (the comparison is not between two untouched starts).
      const start = init(c.model as Layer<unknown, unknown>, T.random.key(11), c.inShape).params
      expect(maxDifference(start, run.jitted.params)).toBeGreaterThan(1e-3)
      expect(run.stats).toMatchObject({ traces: 1, hits: 5 })
      expect(run.eagerStats).toBeUndefined()
    })

  it('dropout draws from the key given as data: another key gives another result, no new trace', () => {
    const model = sequential(dense(8), dropout(0.5), dense(2))
    const { params, state } = init(model, T.random.key(0), [4])
    const step = makeTrainStep({ model, loss: crossEntropy, optimizer: sgd(0.1), jit: true })
    const batch = dataset(8, [4], 2, 1)
    const optState = sgd(0.1).init(params)
    const one = step(params, state, optState, batch, T.random.key(1))
    const same = step(params, state, optState, batch, T.random.key(1))
    const other = step(params, state, optState, batch, T.random.key(2))
    expect(maxDifference(one.params, same.params)).toBe(0)
    expect(maxDifference(one.params, other.params)).toBeGreaterThan(0)
    expect(step.stats()).toMatchObject({ traces: 1, hits: 2 })
  })

  it('a regression loss (no accuracy) and float32 metrics read after the step returns', () => {
    const model = dense(1)
    const { params, state } = init(model, T.random.key(0), [3])
    const x = T.random.normal(T.random.key(1), [10, 3])
    const y = T.random.normal(T.random.key(2), [10, 1])
    const eager = makeTrainStep({ model, loss: meanSquaredError, optimizer: sgd(0.1), jit: false })
    const jitted = makeTrainStep({ model, loss: meanSquaredError, optimizer: sgd(0.1), jit: true })
    const optState = sgd(0.1).init(params)
    const a = eager(params, state, optState, { x, y })
    const b = jitted(params, state, optState, { x, y })
    expect(b.metrics.accuracy).toBeUndefined()
    expect(b.metrics.loss).toBeCloseTo(a.metrics.loss, 6)
  })

  it("donates only its own trees: the caller's initial trees and what callbacks kept stay readable and unchanged", () => {
    const model = sequential(dense(12), batchNorm(), relu(), dense(3))
    const { params, state } = init(model, T.random.key(0), [4])
    const initial = flattenNamed(params)
    const before = Object.fromEntries(initial.map(([k, v]) => [k, Array.from(v.data)]))
    const kept: unknown[] = []
    const options = {
      model,
      loss: crossEntropy,
      optimizer: adam(0.01),
      params,
      state,
      data: dataset(48, [4], 3, 3),
      batchSize: 16,
      key: T.random.key(9),
    }
    const result = fit({
      ...options,
      epochs: 3,
      callbacks: [{ onEpochEnd: (info: { params: unknown }) => void kept.push(info.params) }],
    })
    for (const [k, v] of flattenNamed(params)) expect(Array.from(v.data), k).toEqual(before[k])
    expect(kept).toHaveLength(3)
    // What a callback kept after epoch 1 is what a 1-epoch fit returns; the last one is the result.
    const oneEpoch = fit({ ...options, epochs: 1 })
    expect(maxDifference(kept[0], oneEpoch.params)).toBe(0)
    expect(maxDifference(kept[2], result.params)).toBe(0)
  })

  it('refuses a jit option that is not a boolean', () => {
    const model = dense(1)
    expect(() =>
      makeTrainStep({ model, loss: meanSquaredError, optimizer: sgd(0.1), jit: 'yes' as unknown as boolean }),
    ).toThrow(/jit/)
  })
  it('a label outside the classes still throws when the staged step runs', () => {
    const model = dense(3)
    const { params, state } = init(model, T.random.key(0), [2])
    const step = makeTrainStep({ model, loss: crossEntropy, optimizer: sgd(0.1), jit: true })
    const x = T.zeros([2, 2])
    const optState = sgd(0.1).init(params)
    step(params, state, optState, { x, y: T.tensor([0, 2], 'int32') })
    expect(() => step(params, state, optState, { x, y: T.tensor([0, 3], 'int32') })).toThrow(T.ValueError)
  })
})

describe('an epoch of jitted steps', () => {
  it('stages once for the full batches and once for the smaller last batch, across epochs', () => {
    const model = sequential(dense(16), relu(), dense(4))
    const { params, state } = init(model, T.random.key(0), [6])
    const optimizer = adam(0.01)
    const step = makeTrainStep({ model, loss: crossEntropy, optimizer, jit: true })
    const data = dataset(100, [6], 4, 2) // batches of 32: three full, one of 4
    let current = { params, state, optState: optimizer.init(params) }
    for (let epoch = 0; epoch < 2; epoch++)
      for (let start = 0; start < 100; start += 32) {
        const batch = batchOf(data, start, Math.min(start + 32, 100))
        current = step(current.params, current.state, current.optState, batch)
        if (epoch === 0 && start === 64) expect(step.stats()).toMatchObject({ traces: 1, hits: 2 })
      }
    expect(step.stats()).toMatchObject({ traces: 2, hits: 6 })
  })
})

describe('fit with jit', () => {
  it('trains to the same parameters and history as eager fit, within float32 rounding', () => {
    const model = sequential(dense(12, { useBias: false }), batchNorm(), relu(), dropout(0.2), dense(3))
    const { params, state } = init(model, T.random.key(0), [4])
    const options = {
      model,
      loss: crossEntropy,
      optimizer: adam(0.01),
      params,
      state,
      data: dataset(50, [4], 3, 3),
      epochs: 2,
      batchSize: 16,
      key: T.random.key(9),
    }
    const eager = fit({ ...options, jit: false })
    const jitted = fit(options) // jit by default
    expect(maxDifference(eager.params, jitted.params)).toBeLessThan(1e-6)
    expect(maxDifference(eager.state, jitted.state)).toBeLessThan(1e-6)
    jitted.history.forEach((record, i) => {
      expect(record.loss).toBeCloseTo(eager.history[i]!.loss, 5)
      expect(record.accuracy).toBe(eager.history[i]!.accuracy)
    })
  })

  it('refuses a jit option that is not a boolean', () => {
    const model = dense(1)
    const { params, state } = init(model, T.random.key(0), [3])
    expect(() =>
      fit({
        model,
        loss: meanSquaredError,
        optimizer: sgd(0.1),
        params,
        state,
        data: { x: T.zeros([4, 3]), y: T.zeros([4, 1]) },
        epochs: 1,
        key: T.random.key(0),
        jit: 1 as unknown as boolean,
      }),
    ).toThrow(/jit/)
  })
})

describe('every layer kind and loss in a jitted step', () => {
  // One step each, eager and jitted from the same start: a layer or loss that reads data while it
  // is staged would throw here, and one staged differently would give other parameters.
  const floatTargets = (n: number, shape: ReadonlyArray<number>, seed: number): Tensor =>
    T.random.uniform(T.random.key(seed), [n, ...shape])
  const rows: ReadonlyArray<{
    readonly name: string
    readonly model: Layer<unknown, unknown>
    readonly inShape: ReadonlyArray<number>
    readonly x: Tensor
    readonly y: Tensor
    readonly loss: LossFunction
    readonly regularizer?: (params: unknown) => Tensor
  }> = [
    {
      name: 'activations, layerNorm, residual, parallel; quadraticCost, l1Penalty',
      model: sequential(
        dense(8),
        layerNorm(),
        gelu(),
        residual(sequential(dense(8), elu())),
        parallel(sequential(dense(4), silu()), sequential(dense(4), tanh()), leakyRelu()),
        dense(3),
        sigmoid(),
      ) as Layer<unknown, unknown>,
      inShape: [5],
      x: T.random.normal(T.random.key(1), [6, 5]),
      y: floatTargets(6, [3], 2),
      loss: quadraticCost,
      regularizer: (p) => l1Penalty(p, 1e-3),
    },
    {
      name: 'conv, avgPool, globalAvgPool, softmax; huber',
      model: sequential(
        conv2d(3, 3, { padding: 'same' }),
        avgPool2d({ kernelSize: 2 }),
        conv2d(4, 1),
        globalAvgPool2d(),
        softmax(),
      ) as Layer<unknown, unknown>,
      inShape: [2, 4, 4],
      x: T.random.normal(T.random.key(3), [4, 2, 4, 4]),
      y: floatTargets(4, [4], 4),
      loss: huber,
    },
    {
      name: 'embedding (int32 inputs); sigmoidBinaryCrossEntropy',
      model: sequential(embedding(7, 3), flatten(), dense(2)) as Layer<unknown, unknown>,
      inShape: [4],
      x: T.random.randint(T.random.key(5), [6, 4], 0, 7),
      y: floatTargets(6, [2], 6),
      loss: sigmoidBinaryCrossEntropy,
    },
    {
      name: 'crossEntropy with soft labels and label smoothing',
      model: dense(3) as Layer<unknown, unknown>,
      inShape: [5],
      x: T.random.normal(T.random.key(7), [6, 5]),
      y: T.random.uniform(T.random.key(8), [6, 3]),
      loss: (output, labels) => crossEntropy(output, labels, { labelSmoothing: 0.1 }),
    },
  ]
  for (const row of rows)
    it(row.name, () => {
      const { params, state } = init(row.model, T.random.key(0), row.inShape)
      const optimizer = sgd(0.1)
      const common = {
        model: row.model,
        loss: row.loss,
        optimizer,
        ...(row.regularizer === undefined ? {} : { regularizer: row.regularizer }),
      }
      const batch = { x: row.x, y: row.y }
      const optState = optimizer.init(params)
      const a = makeTrainStep({ ...common, jit: false })(params, state, optState, batch)
      const b = makeTrainStep(common)(params, state, optState, batch)
      expect(maxDifference(params, a.params)).toBeGreaterThan(1e-6)
      expect(maxDifference(a.params, b.params)).toBeLessThan(1e-6)
      expect(b.metrics.loss).toBeCloseTo(a.metrics.loss, 6)
    })
})

describe('the optimizer update is staged with the step', () => {
  // Optimizer state holds its step count as an int32 scalar tensor, data rather than a fixed value
  // of jit's signature: a staged update traces once, then reuses its graph as the count grows.
  it('a jitted adam update with a schedule traces once and follows the eager update', () => {
    const optimizer = adamw(cosineDecay({ init: 0.05, decaySteps: 10 }), { weightDecay: 0.1 })
    const params = { weight: T.random.normal(T.random.key(0), [3, 2]) }
    const grads = { weight: T.random.normal(T.random.key(1), [3, 2]) }
    type State = ReturnType<typeof optimizer.init>
    const update = O.jit((g: typeof grads, s: State, p: typeof params) => applyGradients(optimizer, g, s, p))
    let staged: readonly [typeof params, State] = [params, optimizer.init(params)]
    let eager = staged
    for (let step = 0; step < 4; step++) {
      staged = update(grads, staged[1], staged[0])
      eager = applyGradients(optimizer, grads, eager[1], eager[0])
    }
    expect(update.stats()).toMatchObject({ traces: 1, hits: 3 })
    expect(T.item(staged[1].count)).toBe(4)
    expect(maxDifference(staged[0], eager[0])).toBeLessThan(1e-6)
    expect(maxDifference(staged[0], params)).toBeGreaterThan(1e-2)
  })

  it('the staged step holds the update: its graph returns the new params and optimizer state', () => {
    const model = sequential(dense(4), relu(), dense(2))
    const { params, state } = init(model, T.random.key(0), [3])
    const optimizer = adam(0.01)
    const step = makeTrainStep({ model, loss: crossEntropy, optimizer })
    step(params, state, optimizer.init(params), dataset(4, [3], 2, 1))
    const graph = step.stats()!.lastGraph!
    // params (4 leaves), optimizer state (count, mu, nu: 9), x, y in; loss, output, params, optimizer state out.
    expect(graph.inputs).toHaveLength(4 + 9 + 2)
    expect(graph.outputs).toHaveLength(2 + 4 + 9)
  })
})

describe('a whole training run, jitted (the default) and eager', () => {
  it('digits-sized MLP with dropout and batchNorm, adamw with a schedule: same losses over 4 epochs', () => {
    const model = sequential(
      dense(32, { useBias: false }),
      batchNorm(),
      relu(),
      dropout(0.2),
      dense(16, { activation: 'relu' }),
      dense(10),
    )
    const { params, state } = init(model, T.random.key(0), [64])
    const data = dataset(200, [64], 10, 4) // batches of 32: six full, one of 8
    const options = {
      model,
      loss: crossEntropy,
      optimizer: adamw(warmupCosineDecay({ init: 0, peak: 0.01, warmupSteps: 5, decaySteps: 28 }), {
        weightDecay: 1e-2,
      }),
      params,
      state,
      data,
      epochs: 4,
      batchSize: 32,
      key: T.random.key(9),
    }
    const losses: number[][] = [[], []]
    const record = (into: number[]) => ({
      onBatchEnd: (info: { readonly loss: number }) => {
        into.push(info.loss)
      },
    })
    const eager = fit({ ...options, jit: false, callbacks: [record(losses[0]!)] })
    const jitted = fit({ ...options, callbacks: [record(losses[1]!)] })
    expect(losses[1]).toHaveLength(28)
    losses[1]!.forEach((loss, i) => expect(Math.abs(loss - losses[0]![i]!)).toBeLessThan(1e-4))
    jitted.history.forEach((r, i) => expect(r.loss).toBeCloseTo(eager.history[i]!.loss, 5))
    expect(maxDifference(eager.params, jitted.params)).toBeLessThan(1e-4)
    expect(maxDifference(eager.optState, jitted.optState)).toBeLessThan(1e-4)
    expect(T.item((jitted.optState as { count: Tensor }).count)).toBe(28)
    // It learned something (the comparison is not between two runs that did nothing).
    expect(jitted.history[3]!.loss).toBeLessThan(jitted.history[0]!.loss)
  })
})

describe('validation staged with the step', () => {
  it('computes the validation loss in the staged pass (traced once), with evaluate’s loss and accuracy', () => {
    const model = sequential(dense(16, { activation: 'relu' }), dense(5))
    const { params, state } = init(model, T.random.key(3), [8])
    const data = dataset(64, [8], 5, 11)
    const validationData = dataset(50, [8], 5, 12) // two validation batches of 32: 32 and 18
    let lossCalls = 0
    const countedLoss: LossFunction = (output, labels) => {
      lossCalls++
      return crossEntropy(output, labels)
    }
    const run = (epochs: number) => {
      lossCalls = 0
      const result = fit({
        model,
        loss: countedLoss,
        optimizer: adam(1e-2),
        params,
        state,
        data,
        validationData,
        validationBatchSize: 32,
        epochs,
        batchSize: 32,
        key: T.random.key(5),
      })
      return { result, calls: lossCalls }
    }
    const short = run(2)
    const long = run(5)
    // Traced once for the step and once for the validation pass, however many epochs.
    expect(long.calls).toBe(short.calls)
    for (const record of long.result.history) {
      const epoch = record.epoch
      const trained = run(epoch + 1).result
      const want = evaluate(model, trained.params, trained.state, validationData, {
        loss: crossEntropy,
        batchSize: 32,
      })
      expect(record.valAccuracy).toBe(want['accuracy'])
      expect(Math.abs(record.valLoss! - want['loss']!)).toBeLessThan(1e-6 * Math.max(1, want['loss']!))
    }
  })
})

describe("errors in a staged step name the user's code", () => {
  const model = dense(3)
  const { params, state } = init(model, T.random.key(0), [2])
  const batch = { x: T.zeros([4, 2]), y: T.zeros([4, 3]) }
  it('a mis-shaped loss function, by its name', () => {
    const myLoss: LossFunction = (output, labels) => O.mean(O.add(output, O.sum(labels, { axis: 1 })))
    const step = makeTrainStep({ model, loss: myLoss, optimizer: sgd(0.1) })
    expect(() => step(params, state, sgd(0.1).init(params), batch)).toThrow(
      /^while staging function trainStep: in the loss function myLoss: add: /,
    )
    const eager = makeTrainStep({ model, loss: myLoss, optimizer: sgd(0.1), jit: false })
    expect(() => eager(params, state, sgd(0.1).init(params), batch)).toThrow(
      /^in the loss function myLoss: add: /,
    )
  })
  it('a model given inputs of the wrong shape: the forward pass, and the layer kind', () => {
    const step = makeTrainStep({ model, loss: meanSquaredError, optimizer: sgd(0.1) })
    expect(() => step(params, state, sgd(0.1).init(params), { x: T.zeros([4, 5]), y: batch.y })).toThrow(
      /^while staging function trainStep: in the model's forward pass \(dense\): /,
    )
  })
})

describe('makeTrainStep with donate', () => {
  const optimizer = adam(1e-2)
  const withBatchNorm = {
    model: sequential(dense(16, { activation: 'relu' }), batchNorm(), dense(4)) as Layer<unknown, unknown>,
    data: dataset(64, [8], 4, 3),
  }

  /** `steps` steps on batches of 16 of `setup.data`, each given the trees the step before returned. */
  const run = (donate: boolean, jit: boolean, steps: number, setup = withBatchNorm) => {
    const { model, data } = setup
    const built = init(model, T.random.key(5), [8])
    const step = makeTrainStep({ model, loss: crossEntropy, optimizer, donate, jit })
    let params = built.params
    let state = built.state
    let optState = optimizer.init(params)
    const donated: Tensor[] = []
    for (let i = 0; i < steps; i++) {
      const r = step(params, state, optState, batchOf(data, (i % 4) * 16, (i % 4) * 16 + 16))
      donated.push(...T.flatten(params).leaves)
      params = r.params
      state = r.state
      optState = r.optState
    }
    return { params, state, optState, donated, step }
  }

  it('gives the same training as without donation, jitted and eager, and invalidates what it was given', () => {
    const plain = run(false, true, 6)
    for (const jit of [true, false]) {
      const given = run(true, jit, 6)
      expect(maxDifference(given.params, plain.params)).toBeLessThan(1e-5)
      expect(maxDifference(given.state, plain.state)).toBeLessThan(1e-5)
      for (const leaf of given.donated) expect(() => leaf.data).toThrow(/donated/)
    }
    for (const leaf of plain.donated) expect(leaf.data.length).toBeGreaterThan(0)
  })

  it('keeps the parameters and optimizer state in wasm memory: in steady state no tree is copied in or out', () => {
    if (!T.wasmAvailable()) return
    T.setBackend(T.wasmBackend)
    try {
      // No batchNorm (its statistics run as fallbacks that copy activations, more bytes than the
      // trees) and one-hot labels (int32 ones are one-hot encoded by a fallback): every equation but
      // Adam's scalar bookkeeping runs resident, so a step copies its batch, those scalars, its
      // unread logits, and whatever it copies of the trees. Two hidden widths: the trees grow 4x.
      const bytes = (tree: unknown) => 4 * T.flatten(tree).leaves.reduce((n, t) => n + T.sizeOf(t.shape), 0)
      const measured = [16, 64].map((width) => {
        const setup = {
          model: sequential(dense(width, { activation: 'relu' }), dense(4)) as Layer<unknown, unknown>,
          data: dataset(64, [8], 4, 3, { oneHot: true }),
        }
        const given = run(true, true, 6, setup)
        const kept = run(false, true, 6, setup)
        expect(given.step.stats()!.lastRun).toBe('resident')
        const donating = given.step.stats()!.lastExecutable!
        expect(donating.fallbackSteps).toBe(donating.scalarSteps)
        const batch = batchOf(setup.data, 0, 16)
        return {
          donating,
          copying: kept.step.stats()!.lastExecutable!,
          paramBytes: bytes(kept.params),
          batchBytes: bytes(batch),
          logitBytes: bytes(batch.y), // one-hot labels: the logits' shape
        }
      })
      for (const { donating, copying, paramBytes, batchBytes, logitBytes } of measured) {
        // Donating, in: the batch and at most one float32 per scalar step (Adam's bias corrections,
        // read by its update kernels); the trees are already where the step reads them. Out: at most
        // the logits of the step before (returned, not donated, never read: with one-hot labels the
        // step computes no accuracy); the old trees are given up, not copied out.
        expect(donating.bytesIn).toBeGreaterThanOrEqual(batchBytes)
        expect(donating.bytesIn).toBeLessThanOrEqual(batchBytes + 4 * donating.scalarSteps)
        expect(donating.bytesOut).toBeLessThanOrEqual(logitBytes)
        // Without donation the trees of the step before last are copied out before their buffers are
        // reused (the caller may still hold them): the parameters and Adam's two moments.
        expect(copying.bytesOut - donating.bytesOut).toBeGreaterThanOrEqual(3 * paramBytes)
      }
      // Trees 4x larger, not one byte more copied by the donating step.
      const [narrow, wide] = measured as [(typeof measured)[0], (typeof measured)[0]]
      expect(wide.paramBytes).toBeGreaterThan(3 * narrow.paramBytes)
      expect(wide.donating.bytesIn).toBe(narrow.donating.bytesIn)
      expect(wide.donating.bytesOut).toBe(narrow.donating.bytesOut)
    } finally {
      T.setBackend(undefined)
    }
  })
})
