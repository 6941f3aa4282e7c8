import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import {
  LayerConfigCodec,
  decodeModel,
  encodeModel,
  formatConfigError,
  type ConfigError,
} from '../src/config/index'
import { MAX_JSON_DEPTH } from '../src/json'
import * as L from '../src/layers/index'
import type { AnyLayer } from '../src/layers/index'
import type { Layer, LayerError } from '../src/layer'
import { flattenNamed } from '../src/tree'

const cnn = L.sequential({
  features: L.sequential(
    L.conv2d(4, 3, { padding: 'same' }),
    L.batchNorm({ momentum: 0.2 }),
    L.relu(),
    L.maxPool2d({ kernelSize: 2 }),
    L.conv2d(6, [3, 3], { stride: 1, padding: [1, 1], dilation: 1, useBias: false }),
    L.leakyRelu(0.1),
    L.avgPool2d({ kernelSize: 2, stride: 2 }),
  ),
  head: L.sequential(
    L.flatten(),
    L.dropout(0.25),
    L.dense(8),
    L.residual(L.sequential(L.layerNorm({ eps: 1e-6 }), L.dense(8), L.gelu('tanh'))),
    L.parallel({ a: L.dense(3), b: L.sequential(L.dense(2), L.elu(0.5)) }),
    L.silu(),
    L.dense(5),
    L.softmax(),
  ),
})

/** Any layer as the codec sees it (it only reads kind, config, init and apply). */
const asLayer = (layer: AnyLayer): Layer => layer as unknown as Layer

const right = <A>(e: E.Either<ConfigError | LayerError, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.kind === 'ConfigError' ? formatConfigError(e.left) : e.left.message)
  return e.right
}
const leftOf = (json: unknown): string => {
  const r = decodeModel(json)
  if (E.isRight(r)) throw new Error('expected a Left')
  return formatConfigError(r.left)
}

describe('model configs', () => {
  it('round-trips through JSON text and builds the same network (same params, same outputs)', () => {
    const json = JSON.parse(JSON.stringify(right(encodeModel(cnn as unknown as Layer<unknown, unknown>))))
    const rebuilt = right(decodeModel(json))
    expect(right(encodeModel(rebuilt))).toEqual(json)
    const key = T.random.key(3)
    const a = right(cnn.init(key, [2, 8, 8]))
    const b = right(rebuilt.init(key, [2, 8, 8]))
    expect(b.outShape).toEqual(a.outShape)
    const pa = flattenNamed(a.params)
    const pb = flattenNamed(b.params)
    expect(pb.map(([n]) => n)).toEqual(pa.map(([n]) => n))
    pa.forEach(([, x], i) => expect(T.toArray(pb[i]![1])).toEqual(T.toArray(x)))
    const x = T.random.normal(T.random.key(4), [3, 2, 8, 8])
    const [ya] = cnn.apply(a.params, a.state, x, { training: false })
    const [yb] = rebuilt.apply(b.params, b.state, x, { training: false })
    expect(T.toArray(yb)).toEqual(T.toArray(ya))
  })

  it('decodes a hand-written config', () => {
    const model = right(
      decodeModel({
        kind: 'sequential',
        layers: [{ kind: 'dense', units: 16 }, { kind: 'relu' }, { kind: 'dense', units: 3 }],
      }),
    )
    expect(right(model.init(T.random.key(0), [4])).outShape).toEqual([3])
  })

  it("encodes dense's activation only when set, and decodes configs with and without it", () => {
    const plain = { kind: 'dense', units: 3, useBias: true }
    const fused = { ...plain, activation: 'relu' }
    expect(right(encodeModel(asLayer(L.dense(3))))).toEqual(plain)
    expect(right(encodeModel(asLayer(L.dense(3, { activation: 'linear' }))))).toEqual(plain)
    expect(right(encodeModel(asLayer(L.dense(3, { activation: 'relu' }))))).toEqual(fused)
    const key = T.random.key(5)
    const x = T.random.normal(T.random.key(6), [4, 2])
    const outputOf = (json: unknown): number[] => {
      const model = right(decodeModel(json))
      const { params, state } = right(model.init(key, [2]))
      return T.toArray(model.apply(params, state, x, { training: false })[0])
    }
    // A config written before the option existed (no activation, no useBias) is still a plain dense.
    const old = outputOf({ kind: 'dense', units: 3 })
    // Some outputs are negative, or the ReLU would not show.
    expect(old.some((v) => v < 0)).toBe(true)
    expect(outputOf(plain)).toEqual(old)
    expect(outputOf({ ...plain, activation: 'linear' })).toEqual(old)
    expect(outputOf(fused)).toEqual(old.map((v) => Math.max(v, 0)))
    expect(right(encodeModel(right(decodeModel(fused))))).toEqual(fused)
  })

  it.each([
    [
      { kind: 'dense', units: 2, activation: 'tanh' },
      /^activation: expected 'relu' or 'linear', got "tanh"$/,
    ],
    [
      {
        kind: 'sequential',
        layers: [
          { kind: 'dense', units: 4 },
          { kind: 'dense', units: -3 },
        ],
      },
      /^layers\.1\.units: expected a positive integer, got -3$/,
    ],
    [{ kind: 'dense' }, /^units: is required: expected a positive integer$/],
    [{ kind: 'dropout', rate: 1.5 }, /^rate: expected a rate with 0 <= rate < 1, got 1.5$/],
    [
      { kind: 'conv2d', outChannels: 2, kernelSize: 3, padding: 'full' },
      /^padding: expected 'same', 'valid'/,
    ],
    [{ kind: 'dense', units: 2, unitz: 3 }, /^unitz: is not an option of dense/],
    [
      { kind: 'transformer' },
      /^kind: expected one of sequential, .*dense, .*got "transformer"; a custom kind must be defined with defineLayer and passed in the layers option/,
    ],
    [
      { kind: 'sequential', layers: { body: { kind: 'residual', body: 7 } } },
      /^layers\.body\.body: expected a layer config object/,
    ],
    [[1, 2], /expected a layer config object/],
  ])('rejects %j with the JSON path and what was expected', (json, pattern) => {
    expect(leftOf(json)).toMatch(pattern)
  })

  it('refuses to encode a custom layer without a config', () => {
    const custom: Layer<unknown, unknown> = {
      kind: 'mine',
      init: (_k, s) => E.right({ params: {}, state: {}, outShape: s }),
      apply: (_p, s, x) => [x, s],
    }
    const model = L.sequential(L.dense(2), custom)
    const result = encodeModel(model as unknown as Layer<unknown, unknown>)
    expect(E.isLeft(result) && result.left.message).toMatch(/^the layer '1 \(mine\)' has no config/)
  })

  it('round-trips random networks: same config, params, outputs and state (property)', () => {
    // Layers that keep a [N, F] batch's shape, so they can be residual bodies.
    const preserving: fc.Arbitrary<Layer> = fc
      .oneof(
        fc.constantFrom(
          L.relu(),
          L.tanh(),
          L.sigmoid(),
          L.silu(),
          L.gelu('none'),
          L.gelu('tanh'),
          L.softmax(1),
        ),
        // -0 is drawn as +0: JSON has no negative zero, so a config round trip turns -0 into 0 (and
        // elu's zero outputs change sign), which is JSON's doing, not the codec's.
        fc.double({ min: -2, max: 2, noNaN: true }).map((alpha) => L.elu(alpha === 0 ? 0 : alpha)),
        fc.double({ min: 0, max: 0.5, noNaN: true }).map((slope) => L.leakyRelu(slope)),
        fc.double({ min: 0, max: 0.9, noNaN: true }).map((rate) => L.dropout(rate)),
        fc.record({ eps: fc.constantFrom(1e-5, 1e-3), affine: fc.boolean() }).map((o) => L.layerNorm(o)),
        fc
          .record({
            momentum: fc.constantFrom(0.1, 0.5, 1),
            eps: fc.constantFrom(1e-5, 0.01),
            affine: fc.boolean(),
          })
          .map((o) => L.batchNorm(o)),
      )
      .map(asLayer)
    const dense = fc
      .record({
        units: fc.integer({ min: 1, max: 4 }),
        useBias: fc.boolean(),
        activation: fc.constantFrom('relu', 'linear', undefined),
      })
      .map(({ units, useBias, activation }) =>
        asLayer(L.dense(units, { useBias, ...(activation === undefined ? {} : { activation }) })),
      )
    const { layer } = fc.letrec<{ layer: Layer }>((tie) => ({
      layer: fc.oneof(
        { depthSize: 'small' },
        dense,
        preserving,
        preserving.map((body) => asLayer(L.residual(body))),
        fc.array(tie('layer'), { minLength: 1, maxLength: 3 }).map((ls) => asLayer(L.sequential(...ls))),
        fc
          .uniqueArray(fc.tuple(fc.constantFrom('a', 'b', 'head', '0x'), tie('layer')), {
            minLength: 1,
            maxLength: 2,
            selector: ([k]) => k,
          })
          .map((entries) => asLayer(L.sequential(Object.fromEntries(entries)))),
        fc.array(tie('layer'), { minLength: 1, maxLength: 2 }).map((ls) => asLayer(L.parallel(...ls))),
      ),
    }))
    fc.assert(
      fc.property(layer, fc.integer({ min: 0, max: 1000 }), (model, seed) => {
        const text = JSON.stringify(right(encodeModel(model)))
        const rebuilt = right(decodeModel(JSON.parse(text)))
        expect(JSON.stringify(right(encodeModel(rebuilt)))).toBe(text)
        const key = T.random.key(seed)
        const a = right(model.init(key, [3]))
        const b = right(rebuilt.init(key, [3]))
        expect(b.outShape).toEqual(a.outShape)
        const sameTrees = (x: unknown, y: unknown): void => {
          const fx = flattenNamed(x)
          const fy = flattenNamed(y)
          expect(fy.map(([n, t]) => [n, t.dtype, t.shape])).toEqual(fx.map(([n, t]) => [n, t.dtype, t.shape]))
          fx.forEach(([, t], i) => expect(T.toArray(fy[i]![1])).toEqual(T.toArray(t)))
        }
        sameTrees(a.params, b.params)
        const x = T.random.normal(T.random.key(seed + 1), [4, 3])
        const ctx = { training: true, key: T.random.key(seed + 2) }
        const [ya, sa] = model.apply(a.params, a.state, x, ctx)
        const [yb, sb] = rebuilt.apply(b.params, b.state, x, ctx)
        expect(T.toArray(yb)).toEqual(T.toArray(ya))
        sameTrees(sa, sb)
      }),
      { numRuns: 40 },
    )
  })
})

describe('model configs from outside: depth, names and odd values', () => {
  /** `n` sequentials inside each other around a relu (2 n + 1 levels of JSON), built without recursion. */
  const nestedSequentials = (n: number): unknown => {
    let config: unknown = { kind: 'relu' }
    for (let i = 0; i < n; i++) config = { kind: 'sequential', layers: [config] }
    return config
  }
  const tooDeep =
    `the model config is nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects, the most backfold reads ` +
    '(it refuses deeper values rather than recurse without bound); a sequential or parallel takes two levels ' +
    'and a residual one, so about 127 combinators fit inside each other: flatten the nesting ' +
    '(a sequential inside a sequential adds nothing)'

  it('refuses 2,600 nested sequentials (and other deep values) with a Left naming the limit, never a RangeError', () => {
    expect(leftOf(nestedSequentials(2_600))).toBe(tooDeep)
    let residuals: unknown = { kind: 'relu' }
    for (let i = 0; i < 100_000; i++) residuals = { kind: 'residual', body: residuals }
    expect(leftOf(residuals)).toBe(tooDeep)
    let garbage: unknown = 1
    for (let i = 0; i < 1_000_000; i++) garbage = [garbage]
    expect(leftOf({ kind: 'dense', units: garbage })).toBe(tooDeep)
    expect(leftOf({ kind: 'sequential', layers: { a: { kind: 'dense', units: 2 }, b: garbage } })).toBe(
      tooDeep,
    )
    const cyclic: { kind: string; layers: unknown[] } = { kind: 'sequential', layers: [] }
    cyclic.layers.push(cyclic)
    expect(leftOf(cyclic)).toBe(tooDeep)
    // The io-ts view of the decoder fails the same way instead of throwing.
    const viaCodec = LayerConfigCodec.decode(nestedSequentials(2_600))
    expect(E.isLeft(viaCodec) && viaCodec.left[0]?.message).toBe(tooDeep)
  })

  it('builds the deepest config the bound allows (127 nested sequentials) and refuses one more', () => {
    const deepest = right(decodeModel(nestedSequentials(127)))
    expect(right(deepest.init(T.random.key(0), [3])).outShape).toEqual([3])
    expect(JSON.stringify(right(encodeModel(deepest)))).toBe(JSON.stringify(nestedSequentials(127)))
    expect(leftOf(nestedSequentials(128))).toBe(tooDeep)
  })

  it('keeps a layer named __proto__ (or constructor) as an ordinary named layer', () => {
    const text =
      '{"kind":"sequential","layers":{"first":{"kind":"dense","units":4},"__proto__":{"kind":"dense","units":5},' +
      '"constructor":{"kind":"dense","units":6},"last":{"kind":"dense","units":2}}}'
    const model = right(decodeModel(JSON.parse(text)))
    // Encoded with every option spelled out, in the same order, under the same names.
    const dense = (units: number): string => `{"units":${units},"useBias":true,"kind":"dense"}`
    expect(JSON.stringify(right(encodeModel(model)))).toBe(
      `{"kind":"sequential","layers":{"first":${dense(4)},"__proto__":${dense(5)},"constructor":${dense(6)},"last":${dense(2)}}}`,
    )
    const { params, outShape } = right(model.init(T.random.key(1), [3]))
    expect(outShape).toEqual([2])
    expect(flattenNamed(params).map(([name, x]) => [name, x.shape])).toEqual([
      ['first.weight', [4, 3]],
      ['first.bias', [4]],
      ['__proto__.weight', [5, 4]],
      ['__proto__.bias', [5]],
      ['constructor.weight', [6, 5]],
      ['constructor.bias', [6]],
      ['last.weight', [2, 6]],
      ['last.bias', [2]],
    ])
    const parallel = right(
      decodeModel(
        JSON.parse(
          '{"kind":"parallel","layers":{"__proto__":{"kind":"dense","units":3},"b":{"kind":"relu"}}}',
        ),
      ),
    )
    expect(Object.keys(right(parallel.init(T.random.key(2), [4])).params as object)).toEqual([
      '__proto__',
      'b',
    ])
  })

  it('never throws, whatever value it is given (property)', () => {
    const kinds = fc.constantFrom(
      'dense',
      'conv2d',
      'sequential',
      'parallel',
      'residual',
      'relu',
      'softmax',
      '__proto__',
    )
    const configLike = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        fc.anything({
          withBigInt: true,
          withBoxedValues: true,
          withNullPrototype: true,
          withSparseArray: true,
        }),
        fc.record({
          kind: kinds,
          layers: fc.oneof(fc.array(tie('node')), fc.dictionary(fc.string(), tie('node'))),
        }),
        fc.record({ kind: kinds, body: tie('node') }),
        fc.dictionary(
          fc.constantFrom('kind', 'units', 'kernelSize', 'padding', 'axis', 'rate', '__proto__'),
          fc.anything(),
        ),
      ),
    })).node
    fc.assert(
      fc.property(configLike, (value) => {
        const decoded = decodeModel(value)
        if (E.isLeft(decoded)) expect(typeof formatConfigError(decoded.left)).toBe('string')
        expect(typeof LayerConfigCodec.is(value)).toBe('boolean')
      }),
      { numRuns: 500 },
    )
  })

  it('refuses layer names that cannot be parameter paths, and odd values, with a Left', () => {
    expect(leftOf({ kind: 'sequential', layers: { 'a.b': { kind: 'relu' } } })).toBe(
      `layers.a.b: layer name "a.b" must be non-empty and contain no '.' (names join into dotted parameter paths)`,
    )
    expect(leftOf({ kind: 'parallel', layers: { '': { kind: 'relu' } } })).toMatch(/^layers\.: layer name ""/)
    expect(leftOf({ kind: 'dense', units: 10n })).toBe('units: expected a positive integer, got 10n')
    expect(leftOf({ kind: 'dense', units: () => 3 })).toBe('units: expected a positive integer, got function')
  })
})
