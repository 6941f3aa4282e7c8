import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { random, stack, unsafeTensor, zeros, type DType, type Tensor } from '@backfold/tensor'
import { grad } from '../src/transforms/grad'
import { vmap } from '../src/transforms/vmap'
import { sum } from '../src/reduce/sum'
import { mul } from '../src/binary/mul'
import { applyOp } from '../src/core/op'
import {
  softmaxCrossEntropy,
  softmaxCrossEntropyOp,
  softmaxCrossEntropyWithIntegerLabels,
} from '../src/losses/index'
import { eagerOutcome, stagedOutcome } from './abstractOutcome'

const f64 = (values: ReadonlyArray<number>, shape: ReadonlyArray<number> = [values.length]): Tensor =>
  unsafeTensor('float64', shape, Float64Array.from(values))
const i32 = (values: ReadonlyArray<number>, shape: ReadonlyArray<number> = [values.length]): Tensor =>
  unsafeTensor('int32', shape, Int32Array.from(values))
const valuesOf = (x: Tensor): number[] => Array.from(x.data)
const expectClose = (got: ReadonlyArray<number>, want: ReadonlyArray<number>, digits = 12): void => {
  expect(got.length).toBe(want.length)
  got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, digits))
}

/** Iterates over the slices along `axis`: calls `visit` with the flat index of each element of one slice. */
const forEachSlice = (
  shape: ReadonlyArray<number>,
  axis: number,
  visit: (at: (k: number) => number, slice: number) => void,
): void => {
  const size = shape[axis]!
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1)
  const outer = shape.reduce((p, d) => p * d, 1) / (size * inner)
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) visit((k) => (o * size + k) * inner + i, o * inner + i)
}

/** Naive −Σ labels · log softmax(logits) per slice, plus softmax and log-softmax, with direct loops. */
const reference = (logits: Tensor, labels: Tensor, axis: number) => {
  const shape = logits.shape
  const size = shape[axis]!
  const loss = new Array<number>(logits.data.length / size).fill(0)
  const probs = new Array<number>(logits.data.length)
  const logProbs = new Array<number>(logits.data.length)
  forEachSlice(shape, axis, (at, slice) => {
    let max = -Infinity
    for (let k = 0; k < size; k++) max = Math.max(max, logits.data[at(k)]!)
    let total = 0
    for (let k = 0; k < size; k++) total += Math.exp(logits.data[at(k)]! - max)
    const lse = max + Math.log(total)
    for (let k = 0; k < size; k++) {
      logProbs[at(k)] = logits.data[at(k)]! - lse
      probs[at(k)] = Math.exp(logProbs[at(k)]!)
      loss[slice]! -= labels.data[at(k)]! * logProbs[at(k)]!
    }
  })
  return { loss, probs, logProbs }
}

/** Random label distributions along `axis`. */
const softLabels = (seed: number, shape: ReadonlyArray<number>, axis: number): Tensor => {
  const raw = random.uniform(random.key(seed), shape, { min: 0.1, max: 1, dtype: 'float64' }).data
  const out = new Float64Array(raw.length)
  forEachSlice(shape, axis, (at) => {
    let total = 0
    for (let k = 0; k < shape[axis]!; k++) total += raw[at(k)]!
    for (let k = 0; k < shape[axis]!; k++) out[at(k)] = raw[at(k)]! / total
  })
  return unsafeTensor('float64', shape, out)
}

describe('softmaxCrossEntropy', () => {
  for (const [shape, axis] of [
    [[4, 5], 1],
    [[4, 5], 0],
    [[2, 3, 4], 1],
  ] as const)
    it(`matches a naive reference and its gradients, shape [${shape}] axis ${axis}`, () => {
      const logits = random.normal(random.key(axis + 10), shape, { dtype: 'float64' })
      const labels = softLabels(axis + 20, shape, axis)
      const y = softmaxCrossEntropy(logits, labels, { axis })
      expect(y.shape).toEqual(shape.filter((_, i) => i !== axis))
      const want = reference(logits, labels, axis)
      expectClose(valuesOf(y), want.loss, 13)
      // With Σ labels = 1: d/dlogits = softmax − labels; d/dlabels = −logSoftmax.
      const [gLogits, gLabels] = grad((a: Tensor, b: Tensor) => sum(softmaxCrossEntropy(a, b, { axis })), {
        argnums: [0, 1],
      })(logits, labels)
      expectClose(
        valuesOf(gLogits),
        want.probs.map((p, i) => p - labels.data[i]!),
        13,
      )
      expectClose(
        valuesOf(gLabels),
        want.logProbs.map((v) => -v),
        13,
      )
    })

  it('scales the softmax by the label mass for unnormalised labels', () => {
    const logits = f64([0.5, -1, 2], [1, 3])
    const labels = f64([1, 2, 0.5], [1, 3])
    const want = reference(logits, labels, 1)
    expectClose(valuesOf(softmaxCrossEntropy(logits, labels)), want.loss, 14)
    const g = grad((a: Tensor) => sum(softmaxCrossEntropy(a, labels)))(logits)
    expectClose(
      valuesOf(g),
      want.probs.map((p, i) => 3.5 * p - labels.data[i]!),
      14,
    )
  })

  it('is finite with logits of ±1000, and so are its gradients', () => {
    const logits = f64([1000, -1000, -1000, 1000], [2, 2])
    const labels = f64([1, 0, 1, 0], [2, 2])
    expect(valuesOf(softmaxCrossEntropy(logits, labels))).toEqual([0, 2000])
    const [gLogits, gLabels] = grad((a: Tensor, b: Tensor) => sum(softmaxCrossEntropy(a, b)), {
      argnums: [0, 1],
    })(logits, labels)
    expect(valuesOf(gLogits)).toEqual([0, 0, -1, 1])
    expect(valuesOf(gLabels)).toEqual([-0, 2000, 2000, -0])
  })

  it('allows a logit of −∞ for a class whose label is 0 (a masked class)', () => {
    const logits = f64([2, -Infinity, 0])
    const labels = f64([1, 0, 0])
    const y = valuesOf(softmaxCrossEntropy(logits, labels))[0]!
    expect(y).toBeCloseTo(Math.log(1 + Math.exp(-2)), 14)
    const g = grad((a: Tensor) => sum(softmaxCrossEntropy(a, labels)))(logits)
    for (const v of valuesOf(g)) expect(Number.isFinite(v)).toBe(true)
  })

  it('keeps float32 for float32 inputs', () => {
    const logits = unsafeTensor('float32', [1, 2], Float32Array.from([1, 2]))
    const labels = unsafeTensor('float32', [1, 2], Float32Array.from([0, 1]))
    const y = softmaxCrossEntropy(logits, labels)
    expect(y.dtype).toBe('float32')
    expect(valuesOf(y)[0]).toBeCloseTo(Math.log(1 + Math.exp(-1)), 6)
  })

  it('rejects labels of another shape with a ShapeError naming both shapes', () => {
    let caught: unknown
    try {
      softmaxCrossEntropy(f64([1, 2, 3, 4, 5, 6], [2, 3]), f64([1, 0, 0], [3]))
    } catch (e) {
      caught = e
    }
    expect(caught).toMatchObject({ kind: 'ShapeError', op: 'softmaxCrossEntropy' })
    expect((caught as Error).message).toContain('[2,3]')
    expect((caught as Error).message).toContain('[3]')
  })
})

describe('softmaxCrossEntropyWithIntegerLabels', () => {
  it('equals logsumexp(logits) − logits[label], and its gradient is softmax − oneHot', () => {
    const logits = random.normal(random.key(30), [3, 4], { dtype: 'float64' })
    const labels = i32([2, 0, 3])
    const oneHot = f64([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1], [3, 4])
    const want = reference(logits, oneHot, 1)
    expectClose(valuesOf(softmaxCrossEntropyWithIntegerLabels(logits, labels)), want.loss, 13)
    const g = grad((a: Tensor) => sum(softmaxCrossEntropyWithIntegerLabels(a, labels)))(logits)
    expectClose(
      valuesOf(g),
      want.probs.map((p, i) => p - oneHot.data[i]!),
      13,
    )
  })

  it('puts the classes on any axis', () => {
    const logits = random.normal(random.key(31), [4, 2, 3], { dtype: 'float64' })
    const labels = i32([0, 3, 1, 2, 2, 0], [2, 3])
    const oneHot = new Float64Array(24)
    labels.data.forEach((label, j) => (oneHot[label * 6 + j] = 1))
    const want = reference(logits, unsafeTensor('float64', [4, 2, 3], oneHot), 0)
    const y = softmaxCrossEntropyWithIntegerLabels(logits, labels, { axis: 0 })
    expect(y.shape).toEqual([2, 3])
    expectClose(valuesOf(y), want.loss, 13)
  })

  it('is finite for logits of ±1000', () => {
    const y = softmaxCrossEntropyWithIntegerLabels(f64([1000, -1000, -1000, 1000], [2, 2]), i32([0, 0]))
    expect(valuesOf(y)).toEqual([0, 2000])
  })

  it('rejects an out-of-range label with a ValueError naming it', () => {
    const logits = f64([1, 2, 3, 4, 5, 6], [2, 3])
    for (const bad of [3, -1]) {
      let caught: unknown
      try {
        softmaxCrossEntropyWithIntegerLabels(logits, i32([0, bad]))
      } catch (e) {
        caught = e
      }
      expect(caught).toMatchObject({ kind: 'ValueError', op: 'softmaxCrossEntropyWithIntegerLabels' })
      // The range is checked by the oneHot op (so batched labels are checked too); the message names the value.
      expect((caught as Error).message).toContain(`index ${bad}`)
      expect((caught as Error).message).toContain('logits shape [2,3]')
    }
  })

  it('rejects float labels (DTypeError) and labels of the wrong shape (ShapeError)', () => {
    const logits = f64([1, 2, 3, 4, 5, 6], [2, 3])
    expect(() => softmaxCrossEntropyWithIntegerLabels(logits, f64([0, 1]))).toThrow(
      expect.objectContaining({ kind: 'DTypeError' }),
    )
    expect(() => softmaxCrossEntropyWithIntegerLabels(logits, i32([0, 1, 2]))).toThrow(
      expect.objectContaining({ kind: 'ShapeError' }),
    )
  })
})

describe('the losses under vmap', () => {
  /** `count` examples of `shape` drawn from `draw`, and their batch stacked along `axis` (null: one shared example). */
  const examples = (
    count: number,
    axis: number | null,
    draw: (i: number) => Tensor,
  ): { readonly each: Tensor[]; readonly batch: Tensor } => {
    if (axis === null) {
      const shared = draw(0)
      return { each: Array.from({ length: count }, () => shared), batch: shared }
    }
    const each = Array.from({ length: count }, (_, i) => draw(i))
    return { each, batch: stack(each, axis) }
  }
  const expectStacked = (batched: Tensor, perExample: ReadonlyArray<Tensor>): void => {
    const want = stack(perExample)
    expect(batched.shape).toEqual(want.shape)
    expectClose(valuesOf(batched), valuesOf(want), 13)
  }

  // Example shape [3, 4]: every class axis, every batch position of either input, shared labels.
  for (const classAxis of [0, 1])
    for (const [logitsAxis, labelsAxis] of [
      [0, 0],
      [2, 2],
      [1, 1],
      [0, 2],
      [2, 0],
      [1, null],
      [2, null],
      [null, 1],
    ] as const)
      it(`softmaxCrossEntropy, classes on axis ${classAxis}, inAxes [${logitsAxis}, ${labelsAxis}]: the per-example losses stacked`, () => {
        const count = 3
        const logits = examples(count, logitsAxis, (i) =>
          random.normal(random.key(40 + i), [3, 4], { dtype: 'float64' }),
        )
        const labels = examples(count, labelsAxis, (i) => softLabels(50 + i, [3, 4], classAxis))
        const loss = (a: Tensor, b: Tensor): Tensor => softmaxCrossEntropy(a, b, { axis: classAxis })
        const batched = vmap(loss, { inAxes: [logitsAxis, labelsAxis] })(logits.batch, labels.batch)
        expectStacked(
          batched,
          logits.each.map((a, i) => loss(a, labels.each[i]!)),
        )
      })

  it('vmap(grad) of softmaxCrossEntropy with classes last (the fused VJP at first order) gives per-example gradients', () => {
    // Under vmap the VJP sees batches, not examples: it must take the ops path, not the fused kernel.
    const count = 3
    const logits = examples(count, 0, (i) => random.normal(random.key(60 + i), [2, 5], { dtype: 'float64' }))
    const labels = examples(count, 1, (i) => softLabels(70 + i, [2, 5], 1))
    const weights = f64([1, -2])
    const g = grad((a: Tensor, b: Tensor) => sum(mul(softmaxCrossEntropy(a, b), weights)), {
      argnums: [0, 1],
    })
    const [gLogits, gLabels] = vmap(g, { inAxes: [0, 1] })(logits.batch, labels.batch)
    const perExample = logits.each.map((a, i) => g(a, labels.each[i]!))
    expectStacked(
      gLogits,
      perExample.map(([ga]) => ga),
    )
    expectStacked(
      gLabels,
      perExample.map(([, gb]) => gb),
    )
  })

  it('softmaxCrossEntropyWithIntegerLabels maps over integer labels that differ between examples', () => {
    const count = 3
    const logits = examples(count, 2, (i) =>
      random.normal(random.key(80 + i), [4, 2, 3], { dtype: 'float64' }),
    )
    const labelSets = [
      [0, 3, 1, 2, 2, 0],
      [3, 3, 0, 1, 2, 1],
      [1, 0, 2, 3, 0, 3],
    ]
    const labels = examples(count, 1, (i) => i32(labelSets[i]!, [2, 3]))
    const loss = (a: Tensor, b: Tensor): Tensor => softmaxCrossEntropyWithIntegerLabels(a, b, { axis: 0 })
    const batched = vmap(loss, { inAxes: [2, 1] })(logits.batch, labels.batch)
    expectStacked(
      batched,
      logits.each.map((a, i) => loss(a, labels.each[i]!)),
    )
    const g = grad((a: Tensor, b: Tensor) => sum(loss(a, b)))
    expectStacked(
      vmap(g, { inAxes: [2, 1] })(logits.batch, labels.batch),
      logits.each.map((a, i) => g(a, labels.each[i]!)),
    )
  })

  it('rejects an out-of-range label in a batch with the same ValueError', () => {
    const logits = random.normal(random.key(90), [2, 3], { dtype: 'float64' })
    const labels = i32([0, 2, 1, 3], [2, 2])
    let caught: unknown
    try {
      vmap(softmaxCrossEntropyWithIntegerLabels, { inAxes: [null, 0] })(logits, labels)
    } catch (e) {
      caught = e
    }
    expect(caught).toMatchObject({ kind: 'ValueError', op: 'softmaxCrossEntropyWithIntegerLabels' })
    expect((caught as Error).message).toContain('index 3')
  })
})

describe('the loss shape rule (staging)', () => {
  const dtypes = ['float32', 'float64', 'int32'] as const

  it('softmaxCrossEntropy: fused or not, the staged loss has the eager shape and dtype, or the eager error', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 0, maxLength: 3 }),
        fc.constantFrom(...dtypes),
        fc.constantFrom(...dtypes),
        fc.integer({ min: -3, max: 3 }),
        (shape, logitsDtype, labelsDtype, axis) => {
          const args: [Tensor, Tensor] = [zeros(shape, logitsDtype), zeros(shape, labelsDtype)]
          const f = (logits: Tensor, labels: Tensor): Tensor => softmaxCrossEntropy(logits, labels, { axis })
          expect(stagedOutcome(f, args)).toEqual(eagerOutcome(f, args))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('the op applied directly: broadcasting labels where the unfused path allows them, the fused check where not', () => {
    const cases: ReadonlyArray<readonly [number[], DType, number[], DType, number]> = [
      [[4, 3], 'float64', [1, 3], 'float64', 0], // unfused (axis 0): labels broadcast over the rows
      [[4, 3], 'float32', [1, 3], 'float64', 1], // unfused (two dtypes): float64 loss
      [[4, 3], 'float64', [1, 3], 'float64', 1], // fused: one shape required
      [[4, 3], 'int32', [4, 3], 'int32', 1], // unfused: int32 logits give a float32 loss
      [[4, 3], 'float32', [5, 3], 'float32', 0], // shapes that do not broadcast
    ]
    for (const [logitsShape, logitsDtype, labelsShape, labelsDtype, axis] of cases) {
      const f = (logits: Tensor, labels: Tensor): Tensor =>
        applyOp(softmaxCrossEntropyOp, [logits, labels], { axis })
      const args: [Tensor, Tensor] = [zeros(logitsShape, logitsDtype), zeros(labelsShape, labelsDtype)]
      expect(stagedOutcome(f, args)).toEqual(eagerOutcome(f, args))
    }
    const int32Loss = (logits: Tensor, labels: Tensor): Tensor =>
      applyOp(softmaxCrossEntropyOp, [logits, labels], { axis: 1 })
    expect(stagedOutcome(int32Loss, [zeros([4, 3], 'int32'), zeros([4, 3], 'int32')])).toEqual({
      shape: [4],
      dtype: 'float32',
    })
  })

  it('softmaxCrossEntropyWithIntegerLabels stages (the labels one-hot encoded by an op), and checks its labels', () => {
    const f = (logits: Tensor, labels: Tensor): Tensor => softmaxCrossEntropyWithIntegerLabels(logits, labels)
    const logits = zeros([4, 3], 'float64')
    expect(stagedOutcome(f, [logits, zeros([4], 'int32')])).toEqual({ shape: [4], dtype: 'float64' })
    for (const labels of [zeros([4], 'float32'), zeros([3], 'int32')])
      expect(stagedOutcome(f, [logits, labels])).toEqual(eagerOutcome(f, [logits, labels]))
  })
})
