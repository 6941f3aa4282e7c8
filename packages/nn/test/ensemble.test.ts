import { describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import * as N from '../src/index'

// Ensembles by vmap over initialisation keys (issue #11): the mapped init gives, per key, exactly the
// parameters of init with that key, and a vmapped training step gives each member's own step.

const members = 4
const memberKeys: Key[] = T.random.split(T.random.key(5), members)
const keys = T.random.keysData(memberKeys)

const model = N.layers.sequential(
  N.layers.dense(12),
  N.layers.tanh(),
  N.layers.dense(8, { weightInit: N.initializers.heNormal, biasInit: N.initializers.normal({ std: 0.1 }) }),
  N.layers.layerNorm(),
  N.layers.relu(),
  N.layers.dropout(0.25),
  N.layers.dense(3, { weightInit: N.initializers.glorotUniform, biasInit: N.initializers.uniform() }),
)
type Params = N.LayerParams<typeof model>
type State = N.LayerState<typeof model>

const built = (key: Key): { readonly params: Params; readonly state: State } => {
  const result = model.init(key, [5])
  if (E.isLeft(result)) throw new Error(N.formatLayerError(result.left))
  return result.right
}

/** Member `i` of a stacked tree (its leaves' row `i`). */
const memberOf = <P>(stacked: P, i: number): P =>
  N.tree.map(stacked, (leaf) => {
    const row = T.slice(leaf, [{ start: i, stop: i + 1 }])
    return T.reshape(row, leaf.shape.slice(1))
  })

const expectSameTree = (actual: unknown, expected: unknown, tolerance = 0): void => {
  const a = N.tree.flattenNamed(actual)
  const e = N.tree.flattenNamed(expected)
  expect(a.map(([name]) => name)).toEqual(e.map(([name]) => name))
  a.forEach(([name, leaf], j) => {
    const want = e[j]![1]
    expect(leaf.shape, name).toEqual(want.shape)
    expect(leaf.dtype, name).toBe(want.dtype)
    if (tolerance === 0) expect(Array.from(leaf.data), name).toEqual(Array.from(want.data))
    else expect(T.allClose(leaf, want, { rtol: tolerance, atol: tolerance }), name).toBe(true)
  })
}

const x = T.random.normal(T.random.key(1), [6, 5])
const y = T.tensor([0, 1, 2, 0, 1, 2], 'int32')

const loss = (params: Params, inputs: Tensor, labels: Tensor): Tensor => {
  const [logits] = model.apply(params, built(memberKeys[0]!).state, inputs, { training: false })
  return N.crossEntropy(logits, labels)
}

describe('an ensemble initialised by vmap over keys', () => {
  const initParams = (k: Tensor): Params => built(T.random.wrapKey(k)).params
  const stacked = O.vmap(initParams)(keys)

  it('gives, per key, exactly the parameters of init with that key', () => {
    expect(N.tree.leaves(stacked).every((leaf) => leaf.shape[0] === members)).toBe(true)
    memberKeys.forEach((k, i) => expectSameTree(memberOf(stacked, i), built(k).params))
  })

  it('draws one dropout mask per mapped key, each the mask of that key', () => {
    const { params, state } = built(memberKeys[0]!)
    const applyWith = (k: Key | Tensor): Tensor =>
      model.apply(params, state, x, {
        training: true,
        key: T.random.isKey(k) ? k : T.random.wrapKey(k),
      })[0]
    // The masks themselves, exactly: dropout alone.
    const drop = N.layers.dropout(0.25)
    const dropWith = (k: Tensor): Tensor =>
      drop.apply({}, {}, x, { training: true, key: T.random.wrapKey(k) })[0]
    const masked = O.vmap(dropWith)(keys)
    memberKeys.forEach((k, i) =>
      expectSameTree(memberOf(masked, i), drop.apply({}, {}, x, { training: true, key: k })[0]),
    )
    // Through the whole model (the batched matmuls may round the last float32 bit differently).
    const mapped = O.vmap(applyWith)(keys)
    memberKeys.forEach((k, i) => expectSameTree(memberOf(mapped, i), applyWith(k), 1e-6))
  })

  it('trains every member at once: the vmapped gradient and an elementwise optimizer step equal per-member steps', () => {
    const grads = O.vmap(O.grad(loss), { inAxes: [0, null, null] })(stacked, x, y)
    const optimizer = N.adam(0.01)
    const [next] = N.applyGradients(optimizer, grads, optimizer.init(stacked), stacked)
    memberKeys.forEach((_, i) => {
      const own = memberOf(stacked, i)
      const g = O.grad(loss)(own, x, y)
      expectSameTree(memberOf(grads, i), g, 1e-6)
      const [ownNext] = N.applyGradients(optimizer, g, optimizer.init(own), own)
      expectSameTree(memberOf(next, i), ownNext, 1e-6)
    })
  })

  it('a whole SGD step under vmap (gradient and update mapped together) equals per-member steps', () => {
    const sgdStep = (p: Params, inputs: Tensor, labels: Tensor): Params =>
      N.tree.map2(p, O.grad(loss)(p, inputs, labels), (w, g) => O.sub(w, O.mul(g, 0.1)))
    const next = O.vmap(sgdStep, { inAxes: [0, null, null] })(stacked, x, y)
    memberKeys.forEach((_, i) => expectSameTree(memberOf(next, i), sgdStep(memberOf(stacked, i), x, y), 1e-6))
  })

  it('a user initialiser that draws with the tensor sampler is refused under vmap, naming the layer', () => {
    const custom = N.layers.dense(3, {
      weightInit: (k, shape, dtype) => T.random.normal(k, shape, { dtype: dtype ?? 'float32' }),
    })
    // With an ordinary key it works as before.
    expect(E.isRight(custom.init(memberKeys[0]!, [2]))).toBe(true)
    const mapped = (): unknown =>
      O.vmap((k: Tensor) => {
        const result = custom.init(T.random.wrapKey(k), [2])
        if (E.isLeft(result)) throw new Error(N.formatLayerError(result.left))
        return result.right.params
      })(keys)
    expect(mapped).toThrow(/dense: weightInit failed.*random ops of @backfold\/ops/s)
  })
})
