import { describe, expect, it } from 'vitest'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { einsum } from '../src/linalg/einsum'
import { checkVjp } from '../src/check/checkVjp'
import { vmap } from '../src/transforms/vmap'
import { jit } from '../src/staging/jit'

const draw = (seed: number, shape: ReadonlyArray<number>): Tensor =>
  T.random.uniform(T.random.key(seed), shape, { min: -1, max: 1, dtype: 'float64' })

/**
 * The definition, by brute force: for every assignment of sizes to the labels, multiply the
 * operands' entries and add the product into the output entry. Explicit specs without '...'.
 */
const naive = (spec: string, ...xs: Tensor[]): { shape: number[]; values: number[] } => {
  const [lhs, out] = spec.split('->') as [string, string]
  const terms = lhs.split(',')
  const sizes = new Map<string, number>()
  terms.forEach((t, i) => [...t].forEach((l, a) => sizes.set(l, xs[i]!.shape[a]!)))
  const labels = [...sizes.keys()]
  const shape = [...out].map((l) => sizes.get(l)!)
  const values = new Array<number>(shape.reduce((p, d) => p * d, 1)).fill(0)
  const flat = (dims: ReadonlyArray<number>, idx: number[]): number =>
    idx.reduce((acc, v, i) => acc * dims[i]! + v, 0)
  const assign = new Map<string, number>()
  const walk = (k: number): void => {
    if (k === labels.length) {
      let p = 1
      terms.forEach((t, i) => {
        p *=
          xs[i]!.data[
            flat(
              xs[i]!.shape,
              [...t].map((l) => assign.get(l)!),
            )
          ]!
      })
      values[
        flat(
          shape,
          [...out].map((l) => assign.get(l)!),
        )
      ]! += p
      return
    }
    for (let v = 0; v < sizes.get(labels[k]!)!; v++) {
      assign.set(labels[k]!, v)
      walk(k + 1)
    }
  }
  walk(0)
  return { shape, values }
}

const cases: ReadonlyArray<readonly [string, ReadonlyArray<ReadonlyArray<number>>]> = [
  [
    'ij,jk->ik',
    [
      [2, 3],
      [3, 4],
    ],
  ],
  [
    'bij,bjk->bik',
    [
      [2, 2, 3],
      [2, 3, 2],
    ],
  ],
  [
    'bhqd,bhkd->bhqk',
    [
      [1, 2, 3, 4],
      [1, 2, 5, 4],
    ],
  ],
  ['i,i->', [[5], [5]]],
  ['i,j->ij', [[3], [2]]],
  ['ij->ji', [[2, 3]]],
  ['ij->', [[2, 3]]],
  ['ii->i', [[3, 3]]],
  ['ii->', [[3, 3]]],
  [
    'iij,jk->ik',
    [
      [2, 2, 3],
      [3, 2],
    ],
  ],
  [
    'ij,jk,kl->il',
    [
      [2, 3],
      [3, 2],
      [2, 4],
    ],
  ],
  ['abc,cd,b->ad', [[2, 3, 4], [4, 2], [3]]],
]

describe('einsum', () => {
  it.each(cases)('%s equals the brute-force definition', (spec, shapes) => {
    const xs = shapes.map((s, i) => draw(10 + i, s))
    const y = einsum(spec, ...xs)
    const want = naive(spec, ...xs)
    expect(y.shape).toEqual(want.shape)
    Array.from(y.data).forEach((v, i) => expect(v).toBeCloseTo(want.values[i]!, 12))
  })

  it.each(cases.filter(([spec]) => !spec.includes('ii')))(
    '%s has the VJP of its definition',
    (spec, shapes) => {
      const report = checkVjp(
        (...xs: Tensor[]) => einsum(spec, ...xs),
        shapes.map((s, i) => draw(20 + i, s)),
      )
      expect(report.ok, report.message).toBe(true)
    },
  )

  it('implicit output: indices seen once, alphabetically; ellipsis aligned from the right', () => {
    const a = draw(1, [2, 3])
    const b = draw(2, [3, 4])
    expect(einsum('ij,jk', a, b).data).toEqual(einsum('ij,jk->ik', a, b).data)
    expect(einsum('ba', a).shape).toEqual([3, 2]) // output 'ab'
    const batched = draw(3, [5, 2, 3])
    const y = einsum('...ij,jk->...ik', batched, b)
    expect(y.shape).toEqual([5, 2, 4])
    const third = einsum('ij,jk->ik', T.reshape(T.slice(batched, [{ start: 2, stop: 3 }]), [2, 3]), b)
    expect(Array.from(T.slice(y, [{ start: 2, stop: 3 }]).data)).toEqual(Array.from(third.data))
    expect(einsum('...ij,...jk', draw(4, [7, 2, 3]), draw(5, [3, 4])).shape).toEqual([7, 2, 4])
  })

  it('composes with vmap and jit', () => {
    const a = draw(6, [4, 2, 3])
    const b = draw(7, [3, 2])
    const mapped = vmap((x: Tensor) => einsum('ij,jk->ik', x, b))(a)
    const direct = einsum('bij,jk->bik', a, b)
    Array.from(mapped.data).forEach((v, i) => expect(v).toBeCloseTo(direct.data[i]!, 12))
    const staged = jit((x: Tensor, y: Tensor) => einsum('bij,jk->bik', x, y))(a, b)
    expect(Array.from(staged.data)).toEqual(Array.from(direct.data))
  })

  it('refuses malformed specs and mismatched sizes, naming the spec', () => {
    const a = draw(1, [2, 3])
    expect(() => einsum('ij,jk->ik', a)).toThrow(/einsum: 'ij,jk->ik': names 2 operands but 1 were given/)
    expect(() => einsum('ijk->i', a)).toThrow(/names 3 axes but has shape \[2, ?3\]/)
    expect(() => einsum('ij,jk->ik', a, draw(2, [4, 2]))).toThrow(/index 'j' has size 3 and 4/)
    expect(() => einsum('ij->iz', a)).toThrow(/output index 'z' appears in no operand/)
    expect(() => einsum('ij->ii', a)).toThrow(/output repeats index 'i'/)
    expect(() => einsum('i1->i', a)).toThrow(/'1'; index labels are single letters/)
    expect(() => einsum('ij->i->j', a)).toThrow(/more than one '->'/)
  })
})
