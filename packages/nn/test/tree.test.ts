import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import { tree } from '../src/index'

describe('tree.unflatten', () => {
  it('refuses a missing leaf named like an Object.prototype member instead of putting Object in the tree', () => {
    const like = { constructor: T.zeros([2]), w: T.zeros([1]) }
    expect(() => tree.unflatten(like, { w: T.ones([1]) })).toThrow(/missing constructor/)
  })

  it('rebuilds a tree whose leaves are named constructor and __proto__ when they are given', () => {
    const like = JSON.parse('{"__proto__": 0, "constructor": 0}') as Record<string, unknown>
    like['__proto__'] = T.zeros([1])
    like['constructor'] = T.zeros([1])
    const named = Object.fromEntries([
      ['__proto__', T.ones([1])],
      ['constructor', T.full([1], 2)],
    ]) as Record<string, T.Tensor>
    const out = tree.unflatten(like, named)
    expect(T.toArray(out['constructor'] as T.Tensor)).toEqual([2])
  })
})
