// A custom layer kind, defined once with defineLayer, goes everywhere a built-in one goes:
// encodeModel/decodeModel, checkpoints (fitWithCheckpoints, then resumeFit) and ONNX export (run in
// onnxruntime-node by onnx.test.ts). The GLU's values are checked against a loop written from the
// formula (fixtures/glu.ts).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import * as T from '@backfold/tensor'
import * as O from '@backfold/ops'
import {
  builtinKinds,
  builtinLayers,
  decodeModel,
  defineLayer,
  encodeModel,
  exportOnnx,
  formatConfigError,
  layers,
  meanSquaredError,
  adam,
  fit,
  type Layer,
  type ModelConfig,
} from '@backfold/nn'
import { fitWithCheckpoints, loadCheckpoint, resumeFit } from '@backfold/nn/node'
import { formatCheckpointError } from '../src/checkpoint/safetensors'
import { flattenNamed } from '../src/tree'
import { PositiveInt, glu, gluKind, gluReference, kinds } from './fixtures/glu'

const right = <A>(e: E.Either<{ readonly message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(`expected Right, got ${JSON.stringify(e.left)}`)
  return e.right
}
const leftOf = <A>(e: E.Either<unknown, A>): unknown => {
  if (E.isRight(e)) throw new Error('expected a Left')
  return e.left
}
const worst = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!))
  return m
}
const bits = (x: T.Tensor): Buffer => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)
const expectBitwiseEqual = (a: unknown, b: unknown): void => {
  const fa = flattenNamed(a)
  const fb = flattenNamed(b)
  expect(fb.map(([n]) => n)).toEqual(fa.map(([n]) => n))
  fa.forEach(([name, x], i) => expect(Buffer.compare(bits(x), bits(fb[i]![1])), name).toBe(0))
}

const model = layers.sequential(layers.dense(6), layers.relu(), glu(4), layers.dense(2))
const inShape = [3]
const x = T.random.normal(T.random.key(3), [5, 3])

describe('a custom GLU layer', () => {
  it('computes the gated linear unit', () => {
    const layer = glu(4)
    const { params, state } = right(layer.init(T.random.key(1), [3]))
    const [y] = layer.apply(params, state, x, { training: false })
    expect(y.shape).toEqual([5, 4])
    expect(worst(y.data, gluReference(x, params))).toBeLessThan(1e-5)
  })

  it('round-trips through encodeModel/decodeModel: same config, parameters and outputs', () => {
    const json = JSON.parse(JSON.stringify(right(encodeModel(model, { layers: kinds }))))
    expect(json.layers[2]).toEqual({ kind: 'glu', units: 4 })
    const rebuilt = right(decodeModel(json, { layers: kinds }))
    expect(right(encodeModel(rebuilt, { layers: kinds }))).toEqual(json)
    const a = right(model.init(T.random.key(7), inShape))
    const b = right(rebuilt.init(T.random.key(7), inShape))
    expectBitwiseEqual(a.params, b.params)
    const [ya] = model.apply(a.params, a.state, x, { training: false })
    const [yb] = rebuilt.apply(b.params, b.state, x, { training: false })
    expect(Buffer.compare(bits(ya), bits(yb))).toBe(0)

    // The augmented config type narrows on the custom kind.
    const config: ModelConfig = right(encodeModel(glu(3)!, { layers: kinds }))
    const units: number = config.kind === 'glu' ? config.units : -1
    expect(units).toBe(3)
  })

  it('without its kind in the layers option, every config reader says how to pass it', () => {
    const noKind = formatConfigError(leftOf(encodeModel(model)) as never)
    expect(noKind).toMatch(
      /^layers\.2\.kind: expected one of .*got "glu"; a custom kind must be defined with defineLayer/,
    )
    expect(formatConfigError(leftOf(decodeModel({ kind: 'glu', units: 2 })) as never)).toMatch(
      /\{ layers: \[\.\.\.builtinLayers, gluKind\] \}/,
    )
    expect(
      formatConfigError(leftOf(decodeModel({ kind: 'glu', units: 0 }, { layers: kinds })) as never),
    ).toMatch(/^units: expected PositiveInt, got 0$/)
    expect(
      formatConfigError(
        leftOf(decodeModel({ kind: 'glu', units: 2, gate: 'x' }, { layers: kinds })) as never,
      ),
    ).toMatch(/^gate: is not an option of glu \(options: units\)$/)
    expect(
      formatConfigError(
        leftOf(decodeModel({ kind: 'glu', units: 2 }, { layers: [...kinds, gluKind] })) as never,
      ),
    ).toMatch(/lists the kind 'glu' twice/)
    expect(() => gluKind.create({ units: -1 })).toThrow(/do not pass the codec/)
    // The layer runs the options its config holds: changing the caller's object later changes nothing.
    const options = { units: 2 }
    const made = gluKind.create(options)
    options.units = 5
    expect(right(made.init(T.random.key(0), [3])).outShape).toEqual([2])
    expect(made.config).toEqual({ kind: 'glu', units: 2 })
    // A field the strict codec drops would be trained with but not saved: refused.
    expect(() => gluKind.create({ units: 2, gate: 'tanh' } as never)).toThrow(
      /glu: unknown option 'gate' \(options: units\)/,
    )
  })

  it("a kind's allocation gets the decoded options, and nothing when they do not decode", () => {
    const sized = defineLayer({
      kind: 'sizedGlu',
      options: t.strict({ units: PositiveInt }),
      init: ({ units }, _key, inShape) =>
        E.right({ params: { w: T.zeros([units, inShape[0]!]) }, state: {}, outShape: [units] }),
      apply: (_o, p: { readonly w: T.Tensor }, state: Record<never, never>, v) => [
        O.matmul(v, p.w, { transposeB: true }),
        state,
      ],
      allocation: ({ units }, inShape) =>
        inShape.length === 1 ? { size: units * inShape[0]!, outShape: [units] } : undefined,
    })
    expect(sized.allocation?.({ kind: 'sizedGlu', units: 4 }, [3], () => undefined)).toEqual({
      size: 12,
      outShape: [4],
    })
    expect(sized.allocation?.({ kind: 'sizedGlu', units: -4 }, [3], () => undefined)).toBeUndefined()
    expect(gluKind.allocation).toBeUndefined()
  })

  it('export without the kind in the layers option names the layer and what to pass', () => {
    const { params, state } = right(model.init(T.random.key(5), inShape))
    const onnxError = exportOnnx(model, params, state, { inputShape: inShape })
    expect(E.isLeft(onnxError) && onnxError.left.path).toBe('2 (glu)')
    expect(E.isLeft(onnxError) && onnxError.left.message).toMatch(
      /layer kind 'glu' has no ONNX export: it is not among the kinds of the layers option/,
    )
    // With it: a graph (run in onnxruntime by onnx.test.ts, the one file that loads it).
    expect(E.isRight(exportOnnx(model, params, state, { inputShape: inShape, layers: kinds }))).toBe(true)
  })

  it('a kind without an ONNX emitter is a Left naming it and its path', () => {
    const plainKind = defineLayer({
      kind: 'double',
      options: t.strict({}),
      init: (_o, _k, s) => E.right({ params: {}, state: {}, outShape: s }),
      apply: (_o, _p, s: Record<never, never>, v) => [O.mul(v, 2), s],
    })
    const m = layers.sequential({ body: layers.sequential(layers.dense(2), plainKind.create({})) })
    const { params, state } = right(m.init(T.random.key(0), [3]))
    const e = leftOf(
      exportOnnx(m, params, state, { inputShape: [3], layers: [...builtinLayers, plainKind] }),
    ) as {
      path: string
      message: string
    }
    expect(e.path).toBe('body.1 (double)')
    expect(e.message).toMatch(/layer kind 'double' has no ONNX export: its defineLayer has no onnx emitter/)
  })
})

describe('the built-in kinds', () => {
  it('are keyed by their kind, each with an ONNX export; the map does not compile without one', () => {
    for (const [name, kind] of Object.entries(builtinKinds)) {
      expect(kind.kind).toBe(name)
      expect(typeof kind.onnx.emit).toBe('function')
    }
    expect(builtinLayers.map((k) => k.kind)).toEqual(Object.keys(builtinKinds))
    const { onnx: _dropped, ...withoutOnnx } = builtinKinds.relu
    // @ts-expect-error a built-in kind without its ONNX export does not fit the typed map
    const broken: typeof builtinKinds = { ...builtinKinds, relu: withoutOnnx }
    const { relu: _relu, ...withoutRelu } = builtinKinds
    // @ts-expect-error every built-in kind must have its definition in the map
    const missing: typeof builtinKinds = withoutRelu
    expect([broken.relu.onnx, 'relu' in missing]).toEqual([undefined, false])
  })

  it('a layers option that is not a list of kinds is a Left, not a TypeError', () => {
    const bad = [{ layers: 'dense' }, { layers: [{ kind: 'x' }] }] as never[]
    for (const opts of bad)
      expect(formatConfigError(leftOf(decodeModel({ kind: 'relu' }, opts)) as never)).toMatch(/layers option/)
  })
})

describe('a custom GLU layer in checkpoints', () => {
  const root = mkdtempSync(join(tmpdir(), 'backfold-glu-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))
  const data = {
    x: T.random.normal(T.random.key(11), [24, 3]),
    y: T.random.normal(T.random.key(12), [24, 2]),
  }
  const base = { model, loss: meanSquaredError, data, batchSize: 8 }
  const initial = right(model.init(T.random.key(1), inShape))
  const key = T.random.key(2)

  it('fitWithCheckpoints then resumeFit gives bitwise the uninterrupted run', () => {
    const dir = join(root, 'run')
    const first = fitWithCheckpoints({
      ...base,
      optimizer: adam(0.01),
      params: initial.params,
      state: initial.state,
      epochs: 2,
      key,
      checkpoint: { dir, inShape, layers: kinds },
    })
    if (E.isLeft(first)) throw new Error(formatCheckpointError(first.left))
    const resumed = resumeFit(dir, { ...base, optimizer: adam(0.01), epochs: 4, layers: kinds })
    if (E.isLeft(resumed)) throw new Error(formatCheckpointError(resumed.left))
    const straight = fit({
      ...base,
      optimizer: adam(0.01),
      params: initial.params,
      state: initial.state,
      epochs: 4,
      key,
    })
    expectBitwiseEqual(straight.params, resumed.right.params)
    expectBitwiseEqual(straight.optState, resumed.right.optState)
    const loaded = loadCheckpoint(dir, model, { layers: kinds })
    if (E.isLeft(loaded)) throw new Error(formatCheckpointError(loaded.left))
    expect(loaded.right.config).toEqual(right(encodeModel(model, { layers: kinds })))
    expect(loaded.right.epoch).toBe(4)
    // Decoded from the checkpoint's own config, the model runs the saved parameters.
    const rebuilt = right(decodeModel(loaded.right.config, { layers: kinds }))
    const [y] = rebuilt.apply(loaded.right.params, loaded.right.state, x, { training: false })
    const [expected] = model.apply(straight.params, straight.state, x, { training: false })
    expect(Buffer.compare(bits(y), bits(expected))).toBe(0)
  })

  it('without the kind, saving and loading say to pass it; checkpoint.config works once it is passed', () => {
    const options = {
      ...base,
      optimizer: adam(0.01),
      params: initial.params,
      state: initial.state,
      epochs: 1,
      key,
    }
    const refused = fitWithCheckpoints({ ...options, checkpoint: { dir: join(root, 'a'), inShape } })
    expect(E.isLeft(refused) && formatCheckpointError(refused.left)).toMatch(
      /config\.json: layers\.2\.kind: .*got "glu"; a custom kind must be defined with defineLayer and passed in the layers option/,
    )
    // The escape hatch: an explicit config, with its kinds.
    const config = right(encodeModel(model, { layers: kinds }))
    const hatch = fitWithCheckpoints({
      ...options,
      checkpoint: { dir: join(root, 'b'), inShape, config, layers: kinds },
    })
    expect(E.isRight(hatch)).toBe(true)
    const withoutKinds = fitWithCheckpoints({
      ...options,
      checkpoint: { dir: join(root, 'c'), inShape, config },
    })
    expect(E.isLeft(withoutKinds) && formatCheckpointError(withoutKinds.left)).toMatch(
      /got "glu"; a custom kind/,
    )
    const load = loadCheckpoint(join(root, 'b'), model)
    expect(E.isLeft(load) && formatCheckpointError(load.left)).toMatch(
      /b\/config\.json: layers\.2\.kind: .*got "glu"; a custom kind must be defined with defineLayer/,
    )
  })

  it('a plain { init, apply } layer (no kind) is refused with what to do', () => {
    const plain: Layer<Record<never, never>, Record<never, never>> = {
      kind: 'mine',
      init: (_k, s) => E.right({ params: {}, state: {}, outShape: s }),
      apply: (_p, s, v) => [v, s],
    }
    const m = layers.sequential(layers.dense(2), plain)
    const built = right(m.init(T.random.key(0), inShape))
    const r = fitWithCheckpoints({
      ...base,
      model: m,
      optimizer: adam(0.01),
      params: built.params,
      state: built.state,
      epochs: 1,
      key,
      checkpoint: { dir: join(root, 'plain'), inShape },
    })
    expect(E.isLeft(r) && formatCheckpointError(r.left)).toMatch(
      /has no config.*define its kind with defineLayer/,
    )
  })
})
