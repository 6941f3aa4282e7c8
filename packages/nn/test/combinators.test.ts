import { describe, it, expect, expectTypeOf } from 'vitest'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { formatLayerError } from '../src/layer'
import type { NoParams, NoState } from '../src/layer'
import { flattenNamed } from '../src/tree'
import {
  batchNorm,
  conv2d,
  dense,
  dropout,
  flatten,
  parallel,
  relu,
  residual,
  sequential,
} from '../src/layers/index'
import type {
  BatchNormParams,
  BatchNormState,
  Conv2dParams,
  DenseParams,
  LayerParams,
} from '../src/layers/index'
import { unwrap, leftOf, key, randn, evalCtx } from './helpers'

const names = (tree: unknown): string[] => flattenNamed(tree).map(([name]) => name)
const values = (x: Tensor): number[] => Array.from(x.data)

const expectClose = (actual: Tensor, expected: Tensor, tol = 1e-12): void => {
  expect(actual.shape).toEqual(expected.shape)
  for (let i = 0; i < expected.data.length; i++)
    expect(Math.abs(actual.data[i]! - expected.data[i]!)).toBeLessThanOrEqual(
      tol * (1 + Math.abs(expected.data[i]!)),
    )
}

describe('sequential (positional)', () => {
  const model = sequential(dense(3, { dtype: 'float64' }), relu(), dense(2, { dtype: 'float64' }))

  it('has tuple-typed params and state, one entry per layer', () => {
    const { params, state, outShape } = unwrap(model.init(key(0), [4]))
    expectTypeOf(params).toEqualTypeOf<readonly [DenseParams, NoParams, DenseParams]>()
    expectTypeOf(state).toEqualTypeOf<readonly [NoState, NoState, NoState]>()
    expectTypeOf<LayerParams<typeof model>>().toEqualTypeOf<readonly [DenseParams, NoParams, DenseParams]>()
    // @ts-expect-error a dense layer's params have no `kernel`
    void params[0].kernel
    // @ts-expect-error there is no fourth layer
    void params[3]
    expect(outShape).toEqual([2])
    expect(params).toHaveLength(3)
    expect(state).toEqual([{}, {}, {}])
    expect(params[0].weight.shape).toEqual([3, 4])
    expect(params[2].weight.shape).toEqual([2, 3])
  })

  it('names parameters by position', () => {
    const { params } = unwrap(model.init(key(0), [4]))
    expect(names(params)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias'])
  })

  it('splits the init key into one key per child', () => {
    const { params } = unwrap(model.init(key(0), [4]))
    const [k0, , k2] = T.random.split(key(0), 3)
    expect(values(params[0].weight)).toEqual(
      values(unwrap(dense(3, { dtype: 'float64' }).init(k0, [4])).params.weight),
    )
    expect(values(params[2].weight)).toEqual(
      values(unwrap(dense(2, { dtype: 'float64' }).init(k2, [3])).params.weight),
    )
    expect(values(params[0].weight)).not.toEqual(
      values(unwrap(dense(3, { dtype: 'float64' }).init(key(0), [4])).params.weight),
    )
  })

  it('applies the layers in order', () => {
    const { params, state } = unwrap(model.init(key(0), [4]))
    const x = randn(1, [5, 4])
    const [y, nextState] = model.apply(params, state, x, evalCtx)
    const hidden = O.relu(O.add(O.matmul(x, params[0].weight, { transposeB: true }), params[0].bias))
    const expected = O.add(O.matmul(hidden, params[2].weight, { transposeB: true }), params[2].bias)
    expectClose(y, expected)
    expect(nextState).toEqual([{}, {}, {}])
  })

  it('is differentiable w.r.t. every parameter and the input', () => {
    const { params, state } = unwrap(model.init(key(0), [4]))
    const x = randn(2, [3, 4])
    const report = O.checkVjp(
      (input, w0, b0, w2, b2) =>
        model.apply([{ weight: w0, bias: b0 }, {}, { weight: w2, bias: b2 }], state, input, evalCtx)[0],
      [x, randn(3, [3, 4]), randn(4, [3]), randn(5, [2, 3]), randn(6, [2])],
    )
    expect(report.ok, report.message).toBe(true)
    // grad of a loss over the params tree returns a tree of the same type and names.
    const grads = O.grad((p: typeof params) => O.sum(O.square(model.apply(p, state, x, evalCtx)[0])))(params)
    expectTypeOf(grads).toEqualTypeOf<typeof params>()
    expect(names(grads)).toEqual(names(params))
  })

  it('reports where a badly wired network fails, with a dotted path', () => {
    const bad = sequential(dense(3), relu(), dense(0))
    const e = leftOf(bad.init(key(0), [4]))
    expect(e.path).toBe('2 (dense)')
    expect(e.message).toContain('units')
    const nested = sequential({ stem: flatten(), body: sequential(dense(8), relu(), conv2d(4, 3)) })
    const n = leftOf(nested.init(key(0), [2, 2]))
    expect(n.path).toBe('body.2 (conv2d)')
    expect(n.message).toContain('[8]')
    expect(formatLayerError(n)).toMatch(/^body\.2 \(conv2d\): /)
    const deeper = sequential(
      sequential(sequential(relu(), dense(3, { useBias: true }), dense(2))),
      flatten(),
    )
    expect(unwrap(deeper.init(key(0), [5])).outShape).toEqual([2])
    expect(leftOf(sequential(sequential(sequential(relu(), dense(-1)))).init(key(0), [5])).path).toBe(
      '0.0.1 (dense)',
    )
  })

  it('is the identity when empty', () => {
    const empty = sequential()
    const { params, outShape } = unwrap(empty.init(key(0), [3]))
    expect(params).toEqual([])
    expect(outShape).toEqual([3])
    const x = randn(1, [2, 3])
    expect(empty.apply(params, [], x, evalCtx)[0]).toBe(x)
  })

  it('rejects arguments that are not layers', () => {
    // @ts-expect-error a number is not a layer
    expect(() => sequential(dense(3), 5)).toThrow(/argument 1 is not a layer/)
    expect(() => sequential({ 'a.b': dense(3) })).toThrow(/no '\.'/)
  })
})

describe('sequential (named)', () => {
  const model = sequential({
    features: conv2d(2, 3, { padding: 1 }),
    act: relu(),
    flat: flatten(),
    classifier: dense(5),
  })

  it('has record-typed params named by key', () => {
    const { params, outShape } = unwrap(model.init(key(0), [1, 4, 4]))
    expectTypeOf(params).toEqualTypeOf<{
      readonly features: Conv2dParams
      readonly act: NoParams
      readonly flat: NoParams
      readonly classifier: DenseParams
    }>()
    // @ts-expect-error there is no layer called `head`
    void params.head
    // @ts-expect-error conv2d params have no `gamma`
    void params.features.gamma
    expect(outShape).toEqual([5])
    expect(names(params)).toEqual([
      'features.weight',
      'features.bias',
      'classifier.weight',
      'classifier.bias',
    ])
    expect(params.classifier.weight.shape).toEqual([5, 32])
  })

  it('applies in key order and names errors by key', () => {
    const { params, state } = unwrap(model.init(key(0), [1, 4, 4]))
    const x = T.random.normal(key(1), [3, 1, 4, 4])
    const [y] = model.apply(params, state, x, evalCtx)
    expect(y.shape).toEqual([3, 5])
    const e = leftOf(model.init(key(0), [4, 4]))
    expect(e.path).toBe('features (conv2d)')
    expect(e.message).toContain('[4,4]')
  })
})

describe('key handling in apply', () => {
  it('gives every dropout its own key, and needs none in evaluation', () => {
    const model = sequential(dropout(0.5), dropout(0.5))
    const { params, state } = unwrap(model.init(key(0), [1000]))
    const x = T.ones([1, 1000], 'float64')
    const [y] = model.apply(params, state, x, { training: true, key: key(9) })
    // Two independent masks keep 1/4 of the elements, each scaled by 4; one shared mask would keep 1/2 (scaled by 4).
    const kept = values(y).filter((v) => v !== 0)
    expect(kept.every((v) => v === 4)).toBe(true)
    expect(kept.length).toBeGreaterThan(200)
    expect(kept.length).toBeLessThan(300)
    // The same as splitting the key by hand.
    const [k0, k1] = T.random.split(key(9), 2)
    const first = dropout(0.5).apply({}, {}, x, { training: true, key: k0 })[0]
    const second = dropout(0.5).apply({}, {}, first, { training: true, key: k1 })[0]
    expect(values(y)).toEqual(values(second))
    expect(model.apply(params, state, x, evalCtx)[0]).toBe(x)
    expect(() => model.apply(params, state, x, { training: true })).toThrow(/ctx\.key/)
  })
})

describe('state threading', () => {
  it('returns each child its new state (batch norm inside sequential)', () => {
    const model = sequential(dense(3, { dtype: 'float64' }), batchNorm({ dtype: 'float64' }), relu())
    const { params, state } = unwrap(model.init(key(0), [2]))
    expectTypeOf(params).toEqualTypeOf<readonly [DenseParams, BatchNormParams, NoParams]>()
    expectTypeOf(state).toEqualTypeOf<readonly [NoState, BatchNormState, NoState]>()
    expect(names(state)).toEqual(['1.runningMean', '1.runningVar'])
    const x = randn(3, [4, 2])
    const [, next] = model.apply(params, state, x, { training: true })
    const hidden = dense(3).apply(params[0], {}, x, evalCtx)[0]
    const [, expected] = batchNorm().apply(params[1], state[1], hidden, { training: true })
    expect(values(next[1].runningMean)).toEqual(values(expected.runningMean))
    expect(values(next[1].runningVar)).toEqual(values(expected.runningVar))
    expect(values(next[1].runningMean)).not.toEqual(values(state[1].runningMean))
  })
})

describe('residual', () => {
  it('adds the input to the body output and keeps the body params', () => {
    const block = residual(sequential(dense(4, { dtype: 'float64' }), relu(), dense(3, { dtype: 'float64' })))
    const { params, outShape } = unwrap(block.init(key(0), [3]))
    expectTypeOf(params).toEqualTypeOf<readonly [DenseParams, NoParams, DenseParams]>()
    expect(outShape).toEqual([3])
    expect(names(params)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias'])
    const x = randn(1, [2, 3])
    const [y] = block.apply(params, [{}, {}, {}], x, evalCtx)
    const body = sequential(dense(4), relu(), dense(3)).apply(params, [{}, {}, {}], x, evalCtx)[0]
    expectClose(y, O.add(x, body))
  })

  it('rejects a body that changes the shape, naming both shapes', () => {
    const e = leftOf(residual(dense(5)).init(key(0), [3]))
    expect(e.path).toBe('residual')
    expect(e.message).toContain('[3]')
    expect(e.message).toContain('[5]')
    const inside = leftOf(sequential(relu(), residual(dense(5))).init(key(0), [3]))
    expect(inside.path).toBe('1 (residual)')
    // Errors from inside the body keep the body's path (residual adds no name).
    expect(leftOf(sequential({ block: residual(sequential(relu(), dense(0))) }).init(key(0), [3])).path).toBe(
      'block.1 (dense)',
    )
  })

  it('has the right gradient', () => {
    const block = residual(dense(3))
    const report = O.checkVjp(
      (x, w, b) => block.apply({ weight: w, bias: b }, {}, x, evalCtx)[0],
      [randn(1, [2, 3]), randn(2, [3, 3]), randn(3, [3])],
    )
    expect(report.ok, report.message).toBe(true)
  })
})

describe('parallel', () => {
  it('concatenates the branches along the feature axis', () => {
    const model = parallel(dense(2, { dtype: 'float64' }), sequential(dense(3, { dtype: 'float64' }), relu()))
    const { params, state, outShape } = unwrap(model.init(key(0), [4]))
    expectTypeOf(params).toEqualTypeOf<readonly [DenseParams, readonly [DenseParams, NoParams]]>()
    expect(outShape).toEqual([5])
    expect(names(params)).toEqual(['0.weight', '0.bias', '1.0.weight', '1.0.bias'])
    const x = randn(1, [3, 4])
    const [y] = model.apply(params, state, x, evalCtx)
    const a = dense(2).apply(params[0], {}, x, evalCtx)[0]
    const b = O.relu(dense(3).apply(params[1][0], {}, x, evalCtx)[0])
    expect(y.shape).toEqual([3, 5])
    for (let n = 0; n < 3; n++) {
      expect(values(y).slice(n * 5, n * 5 + 2)).toEqual(values(a).slice(n * 2, n * 2 + 2))
      expect(values(y).slice(n * 5 + 2, n * 5 + 5)).toEqual(values(b).slice(n * 3, n * 3 + 3))
    }
  })

  it('concatenates channels of conv branches, in record form', () => {
    const model = parallel({ narrow: conv2d(2, 1), wide: conv2d(3, 3, { padding: 1 }) })
    const { params, outShape } = unwrap(model.init(key(0), [1, 5, 5]))
    expectTypeOf(params).toEqualTypeOf<{ readonly narrow: Conv2dParams; readonly wide: Conv2dParams }>()
    expect(outShape).toEqual([5, 5, 5])
    expect(names(params)).toEqual(['narrow.weight', 'narrow.bias', 'wide.weight', 'wide.bias'])
  })

  it('rejects branches that disagree beyond the concatenation axis, naming both', () => {
    const e = leftOf(parallel({ narrow: conv2d(2, 1), valid: conv2d(3, 3) }).init(key(0), [1, 5, 5]))
    expect(e.path).toBe('parallel')
    expect(e.message).toContain("branch 'narrow' (conv2d) gives [2,5,5]")
    expect(e.message).toContain("branch 'valid' (conv2d) gives [3,3,3]")
    expect(leftOf(parallel(dense(2), dense(0)).init(key(0), [3])).path).toBe('1 (dense)')
    expect(leftOf(parallel().init(key(0), [3])).message).toContain('at least one branch')
  })

  it('has the right gradient through both branches', () => {
    const model = parallel(dense(2), dense(3))
    const report = O.checkVjp(
      (x, w0, b0, w1, b1) =>
        model.apply(
          [
            { weight: w0, bias: b0 },
            { weight: w1, bias: b1 },
          ],
          [{}, {}],
          x,
          evalCtx,
        )[0],
      [randn(1, [2, 3]), randn(2, [2, 3]), randn(3, [2]), randn(4, [3, 3]), randn(5, [3])],
    )
    expect(report.ok, report.message).toBe(true)
  })
})

describe('end to end', () => {
  it('a few plain gradient steps on an MLP lower the loss (float32, default initialisation)', () => {
    const model = sequential(dense(8), relu(), dense(1))
    const built = unwrap(model.init(key(0), [2]))
    const x = T.tensor([
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ])
    const target = T.tensor([[0], [1], [1], [0]])
    const loss = (p: typeof built.params): Tensor =>
      O.mean(O.square(O.sub(model.apply(p, built.state, x, evalCtx)[0], target)))
    let params = built.params
    const initial = T.item(loss(params))
    for (let step = 0; step < 50; step++) {
      const g = O.grad(loss)(params)
      params = [
        {
          weight: O.sub(params[0].weight, O.mul(g[0].weight, 0.1)),
          bias: O.sub(params[0].bias, O.mul(g[0].bias, 0.1)),
        },
        {},
        {
          weight: O.sub(params[2].weight, O.mul(g[2].weight, 0.1)),
          bias: O.sub(params[2].bias, O.mul(g[2].bias, 0.1)),
        },
      ]
    }
    expect(params[0].weight.dtype).toBe('float32')
    expect(T.item(loss(params))).toBeLessThan(0.5 * initial)
  })
})

describe('dense then relu() in a sequential: the two layers in turn, no hidden fusion', () => {
  const net = sequential(dense(7), relu(), dense(3), relu())
  const { params, state } = unwrap(net.init(key(1), [5]))
  const x = randn(2, [4, 5])
  // The same layers applied one by one, outside any sequential.
  const layers = [dense(7), relu(), dense(3), relu()] as const
  const stepByStep = (ps: typeof params, input: Tensor): Tensor => {
    let y = input
    layers.forEach((layer, i) => {
      y = layer.apply(ps[i] as never, {} as never, y, evalCtx)[0]
    })
    return y
  }
  // The ops a forward pass applies, in order (inputs staged, so nothing is computed eagerly).
  const opsOf = <P>(run: (ps: P, input: Tensor) => Tensor, ps: P): string[] =>
    O.makeGraph(run)(ps, x).equations.map((e) => `${e.op.name}${JSON.stringify(e.params) ?? ''}`)

  it('gives bit for bit the values and gradients of the layers in turn', () => {
    const [y] = net.apply(params, state, x, evalCtx)
    expect(values(y)).toEqual(values(stepByStep(params, x)))
    const loss = (run: (ps: typeof params) => Tensor) => (ps: typeof params) => O.sum(O.square(run(ps)))
    const seqGrads = O.grad(loss((ps) => net.apply(ps, state, x, evalCtx)[0]))(params)
    const plainGrads = O.grad(loss((ps) => stepByStep(ps, x)))(params)
    expect(names(seqGrads)).toEqual(names(plainGrads))
    const flat = (tree: unknown): number[] => T.flatten(tree).leaves.flatMap(values)
    expect(flat(seqGrads)).toEqual(flat(plainGrads))
  })

  it('runs linear then relu as two ops; the fused op only when dense asks for it', () => {
    // The old WeakMap fusion turned the first program into a single linear{"activation":"relu"}.
    const plain = sequential(dense(3), relu())
    const built = unwrap(plain.init(key(2), [5]))
    expect(opsOf((ps, input) => plain.apply(ps, built.state, input, evalCtx)[0], built.params)).toEqual([
      'linear{"activation":"none"}',
      'relu',
    ])
    const fused = sequential(dense(3, { activation: 'relu' }))
    const fusedParams = [built.params[0]] as const
    expect(opsOf((ps, input) => fused.apply(ps, [{}], input, evalCtx)[0], fusedParams)).toEqual([
      'linear{"activation":"relu"}',
    ])
  })

  it('uses the layer given, whatever its kind', () => {
    // A user layer that reports kind 'relu' but doubles its input.
    const doubling: ReturnType<typeof relu> = { ...relu(), apply: (_p, s, input) => [O.mul(input, 2), s] }
    const custom = sequential(dense(3), doubling)
    const built = unwrap(custom.init(key(3), [5]))
    const [y] = custom.apply(built.params, built.state, x, evalCtx)
    const [z] = dense(3).apply(built.params[0], {}, x, evalCtx)
    expect(values(y)).toEqual(values(O.mul(z, 2)))
  })
})
