// y[i] = x[(i − shift) mod n] along each rolled axis ; x̄ = ȳ rolled back by −shift
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { ValueError } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { checkOptions, option, optionSchema } from '../core/options'

/** Options of `roll`: the axis or axes to roll along (required; one shift per axis). @since 0.2.0 */
export interface RollOptions {
  readonly axis: number | ReadonlyArray<number>
}

/** Parameters of the roll op: non-negative axes with their shifts (any integer). @since 0.2.0 */
export interface RollParams {
  readonly axes: ReadonlyArray<number>
  readonly shifts: ReadonlyArray<number>
}

const ROLL_OPTIONS = optionSchema({ axis: option.required(option.axes) })

/** x rolled by `shift` along `axis`: the last `shift mod n` elements move to the front. */
const rollAxis = (x: Tensor, axis: number, shift: number): Tensor => {
  const n = x.shape[axis] ?? 0
  const s = n === 0 ? 0 : ((shift % n) + n) % n
  if (s === 0) return x
  const range = (start: number, stop: number): Array<T.SliceRange | undefined> =>
    x.shape.map((_, i) => (i === axis ? { start, stop } : undefined))
  return T.concat([T.slice(x, range(n - s, n)), T.slice(x, range(0, n - s))], axis)
}

/** Rolling back (a declaration: the op refers to itself in its VJP). */
function rollBack(ct: Tensor, p: RollParams): Tensor {
  return applyOp(rollOp, [ct], { axes: p.axes, shifts: p.shifts.map((s) => -s) })
}

/** The roll op. @since 0.2.0 */
export const rollOp = defineOp<'roll', [Tensor], RollParams>({
  name: 'roll',
  forward: ([x], p) => p.axes.reduce((acc, axis, i) => rollAxis(acc, axis, p.shifts[i] ?? 0), x),
  vjp: (ct, _xs, _y, p) => [rollBack(ct, p)],
  abstract: ([x]) => ({ shape: [...x.shape], dtype: x.dtype }),
  // As forward: per axis, the last `shift mod n` elements concatenated before the others.
  onnx: (b, [x], p, { inputs: [ax] }) =>
    p.axes.reduce(
      (acc, axis, i) => {
        const n = ax.shape[axis] ?? 0
        const shift = p.shifts[i] ?? 0
        const s = n === 0 ? 0 : ((shift % n) + n) % n
        if (s === 0) return acc
        const part = (start: number, stop: number): string =>
          b.node('Slice', [acc, b.int64s([start]), b.int64s([stop]), b.int64s([axis])])
        return b.node('Concat', [part(n - s, n), part(0, n - s)], { axis })
      },
      b.node('Identity', [x]),
    ),
  batch: ([x], [b], p, self) => {
    const at = b ?? 0
    return [self([x], { axes: p.axes.map((a) => (a >= at ? a + 1 : a)), shifts: p.shifts }), at]
  },
})

/**
 * Rolls the elements of `x` along `axis` by `shift` places (positive: toward higher indices, the
 * last elements wrapping to the front), as NumPy's `roll`. Several axes take one shift each.
 * @example
 * roll(tensor([1, 2, 3, 4]), 1, { axis: 0 })                   // [4, 1, 2, 3]
 * roll(tensor([[1, 2], [3, 4]]), [1, -1], { axis: [0, 1] })    // [[4, 3], [2, 1]]
 * @throws ValueError for a bad axis, a non-integer shift, or shifts that do not match the axes.
 * @since 0.2.0
 */
export const roll = (x: Tensor, shift: number | ReadonlyArray<number>, opts: RollOptions): Tensor => {
  checkOptions('roll', opts, ROLL_OPTIONS)
  const list = typeof opts.axis === 'number' ? [opts.axis] : opts.axis
  const axes = list.map((a) => T.normalizeAxis('roll', a, x.shape.length))
  const shifts = typeof shift === 'number' ? axes.map(() => shift) : [...shift]
  if (shifts.length !== axes.length)
    throw new ValueError(
      'roll',
      `got ${shifts.length} shifts for ${axes.length} axes; give one shift per axis`,
    )
  if (!shifts.every(Number.isInteger))
    throw new ValueError('roll', `shifts must be integers, got [${shifts.join(', ')}]`)
  return applyOp(rollOp, [x], { axes, shifts })
}
