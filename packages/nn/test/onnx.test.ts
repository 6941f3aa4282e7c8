import { createRequire } from 'node:module'
import type * as Ort from 'onnxruntime-node'
import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import { exportOnnx } from '../src/onnx/index'
import * as L from '../src/layers/index'
import type { Layer } from '../src/layer'

// onnxruntime-node is the independent reference: exported graphs must run there and agree with backfold.
const require = createRequire(import.meta.url)
const ort = require('onnxruntime-node') as typeof Ort

const run = async (
  bytes: Uint8Array,
  x: T.Tensor,
  inputType: 'float32' | 'int32' = 'float32',
): Promise<Float32Array> => {
  const session = await ort.InferenceSession.create(bytes)
  const input =
    inputType === 'int32'
      ? new ort.Tensor('int32', Int32Array.from(x.data), [...x.shape])
      : new ort.Tensor('float32', Float32Array.from(x.data), [...x.shape])
  const out = await session.run({ input })
  return out['output']!.data as Float32Array
}

const check = async (
  model: Layer<unknown, unknown>,
  inputShape: number[],
  x: T.Tensor,
  opts: { batch?: string | number; opset?: number; train?: boolean; inputDType?: 'float32' | 'int32' } = {},
): Promise<void> => {
  const init = model.init(T.random.key(11), inputShape)
  if (E.isLeft(init)) throw new Error(init.left.message)
  const { params } = init.right
  let { state } = init.right
  if (opts.train === true) {
    // One training-mode pass so batch-norm running statistics are not the initial 0 / 1.
    const [, next] = model.apply(params, state, T.random.normal(T.random.key(5), [8, ...inputShape]), {
      training: true,
      key: T.random.key(6),
    })
    state = next
  }
  const bytes = exportOnnx(model, params, state, {
    inputShape,
    ...(opts.batch === undefined ? {} : { batch: opts.batch }),
    ...(opts.opset === undefined ? {} : { opset: opts.opset }),
    ...(opts.inputDType === undefined ? {} : { inputDType: opts.inputDType }),
  })
  if (E.isLeft(bytes)) throw new Error(`${bytes.left.path}: ${bytes.left.message}`)
  const [expected] = model.apply(params, state, x, { training: false })
  const got = await run(bytes.right, x, opts.inputDType)
  expect(got.length).toBe(expected.data.length)
  let worst = 0
  got.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - expected.data[i]!))))
  expect(worst).toBeLessThan(1e-5)
}

const asLayer = (l: unknown): Layer<unknown, unknown> => l as Layer<unknown, unknown>

describe('ONNX export runs in onnxruntime and matches backfold', () => {
  it('MLP with a symbolic batch (batch 1 and 5)', async () => {
    const mlp = asLayer(
      L.sequential(L.dense(16), L.relu(), L.dropout(0.5), L.dense(8), L.tanh(), L.dense(3), L.softmax()),
    )
    await check(mlp, [6], T.random.normal(T.random.key(1), [1, 6]))
    await check(mlp, [6], T.random.normal(T.random.key(2), [5, 6]))
  })

  it('CNN: conv, batch norm (running statistics), pooling, flatten, dense; fixed batch', async () => {
    const cnn = asLayer(
      L.sequential(
        L.conv2d(4, 3, { padding: 'same' }),
        L.batchNorm(),
        L.relu(),
        L.maxPool2d({ kernelSize: 2 }),
        L.conv2d(6, 3, { stride: 2, padding: [0, 1, 1, 0], dilation: 1 }),
        L.leakyRelu(0.2),
        L.avgPool2d({ kernelSize: 2, padding: 1 }),
        L.flatten(),
        L.dense(5),
      ),
    )
    await check(cnn, [2, 12, 12], T.random.normal(T.random.key(3), [3, 2, 12, 12]), { batch: 3, train: true })
  })

  it('residual blocks with layer norm and gelu (both forms, composed below opset 20), global pooling', async () => {
    const block = (approximate: 'none' | 'tanh') =>
      L.residual(L.sequential(L.layerNorm(), L.dense(12), L.gelu(approximate), L.dense(12)))
    const model = asLayer(
      L.sequential(L.dense(12), block('none'), block('tanh'), L.silu(), L.elu(0.7), L.sigmoid()),
    )
    await check(model, [7], T.random.normal(T.random.key(4), [4, 7]))
    const conv = asLayer(
      L.sequential(L.conv2d(3, 3), L.batchNorm({ affine: false }), L.globalAvgPool2d(), L.dense(2)),
    )
    await check(conv, [1, 6, 6], T.random.normal(T.random.key(7), [2, 1, 6, 6]), { train: true })
  })

  it('parallel branches concatenated along features', async () => {
    const model = asLayer(
      L.sequential(L.parallel({ a: L.dense(3), b: L.sequential(L.dense(4), L.relu()) }), L.dense(2)),
    )
    await check(model, [5], T.random.normal(T.random.key(8), [3, 5]))
  })

  it('embedding with int32 indices', async () => {
    const model = asLayer(L.sequential(L.embedding(10, 4), L.flatten(), L.dense(3)))
    const x = T.random.randint(T.random.key(9), [4, 6], 0, 10)
    await check(model, [6], x, { inputDType: 'int32' })
  })

  it('rejects a custom layer without a config, naming it', () => {
    const custom: Layer<unknown, unknown> = {
      kind: 'mine',
      init: (_k, s) => E.right({ params: {}, state: {}, outShape: s }),
      apply: (_p, s, x) => [x, s],
    }
    const result = exportOnnx(custom, {}, {}, { inputShape: [2] })
    expect(E.isLeft(result) && result.left.message).toMatch(/no config/)
  })
})
