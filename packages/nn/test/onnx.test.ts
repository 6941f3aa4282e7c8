import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type * as Ort from 'onnxruntime-node'
import onnxProto from 'onnx-proto'
import type { onnx as onnxTypes } from 'onnx-proto'
import { afterAll, describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import { exportOnnx, formatOnnxError, type OnnxExportOptions } from '../src/onnx/index'
import { buildModel } from '../src/onnx/export'
import { saveOnnx } from '../src/node/onnx'
import * as L from '../src/layers/index'
import { flattenNamed, map } from '../src/tree'
import type { Layer } from '../src/layer'
import { builtinLayers } from '../src/layers/builtins'
import { glu, gluKind, kinds } from './fixtures/glu'

// onnxruntime-node is the independent reference: every exported graph must load there, and its
// outputs must agree with backfold's own eval-mode apply within 1e-5.
const require = createRequire(import.meta.url)
const ort = require('onnxruntime-node') as typeof Ort
const { onnx } = onnxProto

interface Trained<P, S> {
  readonly params: P
  readonly state: S
}

/**
 * Initialises `model` and perturbs every parameter, so none keeps a neutral value (batch norm's
 * ones and zeros) that would hide a misplaced initializer; `warm` runs one training-mode batch so
 * batch-norm running statistics move off 0 / 1.
 */
const initialise = <P, S>(model: Layer<P, S>, inShape: number[], warm = false): Trained<P, S> => {
  const init = model.init(T.random.key(11), inShape)
  if (E.isLeft(init)) throw new Error(`${init.left.path}: ${init.left.message}`)
  let seed = 100
  const params = map(init.right.params, (p) =>
    T.add(
      p,
      T.random.normal(T.random.key(seed++), p.shape, {
        dtype: T.isFloat(p.dtype) ? p.dtype : 'float32',
        std: 0.3,
      }),
    ),
  )
  const state = init.right.state
  if (!warm) return { params, state }
  const batch = T.mul(T.random.normal(T.random.key(5), [16, ...inShape]), 2)
  const [, next] = model.apply(params, state, T.add(batch, 0.5), { training: true, key: T.random.key(6) })
  return { params, state: next }
}

/**
 * The exported bytes, checked on the way to equal protobufjs's encoding (onnx-proto, generated
 * from ONNX's schema) of the same ModelProto: our own encoder against an independent one.
 */
const exported = <P, S>(model: Layer<P, S>, trained: Trained<P, S>, opts: OnnxExportOptions): Uint8Array => {
  const bytes = exportOnnx(model, trained.params, trained.state, opts)
  if (E.isLeft(bytes)) throw new Error(formatOnnxError(bytes.left))
  const proto = buildModel(model, trained.params, trained.state, opts)
  if (E.isLeft(proto)) throw new Error(formatOnnxError(proto.left))
  // Why the cast: onnx-proto's types want mutable arrays; ours are readonly, the values the same.
  const reference = onnx.ModelProto.encode(proto.right as unknown as onnxTypes.IModelProto).finish()
  expect(Buffer.compare(Buffer.from(bytes.right), Buffer.from(reference))).toBe(0)
  return bytes.right
}

const session = (bytes: Uint8Array): Promise<Ort.InferenceSession> => ort.InferenceSession.create(bytes)

/** Runs `x` through the session; returns the output's data and dims. */
const run = async (
  s: Ort.InferenceSession,
  x: T.Tensor,
  names = { input: 'input', output: 'output' },
): Promise<{ data: Float32Array; dims: ReadonlyArray<number> }> => {
  const input =
    x.dtype === 'int32'
      ? new ort.Tensor('int32', Int32Array.from(x.data), [...x.shape])
      : new ort.Tensor('float32', Float32Array.from(x.data), [...x.shape])
  const out = (await s.run({ [names.input]: input }))[names.output]!
  return { data: out.data as Float32Array, dims: out.dims }
}

/** Largest |a - b| over two equally long arrays, by a direct loop. */
const worstDifference = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length)
  let worst = 0
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!))
  return worst
}

/** onnxruntime's output for `x` equals backfold's eval-mode output, shape and values. */
const agrees = async <P, S>(
  s: Ort.InferenceSession,
  model: Layer<P, S>,
  trained: Trained<P, S>,
  x: T.Tensor,
): Promise<void> => {
  const [expected] = model.apply(trained.params, trained.state, x, { training: false })
  const got = await run(s, x)
  expect(got.dims).toEqual(expected.shape)
  expect(worstDifference(got.data, expected.data)).toBeLessThan(1e-5)
}

/** Exports, loads in onnxruntime and compares on each input. */
const check = async <P, S>(
  model: Layer<P, S>,
  trained: Trained<P, S>,
  opts: OnnxExportOptions,
  ...inputs: T.Tensor[]
): Promise<Ort.InferenceSession> => {
  const s = await session(exported(model, trained, opts))
  for (const x of inputs) await agrees(s, model, trained, x)
  return s
}

/** The decoded graph, reduced to what the tests look at (protobufjs leaves every field optional). */
const decodeGraph = (bytes: Uint8Array) => {
  const graph = onnx.ModelProto.decode(bytes).graph
  if (graph === null || graph === undefined) throw new Error('the model has no graph')
  return {
    initializers: (graph.initializer ?? []).map((t) => t.name ?? ''),
    nodes: (graph.node ?? []).map((n) => ({
      opType: n.opType ?? '',
      input: n.input ?? [],
      output: n.output ?? [],
      attributes: (n.attribute ?? []).map((a) => [a.name ?? '', Number(a.i ?? 0)]),
    })),
  }
}

const metadataShape = (meta: ReadonlyArray<Ort.InferenceSession.ValueMetadata>): unknown =>
  meta[0] !== undefined && meta[0].isTensor ? meta[0].shape : undefined

const normal = (seed: number, shape: number[]): T.Tensor => T.random.normal(T.random.key(seed), shape)

describe('exportOnnx: exported models run in onnxruntime and match backfold', () => {
  it('an MLP with dropout and batch norm on features: symbolic batch N, run with batch 1 and 5', async () => {
    const mlp = L.sequential(
      L.dense(16),
      L.batchNorm(),
      L.relu(),
      L.dropout(0.5),
      L.dense(8),
      L.tanh(),
      L.dense(3),
      L.softmax(),
    )
    const trained = initialise(mlp, [6], true)
    const s = await check(mlp, trained, { inputShape: [6] }, normal(1, [1, 6]), normal(2, [5, 6]))
    expect(metadataShape(s.inputMetadata)).toEqual(['N', 6])
    expect(metadataShape(s.outputMetadata)).toEqual(['N', 3])
  })

  it('dense on the last axis of [seq, features] (MatMul by the transposed weight, Add, Relu)', async () => {
    const head = L.sequential(L.dense(5, { activation: 'relu' }), L.dense(3, { useBias: false }))
    const trained = initialise(head, [4, 6])
    const s = await check(head, trained, { inputShape: [4, 6] }, normal(3, [2, 4, 6]))
    expect(metadataShape(s.outputMetadata)).toEqual(['N', 4, 3])
  })

  it('a CNN (conv, batch norm, pools with padding, flatten, dense) with a fixed batch', async () => {
    const cnn = L.sequential(
      L.conv2d(4, 3, { padding: 'same' }),
      L.batchNorm({ eps: 0.1 }),
      L.relu(),
      L.maxPool2d({ kernelSize: 2 }),
      L.conv2d(6, [3, 2], { stride: 2, padding: [0, 1, 2, 0], dilation: [1, 2], useBias: false }),
      L.leakyRelu(0.2),
      L.avgPool2d({ kernelSize: 2, stride: 1, padding: 1 }),
      L.maxPool2d({ kernelSize: 3, stride: 2, padding: [1, 0, 0, 1] }),
      L.flatten(),
      L.dense(5),
    )
    const trained = initialise(cnn, [2, 12, 12], true)
    const s = await check(cnn, trained, { inputShape: [2, 12, 12], batch: 3 }, normal(3, [3, 2, 12, 12]))
    expect(metadataShape(s.inputMetadata)).toEqual([3, 2, 12, 12])
    // A fixed batch is enforced by onnxruntime.
    await expect(run(s, normal(4, [2, 2, 12, 12]))).rejects.toThrow()
  })

  it('residual blocks with layer norm and both gelu forms, composed at opset 17 and native at opset 20', async () => {
    const block = (approximate: 'none' | 'tanh') =>
      L.residual(
        L.sequential(
          L.layerNorm({ affine: approximate === 'tanh', eps: 0.01 }),
          L.dense(12),
          L.gelu(approximate),
          L.dense(12),
        ),
      )
    const model = L.sequential(L.dense(12), block('none'), block('tanh'), L.silu(), L.elu(0.7), L.sigmoid())
    const trained = initialise(model, [7])
    for (const opset of [17, 20, 23])
      await check(model, trained, { inputShape: [7], opset }, normal(4, [4, 7]))
    const ops = (opset: number): string[] =>
      decodeGraph(exported(model, trained, { inputShape: [7], opset })).nodes.map((n) => n.opType)
    expect(ops(17)).toContain('Erf')
    expect(ops(17)).not.toContain('Gelu')
    expect(ops(20).filter((op) => op === 'Gelu')).toHaveLength(2)
  })

  it('parallel branches concatenated along axis 1: features (record form) and channels (array form)', async () => {
    const wide = L.sequential(
      L.parallel({ a: L.dense(3), b: L.sequential(L.dense(4), L.relu()) }),
      L.dense(2),
    )
    await check(wide, initialise(wide, [5]), { inputShape: [5] }, normal(8, [3, 5]))
    const inception = L.sequential(
      L.parallel(
        L.conv2d(2, 1),
        L.conv2d(3, 3, { padding: 1 }),
        L.maxPool2d({ kernelSize: 3, stride: 1, padding: 1 }),
      ),
      L.globalAvgPool2d(),
    )
    await check(
      inception,
      initialise(inception, [2, 5, 5]),
      { inputShape: [2, 5, 5] },
      normal(9, [2, 2, 5, 5]),
    )
  })

  it('embeddings (int32 input inferred) over a symbolic sequence length, and with layer norm over two axes', async () => {
    const model = L.sequential(L.embedding(10, 4), L.layerNorm(), L.gelu(), L.softmax())
    const trained = initialise(model, [6])
    const s = await check(
      model,
      trained,
      { inputShape: ['L'] },
      T.random.randint(T.random.key(9), [4, 6], 0, 10),
      T.random.randint(T.random.key(10), [2, 3], 0, 10),
    )
    expect(s.inputMetadata[0]?.isTensor === true && s.inputMetadata[0].type).toBe('int32')
    expect(metadataShape(s.inputMetadata)).toEqual(['N', 'L'])
    const flat = L.sequential(L.embedding(7, 3), L.layerNorm({ axes: 2 }), L.flatten(), L.dense(2))
    await check(
      flat,
      initialise(flat, [5]),
      { inputShape: [5] },
      T.random.randint(T.random.key(12), [3, 5], 0, 7),
    )
  })

  it('a fully convolutional model over symbolic image sizes (same padding with stride 2 → auto_pad)', async () => {
    const model = L.sequential(
      L.conv2d(3, 3, { stride: 2, padding: 'same' }),
      L.batchNorm({ affine: false }),
      L.relu(),
      L.maxPool2d({ kernelSize: 2, padding: 'same' }),
      L.conv2d(4, 2, { padding: [1, 0, 0, 1] }),
      L.avgPool2d({ kernelSize: 2, stride: 1 }),
      L.globalAvgPool2d(),
      L.dense(2),
    )
    const trained = initialise(model, [1, 9, 9], true)
    await check(
      model,
      trained,
      { inputShape: [1, 'H', 'W'] },
      normal(13, [2, 1, 9, 9]),
      normal(14, [1, 1, 12, 11]),
    )
  })

  it('every activation alone, over a wide range of inputs', async () => {
    const x = T.mul(normal(18, [3, 4, 5]), 4)
    const activations = {
      relu: L.relu(),
      leakyRelu: L.leakyRelu(0.2),
      elu: L.elu(0.7),
      silu: L.silu(),
      sigmoid: L.sigmoid(),
      tanh: L.tanh(),
      gelu: L.gelu(),
      geluTanh: L.gelu('tanh'),
      softmax: L.softmax(),
      softmaxAxis1: L.softmax(1),
    }
    for (const [name, layer] of Object.entries(activations))
      for (const opset of [17, 20]) {
        const s = await session(exported(layer, initialise(layer, [4, 5]), { inputShape: [4, 5], opset }))
        const [expected] = layer.apply({}, {}, x, { training: false })
        const got = await run(s, x)
        expect([name, opset, worstDifference(got.data, expected.data) < 1e-5]).toEqual([name, opset, true])
      }
  })

  it('float64 parameters export as a float32 graph that still matches', async () => {
    const model = L.sequential(
      L.conv2d(2, 3, { dtype: 'float64' }),
      L.batchNorm({ dtype: 'float64' }),
      L.flatten(),
      L.dense(3, { dtype: 'float64' }),
    )
    const trained = initialise(model, [1, 5, 5], true)
    const x = normal(15, [2, 1, 5, 5])
    const [expected] = model.apply(trained.params, trained.state, T.astype(x, 'float64'), { training: false })
    expect(expected.dtype).toBe('float64')
    const got = await run(await session(exported(model, trained, { inputShape: [1, 5, 5] })), x)
    expect(worstDifference(got.data, expected.data)).toBeLessThan(1e-5)
  })

  it('names initializers like checkpoints, drops dropout, maps dense to Gemm(transB = 1), honours custom names', async () => {
    const model = L.sequential({
      features: L.sequential(L.conv2d(2, 3), L.batchNorm(), L.dropout(0.3)),
      head: L.sequential(L.flatten(), L.dense(3)),
    })
    const trained = initialise(model, [1, 4, 4], true)
    const bytes = exported(model, trained, {
      inputShape: [1, 4, 4],
      inputName: 'pixels',
      outputName: 'logits',
    })
    const graph = decodeGraph(bytes)
    const expectedNames = [...flattenNamed(trained.params), ...flattenNamed(trained.state)].map(
      ([name]) => name,
    )
    expect([...graph.initializers].sort()).toEqual(expectedNames.sort())
    expect(graph.nodes.map((n) => n.opType)).toEqual([
      'Conv',
      'BatchNormalization',
      'Flatten',
      'Gemm',
      'Identity',
    ])
    const gemm = graph.nodes.find((n) => n.opType === 'Gemm')!
    expect(gemm.attributes).toEqual([['transB', 1]])
    const conv = graph.nodes.find((n) => n.opType === 'Conv')!
    expect(conv.input.slice(1)).toEqual(['features.0.weight', 'features.0.bias'])
    const s = await session(bytes)
    const x = normal(16, [2, 1, 4, 4])
    const [expected] = model.apply(trained.params, trained.state, x, { training: false })
    const got = await run(s, x, { input: 'pixels', output: 'logits' })
    expect(worstDifference(got.data, expected.data)).toBeLessThan(1e-5)
  })
})

describe('exportOnnx: multiHeadAttention as a subgraph of standard operators', () => {
  it('self-attention (4 heads, with and without bias, causal or not) after an embedding agrees with onnxruntime', async () => {
    for (const [causal, bias] of [
      [false, true],
      [true, true],
      [true, false],
    ] as const) {
      const model = L.sequential(
        L.embedding(11, 8),
        L.multiHeadAttention({ heads: 4, causal, bias, dropout: 0.2 }),
        L.layerNorm(),
      )
      const trained = initialise(model, [5])
      const s = await check(
        model,
        trained,
        { inputShape: [5] },
        T.random.randint(T.random.key(21), [3, 5], 0, 11),
        T.random.randint(T.random.key(22), [1, 5], 0, 11),
      )
      expect(metadataShape(s.outputMetadata)).toEqual(['N', 5, 8])
      const graph = decodeGraph(exported(model, trained, { inputShape: [5] }))
      expect(graph.nodes.filter((n) => n.opType === 'Softmax')).toHaveLength(4)
      expect(graph.initializers).toContain('1.out_proj.weight')
      expect(graph.initializers.some((n) => n.startsWith('1.causal_mask'))).toBe(causal)
    }
  })

  it('non-causal attention over a symbolic sequence length; rotary as MatMul/Mul/Add; causal needs a known length (a Left naming the layer)', async () => {
    const model = L.sequential(L.embedding(9, 6), L.multiHeadAttention({ heads: 2 }))
    const trained = initialise(model, [4])
    await check(
      model,
      trained,
      { inputShape: ['L'] },
      T.random.randint(T.random.key(23), [2, 4], 0, 9),
      T.random.randint(T.random.key(24), [2, 7], 0, 9),
    )
    const rotary = L.sequential(
      L.embedding(9, 8),
      L.multiHeadAttention({ heads: 2, rotary: true, rotaryBase: 30 }),
    )
    await check(
      rotary,
      initialise(rotary, [6]),
      { inputShape: [6] },
      T.random.randint(T.random.key(25), [2, 6], 0, 9),
    )
    const causal = L.sequential(L.embedding(9, 6), L.multiHeadAttention({ heads: 2, causal: true }))
    const r = exportOnnx(causal, initialise(causal, [4]).params, initialise(causal, [4]).state, {
      inputShape: ['L'],
    })
    expect(E.isLeft(r) && formatOnnxError(r.left)).toMatch(/1 \(multiHeadAttention\).*known sequence length/)
  })
})

describe('exportOnnx: positional encodings', () => {
  it('positionalEmbedding over a symbolic sequence length (Range + Gather) and sinusoidal, before attention', async () => {
    const learned = L.sequential(L.embedding(9, 6), L.positionalEmbedding({ maxLen: 7 }), L.layerNorm())
    await check(
      learned,
      initialise(learned, [5]),
      { inputShape: ['L'] },
      T.random.randint(T.random.key(31), [2, 5], 0, 9),
      T.random.randint(T.random.key(32), [3, 7], 0, 9),
      T.random.randint(T.random.key(33), [1, 2], 0, 9),
    )
    const fixed = L.sequential(
      L.embedding(9, 8),
      L.sinusoidal({ base: 50 }),
      L.multiHeadAttention({ heads: 2, causal: true }),
    )
    await check(
      fixed,
      initialise(fixed, [6]),
      { inputShape: [6] },
      T.random.randint(T.random.key(34), [2, 6], 0, 9),
    )
    const r = exportOnnx(fixed, initialise(fixed, [6]).params, initialise(fixed, [6]).state, {
      inputShape: ['L'],
    })
    expect(E.isLeft(r) && formatOnnxError(r.left)).toMatch(/1 \(sinusoidal\).*known sequence length/)
  })
})

describe('exportOnnx: transformerBlock', () => {
  it('a small decoder (embedding, positions, two causal blocks, rotary in one) agrees at opsets 17 and 20', async () => {
    const model = L.sequential(
      L.embedding(13, 8),
      L.positionalEmbedding({ maxLen: 6 }),
      L.transformerBlock({ heads: 2, mlpRatio: 2, causal: true, dropout: 0.1 }),
      L.transformerBlock({ heads: 4, causal: true, rotary: true }),
      L.layerNorm(),
    )
    const trained = initialise(model, [6])
    for (const opset of [17, 20])
      await check(
        model,
        trained,
        { inputShape: [6], opset },
        T.random.randint(T.random.key(41), [3, 6], 0, 13),
      )
    const graph = decodeGraph(exported(model, trained, { inputShape: [6] }))
    expect(graph.initializers).toContain('2.linear1.weight')
    expect(graph.initializers).toContain('3.norm2.bias')
    expect(graph.initializers).toContain('2.self_attn.out_proj.weight')
  })

  it('refuses a state in decoding mode (key/value caches, position counters) with a Left naming the layer', () => {
    const model = L.sequential(
      L.embedding(13, 8),
      L.positionalEmbedding({ maxLen: 6 }),
      L.transformerBlock({ heads: 2, causal: true }),
    )
    const { params, state } = initialise(model, [6])
    const [, decoding] = model.apply(params, state, T.tensor([[1, 2]], 'int32'), {
      training: false,
      cache: { capacity: 6 },
    })
    const r = exportOnnx(model, params, decoding, { inputShape: [6] })
    expect(E.isLeft(r) && formatOnnxError(r.left)).toMatch(
      /1 \(positionalEmbedding\).*decoding position .*export with the state from init/,
    )
    const attn = L.sequential(L.embedding(13, 8), L.multiHeadAttention({ heads: 2, causal: true }))
    const a = initialise(attn, [6])
    const [, cached] = attn.apply(a.params, a.state, T.tensor([[1, 2]], 'int32'), {
      training: false,
      cache: { capacity: 6 },
    })
    const r2 = exportOnnx(attn, a.params, cached, { inputShape: [6] })
    expect(E.isLeft(r2) && formatOnnxError(r2.left)).toMatch(/1 \(multiHeadAttention\).*key\/value cache/)
    // Its state from init exports.
    expect(E.isRight(exportOnnx(model, params, state, { inputShape: [6] }))).toBe(true)
  })
})

describe("exportOnnx: dense(n, { activation: 'relu' })", () => {
  it('emits Gemm then Relu, the graph of dense then relu(), and agrees with onnxruntime', async () => {
    const fused = L.sequential(L.dense(6, { activation: 'relu' }), L.dense(3, { activation: 'relu' }))
    const trained = initialise(fused, [4])
    const bytes = exported(fused, trained, { inputShape: [4] })
    const graph = decodeGraph(bytes)
    expect(graph.nodes.map((n) => n.opType)).toEqual(['Gemm', 'Relu', 'Gemm', 'Relu', 'Identity'])
    // Each Relu reads its own Gemm's output.
    const [gemm0, relu0, gemm1, relu1] = graph.nodes
    expect(relu0!.input).toEqual(gemm0!.output)
    expect(gemm1!.input[0]).toBe(relu0!.output[0])
    expect(relu1!.input).toEqual(gemm1!.output)
    // The same ops as the two-layer spelling (whose parameters sit at other indices).
    const twoLayers = L.sequential(L.dense(6), L.relu(), L.dense(3), L.relu())
    const twoLayersBytes = exported(twoLayers, initialise(twoLayers, [4]), { inputShape: [4] })
    expect(decodeGraph(twoLayersBytes).nodes.map((n) => n.opType)).toEqual(graph.nodes.map((n) => n.opType))
    const x = normal(17, [5, 4])
    const [expected] = fused.apply(trained.params, trained.state, x, { training: false })
    // Some outputs are clipped, or a missing Relu could pass.
    expect(Array.from(expected.data).some((v) => v === 0)).toBe(true)
    const got = await run(await session(bytes), x)
    expect(worstDifference(got.data, expected.data)).toBeLessThan(1e-5)
  })

  it('a dense config with an activation it cannot emit is a Left naming the layer', () => {
    const dense = L.dense(2)
    const odd = { ...dense, config: { kind: 'dense', units: 2, useBias: true, activation: 'tanh' } }
    const model = L.sequential(odd)
    const trained = initialise(model, [3])
    const result = exportOnnx(model, trained.params, trained.state, { inputShape: [3] })
    if (E.isRight(result)) throw new Error('expected a Left')
    expect(result.left.path).toBe('0 (dense)')
    expect(result.left.message).toMatch(/config\.activation must be 'relu' or 'linear', got "tanh"/)
  })
})

describe('exportOnnx: what cannot be exported is a Left naming where', () => {
  const custom = (config?: { kind: string }): Layer<Record<never, never>, Record<never, never>> => ({
    kind: 'mine',
    ...(config === undefined ? {} : { config }),
    init: (_key, inShape) => E.right({ params: {}, state: {}, outShape: inShape }),
    apply: (_params, state, x) => [x, state],
  })
  const leftOf = <A>(result: E.Either<{ path: string; message: string }, A>) => {
    if (E.isRight(result)) throw new Error('expected a Left')
    return result.left
  }

  it('a layer without a config, alone or inside a combinator', () => {
    expect(leftOf(exportOnnx(custom(), {}, {}, { inputShape: [2] })).message).toMatch(/has no config/)
    const model = L.sequential(L.dense(2), custom())
    const trained = initialise(model, [2])
    const e = leftOf(exportOnnx(model, trained.params, trained.state, { inputShape: [2] }))
    expect(e.path).toBe('1 (mine)')
    expect(e.message).toMatch(
      /has no config, so it cannot be exported: it is a custom layer made without a kind/,
    )
    const nested = L.sequential({ body: L.residual(L.sequential(L.dense(2), custom())) })
    const nestedTrained = initialise(nested, [2])
    expect(
      leftOf(exportOnnx(nested, nestedTrained.params, nestedTrained.state, { inputShape: [2] })).path,
    ).toBe('body.1 (mine)')
  })

  it('a kind with no ONNX counterpart, by its path', () => {
    const model = L.sequential({ body: L.sequential(L.dense(2), custom({ kind: 'fancy' })) })
    const trained = initialise(model, [3])
    const e = leftOf(exportOnnx(model, trained.params, trained.state, { inputShape: [3] }))
    expect(e.path).toBe('body.1 (fancy)')
    expect(e.message).toMatch(/layer kind 'fancy' has no ONNX export/)
  })

  it('params or state that do not fit the config, by parameter name', () => {
    const model = L.sequential(L.dense(4), L.relu(), L.dense(2))
    const trained = initialise(model, [3])
    const wrong = [trained.params[0], {}, { weight: T.zeros([2, 5]), bias: T.zeros([2]) }] as const
    const e = leftOf(exportOnnx(model, wrong, trained.state, { inputShape: [3] }))
    expect(e.path).toBe('2 (dense)')
    expect(e.message).toMatch(/params '2\.weight' has shape \[2,5\]; expected \[2,4\]/)
    const bn = L.sequential(L.dense(4), L.batchNorm())
    const bnTrained = initialise(bn, [3])
    const noStats = [{}, {}] as const
    const missing = leftOf(exportOnnx(bn, bnTrained.params, noStats as never, { inputShape: [3] }))
    expect(missing.message).toMatch(/state '1\.runningMean' is missing/)
  })

  it('an input shape the model cannot take, bad options, and layer norm below opset 17', () => {
    const model = L.sequential(L.dense(4), L.layerNorm())
    const trained = initialise(model, [3])
    expect(leftOf(exportOnnx(model, trained.params, trained.state, { inputShape: [5] })).message).toMatch(
      /'0\.weight' has shape \[4,3\]; expected \[4,5\]/,
    )
    expect(leftOf(exportOnnx(model, trained.params, trained.state, { inputShape: [] })).path).toBe(
      '0 (dense)',
    )
    const misspelt = { inputShape: [3], opSet: 18 } as unknown as OnnxExportOptions
    expect(leftOf(exportOnnx(model, trained.params, trained.state, misspelt)).message).toMatch(
      /^unknown option 'opSet' in options; accepted options: inputShape, batch, opset, inputName, outputName, inputDType, layers$/,
    )
    const low = leftOf(exportOnnx(model, trained.params, trained.state, { inputShape: [3], opset: 16 }))
    expect([low.path, low.message]).toEqual([
      '1 (layerNorm)',
      'LayerNormalization needs opset >= 17, got opset 16',
    ])
    expect(
      leftOf(exportOnnx(model, trained.params, trained.state, { inputShape: [3], opset: 12 })).message,
    ).toMatch(/opset must be an integer from 13/)
    expect(leftOf(exportOnnx(model, trained.params, trained.state, { inputShape: [0] })).message).toMatch(
      /inputShape/,
    )
    expect(
      leftOf(
        exportOnnx(model, trained.params, trained.state, {
          inputShape: [3],
          inputName: 'x',
          outputName: 'x',
        }),
      ).message,
    ).toMatch(/distinct/)
    expect(
      leftOf(exportOnnx(model, trained.params, trained.state, { inputShape: [3], inputDType: 'int32' }))
        .message,
    ).toMatch(/only embedding takes int32/)
  })
})

describe('exportOnnx: a custom kind (defineLayer with an onnx emitter)', () => {
  it("a GLU among built-in layers runs in onnxruntime with backfold's outputs (issue 14, done-when)", async () => {
    const model = L.sequential(L.dense(6), L.relu(), glu(4), L.dense(2))
    const trained = initialise(model, [3])
    const s = await check(
      model,
      trained,
      { inputShape: [3], layers: kinds },
      normal(21, [5, 3]),
      normal(22, [1, 3]),
    )
    expect(s.inputNames).toEqual(['input'])
    const names = decodeGraph(exported(model, trained, { inputShape: [3], layers: kinds })).initializers
    expect(names).toEqual(expect.arrayContaining(['2.weight', '2.bias', '2.gateWeight', '2.gateBias']))
  })

  it('symbolic batch and record names reach the custom emitter', async () => {
    const model = L.sequential({ gate: glu(3), out: L.residual(L.sequential(L.dense(3), L.tanh())) })
    const trained = initialise(model, [4])
    await check(
      model,
      trained,
      { inputShape: [4], layers: [...builtinLayers, gluKind], batch: 'B' },
      normal(23, [7, 4]),
    )
  })
})

describe('exportOnnx: rmsNorm, groupNorm and the convolution layers of issue 15', () => {
  it('rmsNorm (one and two trailing dims, with and without weight) on opsets 13, 17 and 18+', async () => {
    const model = L.sequential(L.dense(6), L.rmsNorm({ eps: 1e-3 }), L.dense(8), L.rmsNorm({ affine: false }))
    const trained = initialise(model, [5])
    const seq = L.sequential(L.embedding(9, 4), L.rmsNorm({ axes: 2, eps: 0.01 }), L.flatten(), L.dense(2))
    const seqTrained = initialise(seq, [3])
    for (const opset of [13, 17, 18, 23]) {
      await check(model, trained, { inputShape: [5], opset }, normal(31, [4, 5]))
      await check(
        seq,
        seqTrained,
        { inputShape: [3], opset },
        T.tensor(
          [
            [1, 8, 0],
            [4, 4, 2],
          ],
          'int32',
        ),
      )
    }
  })

  it('groupNorm on [C, H, W] and [C, L], affine or not, symbolic batch', async () => {
    const model = L.sequential(
      L.conv2d(6, 3, { padding: 1 }),
      L.groupNorm(3, { eps: 1e-3 }),
      L.relu(),
      L.groupNorm(2, { affine: false }),
      L.groupNorm(6),
    )
    const trained = initialise(model, [2, 5, 4])
    for (const opset of [13, 21])
      await check(
        model,
        trained,
        { inputShape: [2, 5, 4], opset },
        normal(32, [3, 2, 5, 4]),
        normal(33, [1, 2, 5, 4]),
      )
    const flat = L.sequential(L.groupNorm(2), L.flatten(), L.dense(3))
    await check(flat, initialise(flat, [4, 7]), { inputShape: [4, 7] }, normal(34, [2, 4, 7]))
  })

  it('grouped and depthwise conv2d export as Conv with group', async () => {
    const model = L.sequential(
      L.conv2d(6, 3, { groups: 2, padding: 1 }),
      L.relu(),
      L.conv2d(12, [3, 2], { groups: 6, stride: 2, useBias: false }),
      L.conv2d(4, 1),
    )
    const trained = initialise(model, [4, 9, 8])
    await check(model, trained, { inputShape: [4, 9, 8] }, normal(37, [2, 4, 9, 8]))
    const convs = decodeGraph(exported(model, trained, { inputShape: [4, 9, 8] })).nodes.filter(
      (n) => n.opType === 'Conv',
    )
    expect(convs.map((n) => n.attributes.find(([name]) => name === 'group')?.[1])).toEqual([2, 6, undefined])
  })

  it('conv2dTranspose exports as ConvTranspose (stride, padding, output padding, dilation, no bias)', async () => {
    const model = L.sequential(
      L.conv2dTranspose(4, 3, { stride: 2, padding: 1, outputPadding: 1 }),
      L.relu(),
      L.conv2dTranspose(3, [2, 3], { stride: [1, 2], padding: [0, 1], dilation: [2, 1], useBias: false }),
      L.conv2d(2, 1),
    )
    const trained = initialise(model, [3, 4, 5])
    const s = await check(
      model,
      trained,
      { inputShape: [3, 4, 5] },
      normal(38, [2, 3, 4, 5]),
      normal(39, [1, 3, 4, 5]),
    )
    // (4 − 1)·2 − 2 + 2 + 1 + 1 = 8 and (5 − 1)·2 − 2 + 2 + 1 + 1 = 10; then 8 + 2 = 10 and (10 − 1)·2 − 2 + 2 + 1 = 19
    expect(metadataShape(s.outputMetadata)).toEqual(['N', 2, 10, 19])
    expect(
      decodeGraph(exported(model, trained, { inputShape: [3, 4, 5] })).nodes.map((n) => n.opType),
    ).toContain('ConvTranspose')
  })

  it('conv1d: strided, dilated, asymmetric and same padding, no bias; symbolic batch and fixed length', async () => {
    const model = L.sequential(
      L.conv1d(4, 3, { padding: 'same' }),
      L.relu(),
      L.conv1d(5, 2, { stride: 2, dilation: 2, padding: [1, 0], useBias: false }),
      L.groupNorm(5),
      L.conv1d(3, 3, { padding: 'same', stride: 2 }),
      L.flatten(),
      L.dense(2),
    )
    const trained = initialise(model, [2, 13])
    const s = await check(
      model,
      trained,
      { inputShape: [2, 13] },
      normal(35, [3, 2, 13]),
      normal(36, [1, 2, 13]),
    )
    expect(metadataShape(s.inputMetadata)).toEqual(['N', 2, 13])
    expect(
      decodeGraph(exported(model, trained, { inputShape: [2, 13] })).nodes.map((n) => n.opType),
    ).toContain('Conv')
  })
})

describe('exportOnnx: lstm as the ONNX LSTM operator', () => {
  it('last state and every step, with and without biases, stacked, after an embedding, on opsets 13 and 21', async () => {
    const single = L.lstm(4)
    const singleTrained = initialise(single, [5, 3])
    const stacked = L.sequential(L.lstm(4, { returnSequences: true }), L.lstm(3, { bias: false }), L.dense(2))
    const stackedTrained = initialise(stacked, [5, 3])
    const sequences = L.sequential(L.embedding(7, 3), L.lstm(2, { returnSequences: true }))
    const sequencesTrained = initialise(sequences, [4])
    for (const opset of [13, 21]) {
      await check(
        single,
        singleTrained,
        { inputShape: [5, 3], opset },
        normal(41, [2, 5, 3]),
        normal(42, [1, 5, 3]),
      )
      await check(stacked, stackedTrained, { inputShape: [5, 3], opset }, normal(43, [3, 5, 3]))
      await check(
        sequences,
        sequencesTrained,
        { inputShape: [4], opset },
        T.tensor(
          [
            [1, 6, 0, 3],
            [2, 2, 5, 4],
          ],
          'int32',
        ),
      )
    }
    const graph = decodeGraph(exported(stacked, stackedTrained, { inputShape: [5, 3] }))
    expect(graph.nodes.filter((n) => n.opType === 'LSTM').map((n) => n.input.length)).toEqual([4, 3])
    expect(graph.initializers).toEqual(expect.arrayContaining(['0.W', '0.R', '0.B', '1.W', '1.R']))
  })

  it('a parameter of the wrong shape is a Left naming it', () => {
    const model = L.lstm(3)
    const { params, state } = initialise(model, [2, 4])
    const bad = { ...params, weight_hh_l0: T.zeros([12, 2]) }
    const result = exportOnnx(model, bad, state, { inputShape: [2, 4] })
    if (E.isRight(result)) throw new Error('expected a Left')
    expect(formatOnnxError(result.left)).toContain('weight_hh_l0')
  })
})

describe('saveOnnx', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backfold-onnx-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('writes a file onnxruntime loads, and reports an unwritable path as a Left', async () => {
    const model = L.sequential(L.dense(3), L.relu())
    const trained = initialise(model, [2])
    const file = join(dir, 'model.onnx')
    const saved = await saveOnnx(file, model, trained.params, trained.state, { inputShape: [2] })
    expect(E.isRight(saved)).toBe(true)
    const s = await ort.InferenceSession.create(file)
    await agrees(s, model, trained, normal(17, [4, 2]))
    expect(readFileSync(file)).toEqual(Buffer.from(exported(model, trained, { inputShape: [2] })))
    const missing = join(dir, 'no-such-dir', 'model.onnx')
    const failed = await saveOnnx(missing, model, trained.params, trained.state, { inputShape: [2] })
    expect(E.isLeft(failed) && failed.left.path).toBe(missing)
  })
})

describe('exportOnnx: gru as the ONNX GRU operator', () => {
  it('last state and every step, with and without bias, known or symbolic length, agree with onnxruntime', async () => {
    for (const [bias, returnSequences] of [
      [true, false],
      [true, true],
      [false, true],
    ] as const) {
      const model = L.sequential(L.gru(5, { bias, returnSequences }))
      const trained = initialise(model, [4, 3])
      for (const opset of [13, 17, 21]) {
        const s = await check(model, trained, { inputShape: [4, 3], opset }, normal(41, [2, 4, 3]))
        expect(metadataShape(s.outputMetadata)).toEqual(returnSequences ? ['N', 4, 5] : ['N', 5])
      }
      await check(
        model,
        trained,
        { inputShape: ['L', 3] },
        normal(42, [3, 4, 3]),
        normal(43, [1, 7, 3]),
        normal(44, [2, 1, 3]),
      )
      const graph = decodeGraph(exported(model, trained, { inputShape: [4, 3] }))
      const gru = graph.nodes.filter((n) => n.opType === 'GRU')
      expect(gru).toHaveLength(1)
      expect(gru[0]!.attributes).toContainEqual(['linear_before_reset', 1])
      expect(gru[0]!.attributes).toContainEqual(['hidden_size', 5])
      expect(graph.initializers.some((n) => n.startsWith('0.B'))).toBe(bias)
    }
  })

  it('stacked GRUs after an embedding agree with onnxruntime', async () => {
    const model = L.sequential(L.embedding(10, 4), L.gru(6, { returnSequences: true }), L.gru(3))
    const trained = initialise(model, [5])
    await check(model, trained, { inputShape: [5] }, T.random.randint(T.random.key(45), [3, 5], 0, 10))
  })
})

describe('exportOnnx: recurrent cells and learned initial states', () => {
  it('lstm and gru with initialState learned: initial_h (initial_c) expanded over the batch agree with onnxruntime', async () => {
    for (const bias of [true, false]) {
      for (const model of [
        L.lstm(4, { initialState: 'learned', bias }),
        L.sequential(
          L.gru(3, { initialState: 'learned', bias, returnSequences: true }),
          L.lstm(2, { initialState: 'learned' }),
        ),
      ] as ReadonlyArray<Layer<unknown, unknown>>) {
        const trained = initialise(model, [5, 3])
        for (const opset of [13, 21])
          await check(
            model,
            trained,
            { inputShape: [5, 3], opset },
            normal(91, [2, 5, 3]),
            normal(92, [3, 5, 3]),
          )
        await check(model, trained, { inputShape: ['L', 3] }, normal(93, [1, 7, 3]))
        const graph = decodeGraph(exported(model, trained, { inputShape: [5, 3] }))
        expect(graph.nodes.filter((n) => n.opType === 'Expand').length).toBeGreaterThan(0)
        expect(graph.initializers.some((n) => n.endsWith('h0'))).toBe(true)
      }
    }
  })

  it('lstmCell (a MatMul/Sigmoid/Tanh subgraph) and gruCell (GRU over one step) agree with onnxruntime', async () => {
    for (const bias of [true, false]) {
      const lstm = L.sequential(L.lstmCell(3, { bias }), L.dense(2))
      const lstmTrained = initialise(lstm, [2 + 6])
      const gru = L.gruCell(4, { bias })
      const gruTrained = initialise(gru, [3 + 4])
      for (const opset of [13, 21]) {
        await check(lstm, lstmTrained, { inputShape: [8], opset }, normal(94, [3, 8]), normal(95, [1, 8]))
        await check(gru, gruTrained, { inputShape: [7], opset }, normal(96, [2, 7]))
      }
      const lstmGraph = decodeGraph(exported(lstm, lstmTrained, { inputShape: [8] }))
      expect(lstmGraph.nodes.filter((n) => n.opType === 'MatMul')).toHaveLength(4)
      const gruGraph = decodeGraph(exported(gru, gruTrained, { inputShape: [7] }))
      expect(gruGraph.nodes.filter((n) => n.opType === 'GRU')).toHaveLength(1)
    }
  })

  it('a cell input too narrow for its hiddenSize is a Left naming the layer', () => {
    const model = L.gruCell(4)
    const { params, state } = initialise(model, [7])
    const result = exportOnnx(model, params, state, { inputShape: [4] })
    if (E.isRight(result)) throw new Error('expected a Left')
    expect(formatOnnxError(result.left)).toMatch(/longer than 4/)
  })
})
