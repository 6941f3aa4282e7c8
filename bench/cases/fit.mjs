// `fit` end to end on two jobs, for issue 13's "speed-up over the wasm executor": the digits MLP of
// the main job (64-128-64-10, relu, Adam, 30 epochs at batch 32 on the 1,438 training images) and a
// 784-512-10 MNIST-shaped MLP (relu, Adam 1e-3, 2 epochs at batch 128 on 8,192 seeded examples).
// node bench/cases/fit.mjs <framework>: backfold configurations only; `backfold` and
// `backfold-2-threads` train with jit's wasm executor (fit's default), the onnxruntime ones pass
// `executor: 'onnxruntime'` to fit (issue 13: makeTrainStep and fit take the executor option).
// Seconds of `fit` alone (data loading and model init excluded) and the last epoch's loss.
import { fileURLToPath } from 'node:url'
import { emit, frameworkArg, loadBackfold, oneHotData, uniformData, unsupported } from './common.mjs'

const framework = frameworkArg()
if (!framework.startsWith('backfold') || framework === 'backfold-eager' || framework === 'backfold-reference')
  unsupported('fit', framework, 'the fit case compares backfold executors only')
const onnx = framework.startsWith('backfold-onnxruntime')
const { T, O } = await loadBackfold(framework, 'fit')
const nn = await import('@backfold/nn')
const nnNode = await import('@backfold/nn/node')
const right = (either, what) => {
  // An fp-ts Either (bench does not depend on fp-ts: its tag is enough).
  if (either._tag === 'Left')
    throw new Error(`${what}: ${either.left.message ?? JSON.stringify(either.left)}`)
  return either.right
}

/** The executor option for fit: nothing for the wasm executor (the default). */
const executorOption = onnx ? { executor: 'onnxruntime' } : {}

const train = (name, model, inShape, data, epochs, batchSize, optimizer) => {
  const initial = right(model.init(T.random.key(1), inShape), `${name}: init`)
  const started = performance.now()
  let result
  try {
    result = nn.fit({
      model,
      loss: nn.crossEntropy,
      optimizer,
      params: initial.params,
      state: initial.state,
      data,
      epochs,
      batchSize,
      key: T.random.key(2),
      ...executorOption,
    })
  } catch (error) {
    unsupported(
      'fit',
      framework,
      `${name}: fit(${onnx ? "{ executor: 'onnxruntime' }" : ''}) threw: ${error.message.split('\n')[0]}`,
    )
  }
  const seconds = (performance.now() - started) / 1000
  const history = result.history
  const last = Array.isArray(history) ? history.at(-1) : history?.loss?.at?.(-1)
  return { name, seconds, finalLoss: typeof last === 'number' ? last : last?.loss }
}

const runs = []
try {
  const file = fileURLToPath(new URL('../../data/digits/digits.csv.gz', import.meta.url))
  const csv = right(await nnNode.loadCsv(file, { labelColumn: 'last' }), 'digits')
  const labels = right(nn.validateLabels(csv.y, 10, { source: file }), 'digits labels')
  const digits = { x: O.div(csv.x, 16), y: labels }
  const { train: digitsTrain } = nn.stratifiedSplit(digits, { testFraction: 0.2, key: T.random.key(0) })
  const dense = (n, relu) => nn.layers.dense(n, relu ? { activation: 'relu' } : {})
  runs.push(
    train(
      'digits 64-128-64-10',
      nn.layers.sequential(dense(128, true), dense(64, true), dense(10)),
      [64],
      digitsTrain,
      30,
      32,
      nn.adam(1e-3),
    ),
  )
  const count = 8192
  const mnist = {
    x: T.unsafeTensor('float32', [count, 784], uniformData(11, count * 784)),
    y: O.argmax(T.unsafeTensor('float32', [count, 10], oneHotData(12, count, 10)), { axis: -1 }),
  }
  runs.push(
    train(
      '784-512-10',
      nn.layers.sequential(dense(512, true), dense(10)),
      [784],
      mnist,
      2,
      128,
      nn.adam(1e-3),
    ),
  )
} catch (error) {
  unsupported('fit', framework, error)
}
emit({ bench: 'fit', framework, backend: onnx ? 'onnxruntime' : `${T.getBackend().name}, jit`, runs })
