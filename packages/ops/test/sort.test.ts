import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { argsort, sort, topk } from '../src/sort/index'
import { mul } from '../src/binary/mul'
import { sum } from '../src/reduce/sum'
import { grad } from '../src/transforms/grad'
import { vmap } from '../src/transforms/vmap'

const f64 = (shape: ReadonlyArray<number>, values: ReadonlyArray<number>): Tensor =>
  T.unsafeTensor('float64', shape, Float64Array.from(values))
const data = (x: Tensor): number[] => Array.from(x.data)

describe('sort, argsort and topk', () => {
  const rows = [
    [0.5, -3, 2, 2, 7],
    [1, 0, -1, 4, 4],
  ]
  const x = f64([2, 5], rows.flat())

  it('sort orders each line (checked against Array.prototype.sort of the row)', () => {
    expect(data(sort(x))).toEqual(rows.flatMap((r) => [...r].sort((a, b) => a - b)))
    expect(data(sort(x, { descending: true }))).toEqual(rows.flatMap((r) => [...r].sort((a, b) => b - a)))
    expect(data(sort(x, { axis: 0 }))).toEqual([0.5, -3, -1, 2, 4, 1, 0, 2, 4, 7])
  })

  it('argsort is stable in both directions', () => {
    expect(data(argsort(f64([5], [2, 1, 2, 1, 2])))).toEqual([1, 3, 0, 2, 4])
    expect(data(argsort(f64([5], [2, 1, 2, 1, 2]), { descending: true }))).toEqual([0, 2, 4, 1, 3])
  })

  it('topk gives the k largest, largest first, with positions; or the smallest', () => {
    const { values, indices } = topk(x, 2)
    expect(data(values)).toEqual([7, 2, 4, 4])
    expect(data(indices)).toEqual([4, 2, 3, 4])
    expect(indices.dtype).toBe('int32')
    expect(data(topk(x, 1, { largest: false }).values)).toEqual([-3, -1])
    expect(topk(x, 0).values.shape).toEqual([2, 0])
    expect(data(topk(x, 2, { axis: 0 }).values)).toEqual([1, 0, 2, 4, 7, 0.5, -3, -1, 2, 4])
  })

  it('send the gradient of each sorted value back to its position', () => {
    const w = f64([5], [1, 10, 100, 1000, 10000])
    const g = grad((t: Tensor) => sum(mul(sort(t), w)))(f64([5], [3, 1, 4, 0, 2]))
    // sorted order: 0 (pos 3), 1 (pos 1), 2 (pos 4), 3 (pos 0), 4 (pos 2)
    expect(data(g)).toEqual([1000, 10, 10000, 1, 100])
    const gk = grad((t: Tensor) => sum(topk(t, 2).values))(f64([4], [1, 5, 3, 4]))
    expect(data(gk)).toEqual([0, 1, 0, 1])
  })

  it('map over examples under vmap like a loop', () => {
    const batched = vmap((t: Tensor) => topk(t, 3).values)(x)
    expect(data(batched)).toEqual(rows.flatMap((r) => data(topk(f64([5], r), 3).values)))
  })

  it('refuse a bad k, axis or option', () => {
    expect(() => topk(x, 6)).toThrow(/topk: k must be an integer in \[0, 5\]/)
    expect(() => topk(x, 1.5)).toThrow(/topk/)
    expect(() => sort(x, { axis: 2 })).toThrow(/sort: axis 2 is out of range/)
    expect(() => argsort(x, { decending: true } as unknown as { descending: boolean })).toThrow(/decending/)
  })
})
