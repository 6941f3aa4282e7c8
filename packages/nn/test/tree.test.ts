import { describe, expect, expectTypeOf, it } from 'vitest'
import { pipe } from 'fp-ts/lib/function.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import { tree } from '../src/index'

const values = (x: T.Tensor): number[] => Array.from(x.data)

describe('one tree API', () => {
  it('flatten and unflatten are the structural functions of @backfold/tensor, not a second meaning', () => {
    expect(tree.flatten).toBe(T.flatten)
    expect(tree.unflatten).toBe(T.unflatten)
    const params = { fc: { weight: T.tensor([[1, 2]]), bias: T.tensor([3]) }, scale: 2 }
    const { leaves, def } = tree.flatten(params)
    expect(leaves.map(values)).toEqual([[1, 2], [3]])
    expect(tree.leafCount(def)).toBe(2)
    const rebuilt = tree.unflatten<typeof params>(def, [T.tensor([[5, 6]]), T.tensor([7])])
    expect(values(rebuilt.fc.weight)).toEqual([5, 6])
    expect(rebuilt.scale).toBe(2)
  })

  it('toNamed and fromNamed name leaves by dotted path and invert each other', () => {
    const params = [{ weight: T.tensor([1]), bias: T.tensor([2]) }, {}, { weight: T.tensor([3]) }]
    const named = tree.toNamed(params)
    expect(Object.keys(named)).toEqual(['0.weight', '0.bias', '2.weight'])
    expect(tree.flattenNamed(params).map(([n]) => n)).toEqual(Object.keys(named))
    const back = tree.fromNamed(params, { ...named, '2.weight': T.tensor([9]) })
    expect(values(tree.toNamed(back)['2.weight']!)).toEqual([9])
    expect(back[1]).toEqual({})
  })
})

describe('tree.fromNamed', () => {
  it('refuses a missing leaf named like an Object.prototype member instead of putting Object in the tree', () => {
    const like = { constructor: T.zeros([2]), w: T.zeros([1]) }
    expect(() => tree.fromNamed(like, { w: T.ones([1]) })).toThrow(/tree\.fromNamed.*missing constructor/)
  })

  it('reports unexpected names too', () => {
    expect(() => tree.fromNamed({ w: T.zeros([1]) }, { w: T.ones([1]), v: T.ones([1]) })).toThrow(
      /unexpected v/,
    )
  })

  it('rebuilds a tree whose leaves are named constructor and __proto__ when they are given', () => {
    const like = JSON.parse('{"__proto__": 0, "constructor": 0}') as Record<string, unknown>
    like['__proto__'] = T.zeros([1])
    like['constructor'] = T.zeros([1])
    const named = Object.fromEntries([
      ['__proto__', T.ones([1])],
      ['constructor', T.full([1], 2)],
    ]) as Record<string, T.Tensor>
    const out = tree.fromNamed(like, named)
    expect(T.toArray(out['constructor'] as T.Tensor)).toEqual([2])
  })
})

describe('pipeable variants', () => {
  const params = { w: T.tensor([1, 2]), b: T.tensor([3]) }
  const grads = { w: T.tensor([10, 20]), b: T.tensor([30]) }

  it('keep the static type of the tree through a pipe', () => {
    expectTypeOf(pipe(params, tree.mapWith(O.neg))).toEqualTypeOf<typeof params>()
    expectTypeOf(pipe(params, tree.map2With(grads, O.add))).toEqualTypeOf<typeof params>()
    expectTypeOf(pipe(params, tree.toNamed, tree.fromNamedWith(params))).toEqualTypeOf<typeof params>()
    expectTypeOf(tree.flatten(params).leaves).toEqualTypeOf<T.Tensor[]>()
  })

  it('mapWith(f)(t) is map(t, f), names included', () => {
    const seen: string[] = []
    const out = pipe(
      params,
      tree.mapWith((x, name) => {
        seen.push(name)
        return O.mul(x, 2)
      }),
    )
    expect(values(out.w)).toEqual([2, 4])
    expect(values(out.b)).toEqual([6])
    expect(seen).toEqual(['w', 'b'])
  })

  it('map2With(b, f)(a) passes the leaf of a first', () => {
    const out = pipe(
      params,
      tree.map2With(grads, (p, g) => O.sub(p, O.mul(g, 0.1))),
    )
    expect(values(out.w).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0, 0])
    expect(values(out.b).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0])
    expect(() => pipe(params, tree.map2With({ w: T.tensor([1, 2]) } as typeof params, O.add))).toThrow(
      /different structures/,
    )
  })

  it('unflattenWith and fromNamedWith compose with flatten and toNamed in a pipe', () => {
    const { leaves, def } = tree.flatten(params)
    const doubled = pipe(
      leaves.map((x) => O.mul(x, 2)),
      tree.unflattenWith<typeof params>(def),
    )
    expect(values(doubled.w)).toEqual([2, 4])
    const restored = pipe(doubled, tree.toNamed, tree.fromNamedWith(params))
    expect(values(restored.b)).toEqual([6])
    expect(pipe(params, tree.size)).toBe(3)
  })
})
