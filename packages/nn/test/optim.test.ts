import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Tensor } from '@backfold/tensor'
import { weightsOnly } from '../src/losses/index'
import {
  adagrad,
  adam,
  adamw,
  addDecayedWeights,
  applyGradients,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  clipByValue,
  globalNorm,
  identity,
  momentum,
  nesterov,
  rmsprop,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  traceMomentum,
} from '../src/optim/index'
import type { GradientTransformation } from '../src/optim/transform'
import { make } from './helpers'

// ---------------------------------------------------------------------------------------------
// A two-tensor parameter tree, its flat-number view, and a gradient that depends on the params and
// the step (so every optimizer's trajectory depends on its whole history). The references below are
// plain number loops written from the published update equations; they share only `gradientAt`.

interface Params {
  readonly weight: Tensor
  readonly bias: Tensor
}

const toParams = (theta: ReadonlyArray<number>, dtype: DType = 'float64'): Params => ({
  weight: make([2, 3], theta.slice(0, 6), dtype),
  bias: make([3], theta.slice(6), dtype),
})
const flat = (p: Params): number[] => [...p.weight.data, ...p.bias.data]
const WEIGHT_COUNT = 6 // indices below this are the weight, the rest the bias

const initialTheta = [0.5, -1.2, 0.8, 2.0, -0.3, 0.1, 0.05, -0.4, 1.5]
const target = [1, 0.5, -1, 0, 0.3, -0.7, 0.2, 0.9, -0.1]
const gradientAt = (theta: ReadonlyArray<number>, step: number): number[] =>
  theta.map((v, i) => 2 * (v - target[i]!) * (1 + 0.5 * (i % 3)) + 0.3 * Math.cos(1.7 * step + i))

const STEPS = 6

/** Runs `steps` updates of `optimizer` from `initialTheta`, returning the final params and state. */
const run = <S>(
  optimizer: GradientTransformation<S>,
  steps = STEPS,
  dtype: DType = 'float64',
): { params: Params; state: S } => {
  let params = toParams(initialTheta, dtype)
  let state = optimizer.init(params)
  for (let step = 0; step < steps; step++) {
    const grads = toParams(gradientAt(flat(params), step), dtype)
    const [updates, next] = optimizer.update(grads, state, params)
    params = applyUpdates(params, updates)
    state = next
  }
  return { params, state }
}

/**
 * The reference loop: `step(θ, g, t)` returns the new θ given the gradient at step t (0-based) and
 * keeps its own slots in closure.
 */
const reference = (step: (theta: number[], g: number[], t: number) => number[], steps = STEPS): number[] => {
  let theta = [...initialTheta]
  for (let t = 0; t < steps; t++) theta = step(theta, gradientAt(theta, t), t)
  return theta
}

const maxError = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  expect(a.length).toBe(b.length)
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!) / Math.max(1, Math.abs(b[i]!))), 0)
}
const zerosFor = (): number[] => initialTheta.map(() => 0)

// ---------------------------------------------------------------------------------------------

describe('named optimizers against their published update equations (float64, several steps)', () => {
  it('sgd: θ ← θ − lr g', () => {
    const expected = reference((θ, g) => θ.map((v, i) => v - 0.1 * g[i]!))
    expect(maxError(flat(run(sgd(0.1)).params), expected)).toBeLessThan(1e-13)
  })

  it('sgd with a schedule uses the 0-based count of updates already applied', () => {
    const lrAt = (t: number): number => 0.2 * 0.5 ** t
    const expected = reference((θ, g, t) => θ.map((v, i) => v - lrAt(t) * g[i]!))
    // the same schedule written with ops, as optimizers call it on the count tensor
    const { params, state } = run(sgd((t) => O.mul(0.2, O.pow(0.5, t))))
    expect(maxError(flat(params), expected)).toBeLessThan(1e-13)
    expect(T.item(state.count)).toBe(STEPS)
    // a constant-rate run would differ: the test can tell whether the schedule was used
    expect(maxError(flat(run(sgd(0.2)).params), expected)).toBeGreaterThan(1e-3)
  })

  it('momentum (optax trace / PyTorch dampening 0): t ← g + β t, θ ← θ − lr t', () => {
    const trace = zerosFor()
    const expected = reference((θ, g) =>
      θ.map((v, i) => {
        trace[i] = g[i]! + 0.9 * trace[i]!
        return v - 0.05 * trace[i]!
      }),
    )
    const { params, state } = run(momentum(0.05, 0.9))
    expect(maxError(flat(params), expected)).toBeLessThan(1e-13)
    expect(maxError(flat(state.trace as Params), trace)).toBeLessThan(1e-13)
    expect(T.item(state.count)).toBe(STEPS)
  })

  it('nesterov (optax): t ← g + β t, θ ← θ − lr (g + β t)', () => {
    const trace = zerosFor()
    const expected = reference((θ, g) =>
      θ.map((v, i) => {
        trace[i] = g[i]! + 0.8 * trace[i]!
        return v - 0.05 * (g[i]! + 0.8 * trace[i]!)
      }),
    )
    expect(maxError(flat(run(nesterov(0.05, 0.8)).params), expected)).toBeLessThan(1e-13)
    // and it is not plain momentum
    expect(maxError(flat(run(momentum(0.05, 0.8)).params), expected)).toBeGreaterThan(1e-3)
  })

  const adamReference = (
    lr: number,
    b1: number,
    b2: number,
    eps: number,
    decay = 0,
    decayed = (_i: number) => true,
  ) => {
    const m = zerosFor()
    const v = zerosFor()
    return reference((θ, g, t) => {
      const step = t + 1
      return θ.map((value, i) => {
        m[i] = b1 * m[i]! + (1 - b1) * g[i]!
        v[i] = b2 * v[i]! + (1 - b2) * g[i]! ** 2
        const mHat = m[i]! / (1 - b1 ** step)
        const vHat = v[i]! / (1 - b2 ** step)
        // Loshchilov & Hutter's decoupled decay, scaled by the learning rate as optax does
        const wd = decayed(i) ? decay * value : 0
        return value - lr * (mHat / (Math.sqrt(vHat) + eps) + wd)
      })
    })
  }

  it('adam (Kingma & Ba, bias-corrected): defaults and custom b1, b2, eps (eps outside the root)', () => {
    expect(maxError(flat(run(adam(0.01)).params), adamReference(0.01, 0.9, 0.999, 1e-8))).toBeLessThan(1e-13)
    const custom = run(adam(0.02, { b1: 0.8, b2: 0.99, eps: 0.1 }))
    expect(maxError(flat(custom.params), adamReference(0.02, 0.8, 0.99, 0.1))).toBeLessThan(1e-13)
    expect(T.item(custom.state.count)).toBe(STEPS)
  })

  it('adamw (decoupled, as optax): θ ← θ − lr (m̂ / (√v̂ + eps) + wd θ)', () => {
    const expected = adamReference(0.01, 0.9, 0.999, 1e-8, 0.1)
    expect(maxError(flat(run(adamw(0.01, { weightDecay: 0.1 })).params), expected)).toBeLessThan(1e-13)
    // the default weight decay is 1e-4, on every parameter
    expect(maxError(flat(run(adamw(0.01)).params), adamReference(0.01, 0.9, 0.999, 1e-8, 1e-4))).toBeLessThan(
      1e-13,
    )
    // and decay is not the same as Adam on the loss plus an L2 penalty, nor plain Adam
    expect(maxError(flat(run(adam(0.01)).params), expected)).toBeGreaterThan(1e-5)
  })

  it('adamw honours include: weightsOnly decays the weight, not the bias', () => {
    const expected = adamReference(0.01, 0.9, 0.999, 1e-8, 0.5, (i) => i < WEIGHT_COUNT)
    const run1 = run(adamw(0.01, { weightDecay: 0.5, include: weightsOnly }))
    expect(maxError(flat(run1.params), expected)).toBeLessThan(1e-13)
  })

  it('rmsprop (optax): ν ← d ν + (1 − d) g², θ ← θ − lr g / √(ν + eps), eps inside the root', () => {
    const reference1 = (lr: number, decay: number, eps: number): number[] => {
      const nu = zerosFor()
      return reference((θ, g) =>
        θ.map((v, i) => {
          nu[i] = decay * nu[i]! + (1 - decay) * g[i]! ** 2
          return v - (lr * g[i]!) / Math.sqrt(nu[i]! + eps)
        }),
      )
    }
    expect(maxError(flat(run(rmsprop(0.01)).params), reference1(0.01, 0.9, 1e-8))).toBeLessThan(1e-13)
    const { params, state } = run(rmsprop(0.01, { decay: 0.7, eps: 0.5 }))
    expect(maxError(flat(params), reference1(0.01, 0.7, 0.5))).toBeLessThan(1e-13)
    expect(T.item(state.count)).toBe(STEPS)
  })

  it('adagrad (optax): G ← G + g² from 0.1, θ ← θ − lr g / √(G + eps)', () => {
    const reference1 = (lr: number, initial: number, eps: number): number[] => {
      const sum = initialTheta.map(() => initial)
      return reference((θ, g) =>
        θ.map((v, i) => {
          sum[i] = sum[i]! + g[i]! ** 2
          return v - (lr * g[i]!) / Math.sqrt(sum[i]! + eps)
        }),
      )
    }
    expect(maxError(flat(run(adagrad(0.1)).params), reference1(0.1, 0.1, 1e-7))).toBeLessThan(1e-13)
    const custom = run(adagrad(0.1, { initialAccumulator: 1, eps: 0.5 }))
    expect(maxError(flat(custom.params), reference1(0.1, 1, 0.5))).toBeLessThan(1e-13)
  })

  it('adagrad with a zero accumulator gives a zero update (not NaN) where no gradient arrived', () => {
    const optimizer = adagrad(0.1, { initialAccumulator: 0, eps: 0 })
    const params = toParams(initialTheta)
    const grads = toParams([0, 1, 0, 0, 0, 0, 0, -2, 0])
    const [updates] = optimizer.update(grads, optimizer.init(params), params)
    // + 0 turns the −0 of −lr · 0 into 0 for the comparison
    expect(flat(updates).map((v) => v + 0)).toEqual([0, -0.1, 0, 0, 0, 0, 0, 0.1, 0])
  })

  it('runs in float32: same trajectory to float32 precision, states and updates stay float32', () => {
    const { params, state } = run(adam(0.01), STEPS, 'float32')
    expect(params.weight.dtype).toBe('float32')
    expect((state.mu as Params).weight.dtype).toBe('float32')
    expect(maxError(flat(params), adamReference(0.01, 0.9, 0.999, 1e-8))).toBeLessThan(1e-5)
  })
})

describe('chain', () => {
  it('names its state after its keys: state.adam.mu has the params structure', () => {
    const optimizer = chain({ clip: clipByGlobalNorm(1), adam: adam(1e-3) })
    const params = toParams(initialTheta)
    const state = optimizer.init(params)
    expect(Object.keys(state)).toEqual(['clip', 'adam'])
    expect(state.clip).toEqual({})
    expect(T.item(state.adam.count)).toBe(0)
    const mu = state.adam.mu as Params
    expect(Object.keys(mu)).toEqual(['weight', 'bias'])
    expect(mu.weight.shape).toEqual([2, 3])
    expect(mu.bias.shape).toEqual([3])
    expect(flat(mu)).toEqual(zerosFor())
    // @ts-expect-error states are named records, never positional
    void state[1]
    // @ts-expect-error adam's state has count, mu and nu only
    void state.adam.momentum
    const [, next] = optimizer.update(toParams(gradientAt(initialTheta, 0)), state, params)
    expect(T.item(next.adam.count)).toBe(1)
    expect(flat(next.adam.nu as Params).every((v) => v > 0)).toBe(true)
  })

  it('applies its members in key order (clip, then adam) and matches the reference', () => {
    const maxNorm = 0.5
    const m = zerosFor()
    const v = zerosFor()
    const expected = reference((θ, g, t) => {
      const norm = Math.sqrt(g.reduce((s, x) => s + x * x, 0))
      const clipped = norm < maxNorm ? g : g.map((x) => (x / norm) * maxNorm)
      return θ.map((value, i) => {
        m[i] = 0.9 * m[i]! + 0.1 * clipped[i]!
        v[i] = 0.999 * v[i]! + 0.001 * clipped[i]! ** 2
        const mHat = m[i]! / (1 - 0.9 ** (t + 1))
        const vHat = v[i]! / (1 - 0.999 ** (t + 1))
        return value - (0.01 * mHat) / (Math.sqrt(vHat) + 1e-8)
      })
    })
    const clipped = run(chain({ clip: clipByGlobalNorm(maxNorm), adam: adam(0.01) }))
    expect(maxError(flat(clipped.params), expected)).toBeLessThan(1e-13)
    expect(T.item(clipped.state.adam.count)).toBe(STEPS)
  })

  it('builds the named optimizers from their parts: chain({ adam, lr }) is adam, chain({ momentum, lr }) is momentum', () => {
    const parts = run(chain({ adam: scaleByAdam({ b1: 0.8 }), lr: scaleByLearningRate(0.01) }))
    // adam folds the learning rate into its own pass (one rounding fewer): equal to float64 precision.
    expect(maxError(flat(parts.params), flat(run(adam(0.01, { b1: 0.8 })).params))).toBeLessThan(1e-15)
    expect(T.item(parts.state.lr.count)).toBe(STEPS)
    expect(T.item(parts.state.adam.count)).toBe(STEPS)
    const heavyBall = run(chain({ momentum: traceMomentum(0.9), lr: scaleByLearningRate(0.05) }))
    expect(flat(heavyBall.params)).toEqual(flat(run(momentum(0.05, 0.9)).params))
    const decoupled = run(
      chain({ adam: scaleByAdam(), decay: addDecayedWeights(0.1), lr: scaleByLearningRate(0.01) }),
    )
    expect(flat(decoupled.params)).toEqual(flat(run(adamw(0.01, { weightDecay: 0.1 })).params))
  })

  it('is pure: the same call twice gives the same result and leaves its inputs untouched', () => {
    const optimizer = chain({ clip: clipByValue(0.5), adam: adam(0.01) })
    const params = toParams(initialTheta)
    const grads = toParams(gradientAt(initialTheta, 0))
    const state = optimizer.update(grads, optimizer.init(params), params)[1]
    const before = [flat(params), flat(grads), flat(state.adam.mu as Params)]
    const [u1, s1] = optimizer.update(grads, state, params)
    const [u2, s2] = optimizer.update(grads, state, params)
    expect(flat(u1)).toEqual(flat(u2))
    expect(flat(s1.adam.nu as Params)).toEqual(flat(s2.adam.nu as Params))
    expect([flat(params), flat(grads), flat(state.adam.mu as Params)]).toEqual(before)
    expect(T.item(state.adam.count)).toBe(1)
  })
})

describe('elementary transformations', () => {
  it('identity passes gradients through; scale multiplies', () => {
    const params = toParams(initialTheta)
    const grads = toParams(gradientAt(initialTheta, 0))
    expect(flat(identity().update(grads, identity().init(params), params)[0])).toEqual(flat(grads))
    expect(flat(scale(-2).update(grads, {}, params)[0])).toEqual(flat(grads).map((g) => -2 * g))
  })

  it('scaleByLearningRate multiplies by −lr(count) and counts', () => {
    const transform = scaleByLearningRate((step) => O.mul(0.1, O.add(step, 1)))
    const params = toParams(initialTheta)
    const grads = toParams(gradientAt(initialTheta, 0))
    let state = transform.init(params)
    for (let step = 0; step < 3; step++) {
      const [updates, next] = transform.update(grads, state, params)
      expect(
        maxError(
          flat(updates),
          flat(grads).map((g) => -0.1 * (step + 1) * g),
        ),
      ).toBeLessThan(1e-15)
      expect(T.item(next.count)).toBe(step + 1)
      state = next
    }
  })

  it('addDecayedWeights adds wd · θ to every parameter by default, or to the included ones', () => {
    const params = toParams(initialTheta)
    const updates = toParams(gradientAt(initialTheta, 0))
    const all = addDecayedWeights(0.3).update(updates, {}, params)[0]
    expect(
      maxError(
        flat(all),
        flat(updates).map((u, i) => u + 0.3 * initialTheta[i]!),
      ),
    ).toBeLessThan(1e-15)
    const biasOnly = addDecayedWeights(0.3, { include: (name) => name === 'bias' }).update(
      updates,
      {},
      params,
    )[0]
    const expected = flat(updates).map((u, i) => (i < WEIGHT_COUNT ? u : u + 0.3 * initialTheta[i]!))
    expect(maxError(flat(biasOnly), expected)).toBeLessThan(1e-15)
  })

  it('clipByValue clips every element to [−max, max]', () => {
    const grads = toParams([-3, -0.5, 0, 0.2, 0.7, 5, -0.7, 0.69, 1])
    const [clipped] = clipByValue(0.7).update(grads, {}, grads)
    expect(flat(clipped)).toEqual([-0.7, -0.5, 0, 0.2, 0.7, 0.7, -0.7, 0.69, 0.7])
  })
})

describe('clipByGlobalNorm', () => {
  const tree = { a: make([1], [3]), b: make([1], [4]) }

  it('computes one norm over all tensors and rescales to maxNorm only when above it', () => {
    expect(globalNorm(tree).data[0]).toBe(5)
    const [clipped] = clipByGlobalNorm(1).update(tree, {}, tree)
    expect(clipped.a.data[0]).toBeCloseTo(0.6, 15)
    expect(clipped.b.data[0]).toBeCloseTo(0.8, 15)
    const [untouched] = clipByGlobalNorm(10).update(tree, {}, tree)
    expect([untouched.a.data[0], untouched.b.data[0]]).toEqual([3, 4])
    const [atBound] = clipByGlobalNorm(5).update(tree, {}, tree)
    expect(atBound.a.data[0]).toBeCloseTo(3, 14)
    expect(atBound.b.data[0]).toBeCloseTo(4, 14)
  })

  it('keeps each leaf dtype when float32 and float64 leaves are mixed', () => {
    const mixed = { a: make([2], [3, 0], 'float32'), b: make([1], [4], 'float64') }
    const [clipped] = clipByGlobalNorm(2.5).update(mixed, {}, mixed)
    expect(clipped.a.dtype).toBe('float32')
    expect(clipped.b.dtype).toBe('float64')
    expect(Array.from(clipped.a.data)).toEqual([1.5, 0])
    expect(clipped.b.data[0]).toBeCloseTo(2, 15)
  })

  it('gives norm min(‖g‖, maxNorm) and keeps the direction (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 9, maxLength: 9 }),
        fc.double({ min: 0.01, max: 20, noNaN: true }),
        (values, maxNorm) => {
          const grads = toParams(values)
          const [clipped] = clipByGlobalNorm(maxNorm).update(grads, {}, grads)
          const norm = Math.sqrt(values.reduce((s, v) => s + v * v, 0))
          const factor = norm < maxNorm ? 1 : maxNorm / norm
          expect(
            maxError(
              flat(clipped),
              values.map((v) => v * factor),
            ),
          ).toBeLessThan(1e-12)
        },
      ),
      { numRuns: 100 },
    )
  })

  it('rejects a non-positive maxNorm', () => {
    expect(() => clipByGlobalNorm(0)).toThrow(T.ValueError)
  })
})

describe('applyUpdates and errors', () => {
  it('adds updates to params, keeping each parameter dtype', () => {
    const params = toParams(initialTheta, 'float32')
    const updates = toParams(
      zerosFor().map((_, i) => i / 10),
      'float64',
    )
    const next = applyUpdates(params, updates)
    expect(next.weight.dtype).toBe('float32')
    expect(
      maxError(
        flat(next),
        initialTheta.map((v, i) => v + i / 10),
      ),
    ).toBeLessThan(1e-6)
  })

  it('rejects trees of different structure', () => {
    const params = toParams(initialTheta)
    const other = { weight: params.weight } as unknown as Params
    expect(() => applyUpdates(params, other)).toThrow(T.ValueError)
  })

  it('rejects optimizer state initialised for other parameters, naming the leaf', () => {
    const optimizer = adam(0.01)
    const state = optimizer.init({
      weight: make([2, 3], zerosFor().slice(0, 6)),
      bias: make([4], [0, 0, 0, 0]),
    })
    const params = toParams(initialTheta)
    expect(() => optimizer.update(params, state, params)).toThrow(T.ShapeError)
    expect(() => optimizer.update(params, state, params)).toThrow(/bias/)
    const wrongStructure = optimizer.init({ weight: params.weight })
    expect(() => optimizer.update(params, wrongStructure, params)).toThrow(T.ValueError)
  })

  it('rejects bad hyperparameters', () => {
    expect(() => adam(0.01, { b1: 1 })).toThrow(T.ValueError)
    expect(() => adam(Number.NaN)).toThrow(T.ValueError)
    expect(() => momentum(0.1, -0.5)).toThrow(T.ValueError)
    expect(() => rmsprop(0.1, { decay: 2 })).toThrow(T.ValueError)
    expect(() => clipByValue(-1)).toThrow(T.ValueError)
  })

  // (construction, expected message): every optimizer, transformation and schedule refuses a
  // hyperparameter that would silently train wrong (climb the loss, divide by zero, never forget).
  const LR = /the learning rate must be a finite number > 0 or a schedule/
  const badHyperparameters: ReadonlyArray<readonly [string, () => unknown, RegExp]> = [
    ['adam(-1)', () => adam(-1), LR],
    ['adam(0)', () => adam(0), LR],
    ['adam(Infinity)', () => adam(Number.POSITIVE_INFINITY), LR],
    ['adamw(-1)', () => adamw(-1), LR],
    ['sgd(-0.1)', () => sgd(-0.1), LR],
    ['sgd(0)', () => sgd(0), LR],
    ["sgd('0.1') from JavaScript", () => Reflect.apply(sgd, undefined, ['0.1']), LR],
    ['momentum(-1)', () => momentum(-1), LR],
    ['nesterov(0)', () => nesterov(0), LR],
    ['rmsprop(-1)', () => rmsprop(-1), LR],
    ['adagrad(-1)', () => adagrad(-1), LR],
    ['scaleByLearningRate(0)', () => scaleByLearningRate(0), LR],
    ['adam b1 = 1', () => adam(0.01, { b1: 1 }), /adam: b1 must be a finite number in \[0, 1\), got 1/],
    ['adam b2 < 0', () => adam(0.01, { b2: -0.1 }), /adam: b2 must be a finite number in \[0, 1\)/],
    ['adam eps = 0', () => adam(0.01, { eps: 0 }), /adam: eps must be a finite number in \(0, Infinity\)/],
    ['adam epsRoot < 0', () => adam(0.01, { epsRoot: -1 }), /adam: epsRoot must be a finite number in \[0/],
    ['scaleByAdam eps < 0', () => scaleByAdam({ eps: -1e-8 }), /scaleByAdam: eps must be/],
    [
      'adamw weightDecay < 0',
      () => adamw(0.01, { weightDecay: -1 }),
      /addDecayedWeights: weightDecay must be a finite number in \[0/,
    ],
    [
      'momentum beta = 1',
      () => momentum(0.1, 1),
      /momentum: beta must be a finite number in \[0, 1\), got 1/,
    ],
    ['nesterov beta < 0', () => nesterov(0.1, -0.5), /nesterov: beta must be/],
    [
      'traceMomentum decay = 1',
      () => traceMomentum(1),
      /traceMomentum: decay must be a finite number in \[0, 1\)/,
    ],
    [
      'rmsprop decay = 1',
      () => rmsprop(0.1, { decay: 1 }),
      /rmsprop: decay must be a finite number in \[0, 1\)/,
    ],
    ['rmsprop eps = 0', () => rmsprop(0.1, { eps: 0 }), /rmsprop: eps must be a finite number in \(0/],
    ['adagrad eps < 0', () => adagrad(0.1, { eps: -1 }), /adagrad: eps must be/],
    [
      'adagrad initialAccumulator < 0',
      () => adagrad(0.1, { initialAccumulator: -1 }),
      /adagrad: initialAccumulator must be/,
    ],
    ['addDecayedWeights(-1)', () => addDecayedWeights(-1), /addDecayedWeights: weightDecay must be/],
    [
      'clipByGlobalNorm(0)',
      () => clipByGlobalNorm(0),
      /clipByGlobalNorm: maxNorm must be a finite number in \(0/,
    ],
    ['clipByValue(0)', () => clipByValue(0), /clipByValue: max must be a finite number in \(0/],
    ['clipByValue(NaN)', () => clipByValue(Number.NaN), /clipByValue: max must be/],
    ['scale(Infinity)', () => scale(Number.POSITIVE_INFINITY), /scale: factor must be a finite number/],
  ]
  it.each(badHyperparameters)('refuses %s at construction', (_label, make, expected) => {
    expect(make).toThrow(T.ValueError)
    expect(make).toThrow(expected)
  })

  it('accepts the boundary values that are meaningful', () => {
    expect(() => adam(1e-3, { b1: 0, b2: 0, epsRoot: 0 })).not.toThrow()
    expect(() => momentum(0.1, 0)).not.toThrow()
    expect(() => adagrad(0.1, { eps: 0, initialAccumulator: 0 })).not.toThrow() // safe: see the zero-accumulator test
    expect(() => addDecayedWeights(0)).not.toThrow()
    expect(() => sgd((step) => O.div(0.1, O.add(step, 1)))).not.toThrow()
  })

  it('a schedule may reach 0 (the end of a decay): the step leaves the parameters as they were', () => {
    const params = toParams(initialTheta)
    const decayed = sgd(() => T.scalar(0, 'float64'))
    const [updates] = decayed.update(params, decayed.init(params), params)
    expect(flat(applyUpdates(params, updates))).toEqual(flat(params))
  })

  it('the count is an int32 scalar tensor; a count saved as a number (backfold 0.2) is taken as that count', () => {
    const params = toParams(initialTheta)
    const optimizer = adam(0.01)
    const state = optimizer.init(params)
    expect([state.count.dtype, state.count.shape]).toEqual(['int32', []])
    const grads = toParams(gradientAt(initialTheta, 0))
    const fromTensor = optimizer.update(grads, { ...state, count: T.scalar(3, 'int32') }, params)
    const legacy = { ...state, count: 3 } as unknown as typeof state
    const fromNumber = optimizer.update(grads, legacy, params)
    expect(flat(fromNumber[0])).toEqual(flat(fromTensor[0]))
    expect(T.item(fromNumber[1].count)).toBe(4)
    // a different count gives a different bias correction: the test can tell the count was used
    expect(flat(optimizer.update(grads, state, params)[0])).not.toEqual(flat(fromTensor[0]))
    const broken = { ...state, count: 'three' } as unknown as typeof state
    expect(() => optimizer.update(grads, broken, params)).toThrow(/count must be an int32 scalar tensor/)
  })
})

describe('optimizer steps run eagerly and under transformations alike', () => {
  const g = T.random.normal(T.random.key(1), [4, 5])
  const m = T.random.normal(T.random.key(2), [4, 5])
  const v = T.random.uniform(T.random.key(3), [4, 5])
  const close = (a: Tensor, b: Tensor): void => {
    const bs = Array.from(b.data)
    Array.from(a.data).forEach((x, i) =>
      expect(Math.abs(x - bs[i]!)).toBeLessThanOrEqual(2e-6 * (1 + Math.abs(bs[i]!))),
    )
  }

  it('scaleByAdam: eager and traced steps agree in float32', () => {
    const adamT = scaleByAdam({ epsRoot: 1e-10 })
    const state = { count: T.scalar(4, 'int32'), mu: { w: m }, nu: { w: v } }
    const [eagerUpdates, eagerState] = adamT.update({ w: g }, state, { w: g })
    // Inside vjp the gradient is traced, so the update composes ops; its primal is the same step.
    const [traced] = O.vjp((x: Tensor) => adamT.update({ w: x }, state, { w: x })[0].w)(g)
    close(eagerUpdates.w, traced)
    const mu = eagerState.mu as { w: Tensor }
    close(mu.w, T.tensor(Array.from(m.data, (mi, i) => 0.9 * mi + 0.1 * g.data[i]!)))
  })

  it('an optimizer step stays differentiable (meta-gradients flow through adam and momentum)', () => {
    const x = T.tensor([0.3, -1.2, 2], 'float64')
    for (const opt of [adam(0.1), momentum(0.1, 0.9)] as ReadonlyArray<GradientTransformation<object>>) {
      const state0 = opt.init({ x })
      const [, state1] = opt.update({ x }, state0, { x }) // a non-zero history
      const stepped = (g: Tensor): Tensor =>
        O.sum(O.square(applyUpdates({ x }, opt.update({ x: g }, state1, { x })[0]).x))
      const check = O.checkVjp(stepped, [x])
      expect(check.ok).toBe(true)
    }
  })

  it('traceMomentum: g + decay·t', () => {
    const t = traceMomentum(0.9)
    const [next] = t.update({ w: g }, { trace: { w: m } }, { w: g })
    close(next.w, T.tensor(Array.from(g.data, (gi, i) => gi + 0.9 * m.data[i]!)))
  })
})

describe('applyGradients: update and apply in one pass where the optimizer can', () => {
  const params = { w: T.random.normal(T.random.key(11), [6, 5]), b: T.random.normal(T.random.key(12), [5]) }
  const grads = { w: T.random.normal(T.random.key(13), [6, 5]), b: T.random.normal(T.random.key(14), [5]) }
  const optimizers = [
    ['adam', adam(0.01), true],
    ['sgd', sgd(0.1), true],
    ['momentum', momentum(0.1, 0.9), true],
    ['nesterov', nesterov(0.1, 0.9), true],
    ['adamw', adamw(0.01, { weightDecay: 0.1 }), true],
    ['chain(clip, adam)', chain({ clip: clipByGlobalNorm(1), adam: adam(0.01) }), true],
    ['chain(adam-rule, lr)', chain({ adam: scaleByAdam(), lr: scaleByLearningRate(0.01) }), true],
    [
      'chain(lr, clip): last member has no fused step',
      chain({ lr: scaleByLearningRate(0.1), clip: clipByValue(1) }),
      false,
    ],
    ['rmsprop', rmsprop(0.01), true],
    ['scale (no fused step)', scale(-0.1), false],
  ] as ReadonlyArray<readonly [string, GradientTransformation<object>, boolean]>
  it.each(optimizers)(
    '%s: same step as update + applyUpdates, to float32 rounding, three steps',
    (_name, opt, fused) => {
      expect(opt.apply !== undefined).toBe(fused)
      let [p1, s1] = [params as typeof params, opt.init(params)]
      let [p2, s2] = [params as typeof params, opt.init(params)]
      for (let step = 0; step < 3; step++) {
        ;[p1, s1] = applyGradients(opt, grads, s1, p1)
        const [updates, next] = opt.update(grads, s2, p2)
        ;[p2, s2] = [applyUpdates(p2, updates), next]
      }
      for (const key of ['w', 'b'] as const) {
        const a = Array.from(p1[key].data)
        const b = Array.from(p2[key].data)
        expect(p1[key].dtype).toBe('float32')
        a.forEach((x, i) => expect(Math.abs(x - b[i]!)).toBeLessThanOrEqual(4e-7 * (1 + Math.abs(b[i]!))))
      }
    },
  )

  it('names parameters that do not match the gradients', () => {
    const opt = adam(0.01)
    const state = opt.init(params)
    const wrong = { w: T.zeros([5, 6]), b: params.b }
    expect(() => applyGradients(opt, grads, state, wrong)).toThrow(
      /params at 'w' has shape \[5, ?6\] but the gradient has shape \[6, ?5\]; pass the parameters/,
    )
  })

  it('differentiates through a fused-capable step (the traced path composes ops)', () => {
    const x = T.tensor([0.3, -1.2, 2], 'float64')
    for (const opt of [adam(0.1), sgd(0.1), momentum(0.1, 0.9)] as ReadonlyArray<
      GradientTransformation<object>
    >) {
      const state = opt.update({ x }, opt.init({ x }), { x })[1]
      const stepped = (g: Tensor): Tensor => O.sum(O.square(applyGradients(opt, { x: g }, state, { x })[0].x))
      expect(O.checkVjp(stepped, [x]).ok).toBe(true)
    }
  })
})
