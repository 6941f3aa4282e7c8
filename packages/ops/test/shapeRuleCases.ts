// Checks of the ops' shape and dtype rules (`Op.abstract`) against eager mode: on valid inputs the
// rule gives the shape and dtype `forward` returns; on bad ones it throws what `forward` throws
// (same error class, same message), so a mis-shaped program fails while it is staged. The staging
// table covers the valid rows of the gradient table; these reach the dtype promotions and the errors.
import { expect } from 'vitest'
import type { Tensor } from '@backfold/tensor'
import type { Aval, Op } from '../src/core/op'
import { makeGraph } from '../src/staging/graph'

type Outcome =
  | { readonly shape: ReadonlyArray<number>; readonly dtype: string }
  | { readonly error: string; readonly message: string }

const outcome = (run: () => Aval): Outcome => {
  try {
    const { shape, dtype } = run()
    return { shape: [...shape], dtype }
  } catch (error) {
    if (!(error instanceof Error)) throw error
    return { error: error.constructor.name, message: error.message }
  }
}

/** `op.abstract(xs, p)` agrees with `op.forward(xs, p)`: the same aval, or the same error. */
export const expectRuleMatchesForward = <Name extends string, In extends ReadonlyArray<Tensor>, P>(
  op: Op<Name, In, P>,
  // The op alone decides the types, so `[x, w]` is checked as its input tuple (as in applyOp).
  xs: NoInfer<In>,
  p: NoInfer<P>,
): void => {
  const eager = outcome(() => op.forward(xs, p))
  expect(
    outcome(() => op.abstract(xs, p)),
    `${op.name}: ${JSON.stringify(eager)}`,
  ).toEqual(eager)
}

/**
 * `makeGraph(fn)(...args)` agrees with `fn(...args)`: the output's shape and dtype, or the same
 * error class with the same message after staging's "while staging function ..." prefix.
 */
export const expectStagedMatchesEager = (
  fn: (...xs: Tensor[]) => Tensor,
  args: ReadonlyArray<Tensor>,
): void => {
  const eager = outcome(() => fn(...args))
  const staged = outcome(() => {
    const graph = makeGraph(fn)(...args)
    expect(graph.outputs).toHaveLength(1)
    return graph.outputs[0]!
  })
  if ('error' in eager) {
    expect(staged, `staged ${fn.name}: ${JSON.stringify(staged)}`).toMatchObject({ error: eager.error })
    expect('message' in staged && staged.message.endsWith(`: ${eager.message}`), JSON.stringify(staged)).toBe(
      true,
    )
  } else expect(staged, fn.name).toEqual(eager)
}
