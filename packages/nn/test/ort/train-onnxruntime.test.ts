// A whole training run on jit's ONNX Runtime executor gives the wasm executor's losses (float32
// rounding apart): a digits-sized MLP (64-32-16-10, ReLU, Adam, softmax cross-entropy on one-hot
// labels), every step checked to have run on onnxruntime; and fit passes the option through.
import { describe, expect, it } from 'vitest'
import type * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import { adam, crossEntropy, fit, layers, makeTrainStep } from '@backfold/nn'
import { batchOf, dataset, init, maxDifference } from '../helpers'

const { dense, sequential } = layers
const model = sequential(dense(32, { activation: 'relu' }), dense(16, { activation: 'relu' }), dense(10))

describe('training on the onnxruntime executor', () => {
  it('makeTrainStep: the same losses and parameters as the wasm executor over 3 epochs, every step on onnxruntime', () => {
    const { params, state } = init(model, T.random.key(0), [64])
    const data = dataset(192, [64], 10, 3, { oneHot: true })
    const optimizer = adam(0.01)
    const run = (executor: O.Executor) => {
      const step = makeTrainStep({ model, loss: crossEntropy, optimizer, executor })
      let current = { params, state, optState: optimizer.init(params) }
      const losses: number[] = []
      for (let epoch = 0; epoch < 3; epoch++)
        for (let start = 0; start < 192; start += 32) {
          const result = step(
            current.params,
            current.state,
            current.optState,
            batchOf(data, start, start + 32),
          )
          losses.push(result.metrics.loss)
          current = { params: result.params, state: result.state, optState: result.optState }
          if (executor === 'onnxruntime')
            expect(step.stats()!.executor).toMatchObject({ running: 'onnxruntime' })
        }
      return { losses, params: current.params }
    }
    const wasm = run('wasm')
    const ort = run('onnxruntime')
    expect(ort.losses).toHaveLength(18)
    ort.losses.forEach((loss, i) => expect(Math.abs(loss - wasm.losses[i]!)).toBeLessThan(1e-4))
    expect(maxDifference(ort.params, wasm.params)).toBeLessThan(1e-4)
    // It learned (the two runs are not both standing still).
    expect(ort.losses[17]!).toBeLessThan(ort.losses[0]! - 0.3)
  })

  it('fit({ executor }) passes it to the step: the same history as the default executor', () => {
    const { params, state } = init(model, T.random.key(1), [64])
    const options = {
      model,
      loss: crossEntropy,
      optimizer: adam(0.01),
      params,
      state,
      data: dataset(96, [64], 10, 5, { oneHot: true }),
      epochs: 2,
      batchSize: 32,
      key: T.random.key(2),
    }
    const wasm = fit(options)
    const ort = fit({ ...options, executor: 'onnxruntime' })
    ort.history.forEach((r, i) => expect(Math.abs(r.loss - wasm.history[i]!.loss)).toBeLessThan(1e-4))
    expect(() => fit({ ...options, executor: 'gpu' as never })).toThrow(/executor/)
  })
})
