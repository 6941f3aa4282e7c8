import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import * as T from '@backfold/tensor'
import {
  constant,
  cosineDecay,
  exponentialDecay,
  piecewiseConstant,
  warmupCosineDecay,
} from '../src/optim/schedules'

describe('constant', () => {
  it('gives the same value at every step', () => {
    const lr = constant(0.1)
    expect([0, 1, 1000].map((step) => lr(step))).toEqual([0.1, 0.1, 0.1])
  })
})

describe('piecewiseConstant', () => {
  it('multiplies by each scale from its boundary on (boundary inclusive), scales accumulating', () => {
    // boundaries given out of order on purpose: they are applied in increasing order
    const lr = piecewiseConstant({ init: 0.1, boundariesAndScales: { 200: 0.1, 100: 0.5 } })
    expect(lr(0)).toBe(0.1)
    expect(lr(99)).toBe(0.1)
    expect(lr(100)).toBeCloseTo(0.05, 15)
    expect(lr(199)).toBeCloseTo(0.05, 15)
    expect(lr(200)).toBeCloseTo(0.005, 15)
    expect(lr(10_000)).toBeCloseTo(0.005, 15)
  })

  it('rejects bad boundaries and negative scales', () => {
    expect(() => piecewiseConstant({ init: 1, boundariesAndScales: { 10: -1 } })).toThrow(T.ValueError)
    expect(() => piecewiseConstant({ init: 1, boundariesAndScales: { 1.5: 0.1 } })).toThrow(T.ValueError)
  })
})

describe('exponentialDecay', () => {
  it('decays smoothly as init · rate^(step / transitionSteps)', () => {
    const lr = exponentialDecay({ init: 0.2, decayRate: 0.5, transitionSteps: 10 })
    expect(lr(0)).toBe(0.2)
    expect(lr(10)).toBeCloseTo(0.1, 15)
    expect(lr(5)).toBeCloseTo(0.2 * Math.SQRT1_2, 15)
    expect(lr(25)).toBeCloseTo(0.2 * 0.5 ** 2.5, 15)
  })

  it('with staircase decays in jumps every transitionSteps', () => {
    const lr = exponentialDecay({ init: 0.2, decayRate: 0.5, transitionSteps: 10, staircase: true })
    expect(lr(9)).toBe(0.2)
    expect(lr(10)).toBeCloseTo(0.1, 15)
    expect(lr(19)).toBeCloseTo(0.1, 15)
    expect(lr(25)).toBeCloseTo(0.05, 15)
  })

  it('holds init until transitionBegin and never passes endValue', () => {
    const lr = exponentialDecay({
      init: 1,
      decayRate: 0.5,
      transitionSteps: 1,
      transitionBegin: 5,
      endValue: 0.1,
    })
    expect(lr(0)).toBe(1)
    expect(lr(5)).toBe(1)
    expect(lr(6)).toBe(0.5)
    expect(lr(8)).toBe(0.125)
    expect(lr(9)).toBe(0.1)
    expect(lr(100)).toBe(0.1)
    const growing = exponentialDecay({ init: 1, decayRate: 2, transitionSteps: 1, endValue: 5 })
    expect(growing(2)).toBe(4)
    expect(growing(3)).toBe(5)
  })

  it('rejects non-positive transitionSteps and decayRate', () => {
    expect(() => exponentialDecay({ init: 1, decayRate: 0.5, transitionSteps: 0 })).toThrow(T.ValueError)
    expect(() => exponentialDecay({ init: 1, decayRate: 0, transitionSteps: 10 })).toThrow(T.ValueError)
  })
})

describe('cosineDecay', () => {
  it('follows init · ½(1 + cos(π step / decaySteps)) and then stays at the end', () => {
    const lr = cosineDecay({ init: 2, decaySteps: 100 })
    expect(lr(0)).toBe(2)
    expect(lr(25)).toBeCloseTo(2 * 0.8535533905932737, 15)
    expect(lr(50)).toBeCloseTo(1, 15)
    expect(lr(75)).toBeCloseTo(2 * 0.14644660940672627, 15)
    expect(lr(100)).toBeCloseTo(0, 15)
    expect(lr(1000)).toBeCloseTo(0, 15)
  })

  it('with alpha ends at alpha · init', () => {
    const lr = cosineDecay({ init: 2, decaySteps: 100, alpha: 0.1 })
    expect(lr(0)).toBeCloseTo(2, 15)
    expect(lr(50)).toBeCloseTo(2 * (0.9 * 0.5 + 0.1), 15)
    expect(lr(100)).toBeCloseTo(0.2, 15)
    expect(lr(500)).toBeCloseTo(0.2, 15)
  })

  it('is non-increasing in the step (property)', () => {
    const lr = cosineDecay({ init: 1, decaySteps: 50, alpha: 0.2 })
    fc.assert(
      fc.property(fc.nat(200), fc.nat(200), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a]
        expect(lr(hi)).toBeLessThanOrEqual(lr(lo) + 1e-15)
      }),
    )
  })

  it('rejects non-positive decaySteps', () => {
    expect(() => cosineDecay({ init: 1, decaySteps: 0 })).toThrow(T.ValueError)
  })
})

describe('warmupCosineDecay', () => {
  it('rises linearly from init to peak, then cosine-decays to end over decaySteps − warmupSteps', () => {
    const lr = warmupCosineDecay({ init: 0, peak: 1, warmupSteps: 10, decaySteps: 110, end: 0.1 })
    expect(lr(0)).toBe(0)
    expect(lr(5)).toBeCloseTo(0.5, 15)
    expect(lr(9)).toBeCloseTo(0.9, 15)
    expect(lr(10)).toBeCloseTo(1, 15)
    // half-way through the 100 decay steps: end + (peak − end) · ½
    expect(lr(60)).toBeCloseTo(0.1 + 0.9 * 0.5, 15)
    // a quarter of the way: end + (peak − end) · ½(1 + cos(π/4))
    expect(lr(35)).toBeCloseTo(0.1 + 0.9 * 0.8535533905932737, 15)
    expect(lr(110)).toBeCloseTo(0.1, 15)
    expect(lr(1000)).toBeCloseTo(0.1, 15)
  })

  it('starts from a non-zero init and defaults end to 0', () => {
    const lr = warmupCosineDecay({ init: 0.2, peak: 1, warmupSteps: 4, decaySteps: 8 })
    expect(lr(0)).toBeCloseTo(0.2, 15)
    expect(lr(2)).toBeCloseTo(0.6, 15)
    expect(lr(6)).toBeCloseTo(0.5, 15)
    expect(lr(8)).toBeCloseTo(0, 15)
  })

  it('rejects decaySteps that do not exceed warmupSteps (decaySteps is the total length)', () => {
    expect(() => warmupCosineDecay({ init: 0, peak: 1, warmupSteps: 10, decaySteps: 10 })).toThrow(
      /total length/,
    )
  })
})

describe('schedule hyperparameters', () => {
  it.each([
    ['constant(NaN)', () => constant(Number.NaN), /constant: value must be a finite number/],
    [
      'cosineDecay decaySteps 0',
      () => cosineDecay({ init: 1, decaySteps: 0 }),
      /cosineDecay: decaySteps must be/,
    ],
    [
      'exponentialDecay decayRate 0',
      () => exponentialDecay({ init: 1, decayRate: 0, transitionSteps: 1 }),
      /exponentialDecay: decayRate must be/,
    ],
    [
      'warmupCosineDecay decaySteps <= warmupSteps',
      () => warmupCosineDecay({ init: 0, peak: 1, warmupSteps: 10, decaySteps: 5 }),
      /warmupCosineDecay: decaySteps \(5\) must exceed warmupSteps \(10\)/,
    ],
    [
      'piecewiseConstant boundariesAndScales missing',
      () => Reflect.apply(piecewiseConstant, undefined, [{ init: 1 }]),
      /piecewiseConstant: option 'boundariesAndScales' is required/,
    ],
  ] as const)('refuses %s', (_label, make, expected) => {
    expect(make).toThrow(T.ValueError)
    expect(make).toThrow(expected)
  })
})

describe('every schedule on the count tensor', () => {
  // Optimizers call a schedule on the step count as a float64 scalar tensor (so jit stages it);
  // the formula is the same one as on numbers, computed by ops in float64.
  const schedules = [
    ['constant', constant(0.1)],
    ['piecewiseConstant', piecewiseConstant({ init: 0.1, boundariesAndScales: { 200: 0.1, 100: 0.5 } })],
    ['exponentialDecay', exponentialDecay({ init: 0.2, decayRate: 0.5, transitionSteps: 10 })],
    [
      'exponentialDecay (staircase, begin, end)',
      exponentialDecay({
        init: 1,
        decayRate: 0.5,
        transitionSteps: 3,
        staircase: true,
        transitionBegin: 5,
        endValue: 0.1,
      }),
    ],
    ['cosineDecay', cosineDecay({ init: 0.1, decaySteps: 1000, alpha: 0.1 })],
    [
      'warmupCosineDecay',
      warmupCosineDecay({ init: 0, peak: 1e-3, warmupSteps: 100, decaySteps: 1000, end: 1e-5 }),
    ],
    [
      'warmupCosineDecay (no warm-up)',
      warmupCosineDecay({ init: 0, peak: 1, warmupSteps: 0, decaySteps: 10 }),
    ],
  ] as const
  it.each(schedules)('%s: a float64 scalar tensor, equal to the number formula', (_name, lr) => {
    for (const step of [0, 1, 4, 5, 6, 9, 10, 11, 25, 99, 100, 101, 199, 200, 500, 999, 1000, 5000]) {
      const value = lr(T.scalar(step, 'float64'))
      expect([value.dtype, value.shape]).toEqual(['float64', []])
      expect(T.item(value)).toBeCloseTo(lr(step), 15)
    }
  })
})
