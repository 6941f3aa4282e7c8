import { describe, expect, it } from 'vitest'
import * as N from '@backfold/nn'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'

// One name, one meaning: a name at the top level of @backfold/nn names nothing in the packages below
// it (layer factories sit under `layers`, trees under `tree`), and where a namespace repeats a name
// it is the same function.
describe('one meaning per name', () => {
  it('no top-level export of @backfold/nn is also an export of @backfold/ops or @backfold/tensor', () => {
    const below = new Set([...Object.keys(O), ...Object.keys(T)])
    expect(Object.keys(N).filter((name) => below.has(name))).toEqual([])
  })

  it("nn's tree namespace re-exports tensor's structural tree functions rather than redefining them", () => {
    expect(N.tree.flatten).toBe(T.flatten)
    expect(N.tree.unflatten).toBe(T.unflatten)
    expect(N.tree.leafCount).toBe(T.leafCount)
    expect(N.tree.sameStructure).toBe(T.sameStructure)
  })

  it('the cross-entropy loss and the per-example cross-entropy op have different names', () => {
    expect('softmaxCrossEntropy' in N).toBe(false)
    expect(typeof N.crossEntropy).toBe('function')
    expect(typeof O.softmaxCrossEntropy).toBe('function')
  })
})
