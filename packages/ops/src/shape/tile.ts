// y = x repeated reps[i] times along axis i (x first promoted to rank |reps| with leading 1s)
// x̄ = ȳ viewed as [r0, a0, r1, a1, ...], summed over the r axes
import * as T from '@backfold/tensor'
import type { Shape, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { moveAxis } from '../core/batching'
import { reshape } from './reshape'
import { sum } from '../reduce/sum'

/** Parameters of the tile op: one count per axis of the output (at least the input's rank). @since 0.2.0 */
export interface TileParams {
  readonly reps: ReadonlyArray<number>
}

/**
 * The output shape of `tile(x, reps)` for `x` of shape `inShape`, or the ValueError it throws. As
 * NumPy: a shorter `reps` is padded with leading 1s; a longer one promotes `x` with leading 1s.
 * @example
 * tileShape([2, 3], [2]) // [2, 6]
 * @since 0.2.0
 */
export const tileShape = (inShape: Shape, reps: ReadonlyArray<number>): number[] => {
  if (!reps.every((r) => Number.isInteger(r) && r >= 0))
    throw new T.ValueError('tile', `reps must be non-negative integers, got [${reps.join(', ')}]`)
  const rank = Math.max(inShape.length, reps.length)
  const dims = [...new Array<number>(rank - inShape.length).fill(1), ...inShape]
  const counts = [...new Array<number>(rank - reps.length).fill(1), ...reps]
  return dims.map((d, i) => d * counts[i]!)
}

/** `reps` and the input's dims at the output's rank, interleaved: [r0, a0, r1, a1, ...]. */
const interleaved = (inShape: Shape, reps: ReadonlyArray<number>): { dims: number[]; counts: number[] } => {
  const rank = Math.max(inShape.length, reps.length)
  return {
    dims: [...new Array<number>(rank - inShape.length).fill(1), ...inShape],
    counts: [...new Array<number>(rank - reps.length).fill(1), ...reps],
  }
}

/** The tile op. @since 0.2.0 */
export const tileOp = defineOp<'tile', [Tensor], TileParams>({
  name: 'tile',
  // View x as [1, a0, 1, a1, ...], broadcast to [r0, a0, r1, a1, ...], and merge each pair.
  forward: ([x], p) => {
    const { dims, counts } = interleaved(x.shape, p.reps)
    const spread = T.broadcastTo(
      T.reshape(
        x,
        dims.flatMap((d) => [1, d]),
      ),
      dims.flatMap((d, i) => [counts[i]!, d]),
    )
    return T.reshape(spread, tileShape(x.shape, p.reps))
  },
  vjp: (ct, [x], _y, p) => {
    const { dims, counts } = interleaved(x.shape, p.reps)
    const pairs = reshape(
      ct,
      dims.flatMap((d, i) => [counts[i]!, d]),
    )
    const repAxes = dims.map((_, i) => 2 * i)
    return [reshape(sum(pairs, { axis: repAxes }), x.shape)]
  },
  abstract: ([x], p) => ({ shape: tileShape(x.shape, p.reps), dtype: x.dtype }),
  // ONNX Tile on x promoted to the output's rank (leading 1s), with one count per axis.
  onnx: (b, [x], p, { inputs: [ax] }) => {
    const { dims, counts } = interleaved(ax.shape, p.reps)
    const promoted =
      dims.length === ax.shape.length ? x : b.node('Reshape', [x, b.int64s(dims)], { allowzero: 1 })
    // Nothing to copy (a scalar, or every count 1): Tile would get no or only unit counts.
    if (counts.every((c) => c === 1)) return b.node('Identity', [promoted])
    return b.node('Tile', [promoted, b.int64s(counts)])
  },
  // Examples to the front, one example promoted to the tiled rank, then a count of 1 for them.
  batch: ([x], [b], p, self) => {
    const front = moveAxis(x, b ?? 0, 0)
    const example = front.shape.slice(1)
    const missing = Math.max(0, p.reps.length - example.length)
    const promoted = reshape(front, [front.shape[0] ?? 0, ...new Array<number>(missing).fill(1), ...example])
    const reps = [1, ...new Array<number>(Math.max(0, example.length - p.reps.length)).fill(1), ...p.reps]
    return [self([promoted], { reps }), 0]
  },
})

/**
 * Repeats the whole of `x` `reps[i]` times along axis `i`, as NumPy's `tile`: a shorter `reps` is
 * padded with leading 1s, a longer one promotes `x` with leading axes of size 1.
 * @example
 * tile(tensor([1, 2]), [3])          // [1, 2, 1, 2, 1, 2]
 * tile(tensor([[1, 2]]), [2, 1])     // [[1, 2], [1, 2]]
 * @throws ValueError when a count is not a non-negative integer.
 * @since 0.2.0
 */
export const tile = (x: Tensor, reps: number | ReadonlyArray<number>): Tensor => {
  const list = typeof reps === 'number' ? [reps] : [...reps]
  tileShape(x.shape, list)
  return applyOp(tileOp, [x], { reps: list })
}
