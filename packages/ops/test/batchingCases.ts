// Exhaustive batching checks for ops with several operands: every assignment of in-axes (each
// argument shared or mapped along any of its axes, at least one mapped) is run under vmap and
// vmap(grad) and compared with the per-example results stacked. The random axes of the vmap table
// test cover a few of these; a batching rule has one branch per layout, and this reaches all of them.
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { grad } from '../src/transforms/grad'
import { vmap } from '../src/transforms/vmap'
import { mul } from '../src/binary/mul'
import { sum } from '../src/reduce/sum'

/** Every in-axes assignment: per argument null (shared) or an axis of the batched argument. */
export const allInAxes = (ranks: ReadonlyArray<number>): Array<Array<number | null>> => {
  let out: Array<Array<number | null>> = [[]]
  for (const rank of ranks) {
    const choices = [null, ...Array.from({ length: rank + 1 }, (_, i) => i)]
    out = out.flatMap((prefix) => choices.map((c) => [...prefix, c]))
  }
  return out.filter((axes) => axes.some((a) => a !== null))
}

const maxDifference = (a: Tensor, b: Tensor): number => {
  if (!T.shapesEqual(a.shape, b.shape)) return Infinity
  let worst = 0
  a.data.forEach((v, i) => {
    worst = Math.max(worst, Math.abs(Number(v) - Number(b.data[i])))
  })
  return worst
}

/**
 * Runs `fn` under vmap with every in-axes assignment and returns a description of each mismatch
 * (empty when the batching rules are right). `example(arg, i)` is example `i` of argument `arg`
 * (`i` = -1: the value shared by all examples when the argument is not mapped).
 */
export const batchingMismatches = (
  fn: (...xs: Tensor[]) => Tensor,
  ranks: ReadonlyArray<number>,
  example: (arg: number, i: number) => Tensor,
  opts: { readonly size?: number; readonly withGrad?: boolean } = {},
): string[] => {
  const size = opts.size ?? 3
  const failures: string[] = []
  const argnums = ranks.map((_, i) => i)
  for (const axes of allInAxes(ranks)) {
    const argsOf = (i: number): Tensor[] => axes.map((axis, n) => example(n, axis === null ? -1 : i))
    const batched = axes.map((axis, n) =>
      axis === null
        ? example(n, -1)
        : T.stack(
            Array.from({ length: size }, (_, i) => example(n, i)),
            axis,
          ),
    )
    const perExample = Array.from({ length: size }, (_, i) => fn(...argsOf(i)))
    const out = vmap(fn, { inAxes: axes })(...batched)
    const error = maxDifference(out, T.stack(perExample))
    if (!(error <= 1e-9)) failures.push(`value, inAxes [${axes.join(', ')}]: error ${error}`)
    if (opts.withGrad !== false) {
      const first = perExample[0]!
      const weighting = T.unsafeTensor(
        'float64',
        first.shape,
        Float64Array.from({ length: T.sizeOf(first.shape) }, (_, i) => Math.sin(i + 1)),
      )
      const g = grad((...xs: Tensor[]) => sum(mul(fn(...xs), weighting)), { argnums })
      const grads = vmap(g, { inAxes: axes })(...batched)
      const expected = Array.from({ length: size }, (_, i) => g(...argsOf(i)))
      grads.forEach((gn, n) => {
        const e = maxDifference(gn, T.stack(expected.map((per) => per[n]!)))
        if (!(e <= 1e-9)) failures.push(`grad of argument ${n}, inAxes [${axes.join(', ')}]: error ${e}`)
      })
    }
  }
  return failures
}
