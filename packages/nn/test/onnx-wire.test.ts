import { createRequire } from 'node:module'
import onnxProto from 'onnx-proto'
import type { onnx as OnnxTypes } from 'onnx-proto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import { buildModel, type OnnxExportOptions } from '../src/onnx/export'
import { AttributeType, DataType, ProtoWriter, encodeModel, type ModelProto } from '@backfold/ops/onnx'
import * as L from '../src/layers/index'
import type { Layer } from '../src/layer'

// The encoder is checked against an independent one: protobufjs, through the code onnx-proto
// generated from ONNX's own schema (and protobufjs's writer for the wire-level cases).
const { onnx } = onnxProto
const protobufjs = createRequire(createRequire(import.meta.url).resolve('onnx-proto'))(
  'protobufjs/minimal',
) as {
  Writer: { create(): ReferenceWriter }
}
interface ReferenceWriter {
  uint32(n: number): ReferenceWriter
  int64(n: number): ReferenceWriter
  float(f: number): ReferenceWriter
  bytes(b: Uint8Array): ReferenceWriter
  string(s: string): ReferenceWriter
  fork(): ReferenceWriter
  ldelim(): ReferenceWriter
  finish(): Uint8Array
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const ours = (write: (w: ProtoWriter) => void, capacity?: number): string => {
  const w = new ProtoWriter(capacity)
  write(w)
  return hex(w.finish())
}
const reference = (write: (w: ReferenceWriter) => void): string => {
  const w = protobufjs.Writer.create()
  write(w)
  return hex(w.finish())
}

describe('ProtoWriter: the protobuf wire format', () => {
  it('varints: 1 to 8 bytes for non-negative integers, 10 bytes of two’s complement for negative ones', () => {
    const cases: Array<[number, string]> = [
      [0, '00'],
      [1, '01'],
      [127, '7f'],
      [128, '8001'],
      [300, 'ac02'],
      [2 ** 31, '8080808008'],
      [2 ** 32, '8080808010'],
      [Number.MAX_SAFE_INTEGER, 'ffffffffffffff0f'],
      [-1, 'ffffffffffffffffff01'],
      [-2, 'feffffffffffffffff01'],
      [-(2 ** 31), '80808080f8ffffffff01'],
      [Number.MIN_SAFE_INTEGER, '81808080808080f0ff01'],
    ]
    for (const [n, bytes] of cases) expect([n, ours((w) => w.varint(n))]).toEqual([n, bytes])
    for (const bad of [1.5, 2 ** 53, -(2 ** 53), Number.NaN, Infinity])
      expect(() => new ProtoWriter().varint(bad)).toThrow(RangeError)
  })

  it('int64 varints agree with protobufjs over the safe integers', () => {
    fc.assert(
      fc.property(fc.array(fc.maxSafeInteger(), { maxLength: 8 }), (ns) => {
        expect(ours((w) => ns.forEach((n) => w.varint(n)))).toBe(
          reference((w) => ns.forEach((n) => w.int64(n))),
        )
      }),
    )
  })

  it('floats: little-endian float32, rounding float64 values as protobufjs does', () => {
    expect(ours((w) => w.float(1.5))).toBe('0000c03f')
    expect(ours((w) => w.float(-0))).toBe('00000080')
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (f) => {
        expect(ours((w) => w.float(f))).toBe(reference((w) => w.float(f)))
      }),
    )
  })

  it('strings and bytes: length-prefixed UTF-8, short and long (protobufjs switches method at 40 chars)', () => {
    expect(ours((w) => w.string(''))).toBe('00')
    expect(ours((w) => w.string('aé€😀'))).toBe('0a61c3a9e282acf09f9880')
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 80 }),
        fc.uint8Array({ maxLength: 300 }),
        (s, b) => {
          expect(ours((w) => w.string(s).bytes(b))).toBe(reference((w) => w.string(s).bytes(b)))
        },
      ),
    )
  })

  it('field presence as protobufjs writes it: defined singular fields (even empty), non-empty repeated ones', () => {
    expect(ours((w) => w.stringField(1, ''))).toBe('0a00')
    expect(ours((w) => w.int64Field(2, 0))).toBe('1000')
    expect(ours((w) => w.bytesField(9, new Uint8Array(0)))).toBe('4a00')
    expect(
      ours((w) =>
        w
          .stringField(1, undefined)
          .int64Field(2, undefined)
          .floatField(3, undefined)
          .bytesField(4, undefined)
          .messageField(5, undefined, () => {})
          .repeatedStringField(6, [])
          .packedInt64Field(7, [])
          .packedFloatField(8, undefined)
          .repeatedMessageField(9, [], () => {}),
      ),
    ).toBe('')
    // An empty nested message is still present: key and zero length.
    expect(ours((w) => w.messageField(1, {}, () => {}))).toBe('0a00')
    expect(ours((w) => w.repeatedStringField(1, ['a', '']))).toBe('0a01610a00')
  })

  it('packed repeated int64 and float fields, negative values included', () => {
    expect(ours((w) => w.packedInt64Field(8, [1, -1, 300]))).toBe('420d01ffffffffffffffffff01ac02')
    expect(ours((w) => w.packedFloatField(7, [1.5, -2]))).toBe('3a080000c03f000000c0')
    fc.assert(
      fc.property(fc.array(fc.maxSafeInteger(), { minLength: 1, maxLength: 40 }), (ns) => {
        expect(ours((w) => w.packedInt64Field(1, ns))).toBe(
          reference((w) => {
            w.uint32(10).fork()
            ns.forEach((n) => w.int64(n))
            w.ldelim()
          }),
        )
      }),
    )
  })

  it('nested messages get their length prefix (one byte or more) in front of the body, at any depth', () => {
    const body = Uint8Array.from({ length: 200 }, (_, i) => i)
    const nested = (w: ProtoWriter): void => {
      w.messageField(1, body, (inner, b) =>
        inner.stringField(1, 'x').messageField(2, b, (deeper, bb) => deeper.bytesField(3, bb)),
      )
    }
    const expected = reference((w) => {
      w.uint32(10).fork().uint32(10).string('x').uint32(18).fork().uint32(26).bytes(body).ldelim().ldelim()
    })
    // A tiny initial buffer exercises growth while prefixes shift bodies.
    expect(ours(nested, 1)).toBe(expected)
    expect(ours(nested)).toBe(expected)
  })
})

describe('ONNX messages: enum values are onnx.proto’s', () => {
  it('TensorProto.DataType and AttributeProto.AttributeType', () => {
    for (const [name, value] of Object.entries(DataType))
      expect([name, value]).toEqual([name, onnx.TensorProto.DataType[name as keyof typeof DataType]])
    for (const [name, value] of Object.entries(AttributeType))
      expect([name, value]).toEqual([
        name,
        onnx.AttributeProto.AttributeType[name as keyof typeof AttributeType],
      ])
  })
})

const built = <P, S>(model: Layer<P, S>, inShape: number[], opts: OnnxExportOptions): ModelProto => {
  const init = model.init(T.random.key(3), inShape)
  if (E.isLeft(init)) throw new Error(`${init.left.path}: ${init.left.message}`)
  const m = buildModel(model, init.right.params, init.right.state, opts)
  if (E.isLeft(m)) throw new Error(m.left.message)
  return m.right
}

// Together these cover every exportable layer kind and attribute type (INT, INTS, FLOAT, STRING),
// negative int64 attributes (axis -1), int32 inputs, fixed, symbolic and unknown dimensions, scalar
// initializers (no dims) and non-ASCII names.
const models: Array<[string, () => ModelProto]> = [
  [
    'MLP with batch norm, dropout, dense with ReLU, tanh, softmax',
    () =>
      built(
        L.sequential(
          L.dense(16),
          L.batchNorm(),
          L.relu(),
          L.dropout(0.5),
          L.dense(10, { activation: 'relu' }),
          L.dense(8),
          L.tanh(),
          L.dense(3),
          L.softmax(),
        ),
        [6],
        { inputShape: [6] },
      ),
  ],
  [
    'CNN with pools, padding, leaky relu, fixed batch',
    () =>
      built(
        L.sequential(
          L.conv2d(4, 3, { padding: 'same' }),
          L.batchNorm({ eps: 0.1 }),
          L.relu(),
          L.maxPool2d({ kernelSize: 2 }),
          L.conv2d(6, [3, 2], { stride: 2, padding: [0, 1, 2, 0], dilation: [1, 2], useBias: false }),
          L.leakyRelu(0.2),
          L.avgPool2d({ kernelSize: 2, stride: 1, padding: 1 }),
          L.flatten(),
          L.dense(5),
        ),
        [2, 12, 12],
        { inputShape: [2, 12, 12], batch: 3 },
      ),
  ],
  ...[17, 20].map((opset): [string, () => ModelProto] => [
    `residual layer norm, both gelu forms, silu, elu, sigmoid at opset ${opset}`,
    () => {
      const block = (approximate: 'none' | 'tanh') =>
        L.residual(
          L.sequential(L.layerNorm({ affine: approximate === 'tanh' }), L.dense(12), L.gelu(approximate)),
        )
      return built(
        L.sequential(L.dense(12), block('none'), block('tanh'), L.silu(), L.elu(0.7), L.sigmoid()),
        [7],
        { inputShape: [7], opset },
      )
    },
  ]),
  [
    'parallel branches (record and array) with global average pooling, non-ASCII names',
    () =>
      built(
        L.sequential({
          'größe ünd 😀 a name longer than forty characters': L.parallel(
            L.conv2d(2, 1),
            L.conv2d(3, 3, { padding: 1 }),
            L.maxPool2d({ kernelSize: 3, stride: 1, padding: 1 }),
          ),
          pool: L.globalAvgPool2d(),
          head: L.parallel({ a: L.dense(3), b: L.dense(4) }),
          softmax: L.softmax(1),
        }),
        [2, 5, 5],
        { inputShape: [2, 5, 5], inputName: 'pixels', outputName: 'logits' },
      ),
  ],
  [
    'embedding over a symbolic length (int32 input)',
    () =>
      built(L.sequential(L.embedding(10, 4), L.layerNorm({ axes: 2 }), L.flatten(), L.dense(2)), [5], {
        inputShape: [5],
      }),
  ],
  [
    'fully convolutional over symbolic sizes (auto_pad, unknown dimensions)',
    () =>
      built(
        L.sequential(
          L.conv2d(3, 3, { stride: 2, padding: 'same' }),
          L.batchNorm({ affine: false }),
          L.avgPool2d({ kernelSize: 2, stride: 1 }),
          L.globalAvgPool2d(),
          L.dense(2),
        ),
        [1, 9, 9],
        { inputShape: [1, 'H', 'W'], opset: 23 },
      ),
  ],
]

describe('encodeModel: the bytes of every kind of exported model', () => {
  it.each(models)('%s: identical to protobufjs’s encoding of the same ModelProto', (_, make) => {
    const model = make()
    const bytes = encodeModel(model)
    // Why the cast: onnx-proto's types want mutable arrays; ours are readonly, the values the same.
    const expected = onnx.ModelProto.encode(model as unknown as OnnxTypes.IModelProto).finish()
    expect(bytes).toBeInstanceOf(Uint8Array)
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(expected))).toBe(0)
  })

  it.each(models)('%s: decodes (by onnx-proto) back to the ModelProto it encodes', (_, make) => {
    const model = make()
    const decoded = onnx.ModelProto.toObject(onnx.ModelProto.decode(encodeModel(model)), {
      longs: Number,
      bytes: Array,
    })
    // Bytes become plain arrays on both sides and FLOAT attributes are float32 on the wire;
    // everything else must survive unchanged.
    const plain = JSON.parse(
      JSON.stringify(model, (key, v: unknown) =>
        v instanceof Uint8Array ? Array.from(v) : key === 'f' && typeof v === 'number' ? Math.fround(v) : v,
      ),
    ) as unknown
    const withoutEmpty = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(withoutEmpty)
        : typeof v === 'object' && v !== null
          ? Object.fromEntries(
              Object.entries(v)
                // Empty repeated fields are not on the wire, so they decode as absent.
                .filter(([, x]) => !(Array.isArray(x) && x.length === 0))
                .map(([k, x]) => [k, withoutEmpty(x)]),
            )
          : v
    expect(withoutEmpty(decoded)).toEqual(withoutEmpty(plain))
  })
})
