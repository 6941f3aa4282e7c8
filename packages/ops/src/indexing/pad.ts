// y = x surrounded by a constant ; x̄ = ȳ sliced back to x's region
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { insertAt } from '../internal/indexBatching'
import { slice } from './slice'

/** Parameters of the pad op: one `[before, after]` per axis and the fill value. @since 0.1.0 */
export interface PadParams {
  readonly pads: ReadonlyArray<readonly [number, number]>
  readonly value: number
}

/** The pad op. @since 0.1.0 */
export const padOp = defineOp<'pad', [Tensor], PadParams>({
  name: 'pad',
  forward: ([x], p) => T.pad(x, p.pads, p.value),
  abstract: ([x], p) => ({ shape: T.padShape(x.shape, p.pads, p.value, x.dtype), dtype: x.dtype }),
  // pads has one entry per axis of x (the wrapper fills the trailing ones)
  vjp: (ct, [x], _y, p) => [
    slice(
      ct,
      p.pads.map(([before], i) => ({ start: before, stop: before + (x.shape[i] ?? 0) })),
    ),
  ],
  // The examples' axis is not padded.
  // pads: every axis's before-amount, then every axis's after-amount.
  onnx: (b, [x], p, { inputs: [ax] }) =>
    p.pads.every(([before, after]) => before === 0 && after === 0)
      ? b.node('Identity', [x])
      : b.node('Pad', [
          x,
          b.int64s([...p.pads.map(([before]) => before), ...p.pads.map(([, after]) => after)]),
          b.scalar(p.value, ax.dtype),
        ]),
  batch: ([x], [axis], p, self) => {
    const b = axis ?? 0 // the only input, so the mapped one
    return [self([x], { ...p, pads: insertAt(p.pads, b, [0, 0] as const) }), b]
  },
})

/**
 * Pads with a constant: `pads[i] = [before, after]` adds that many `value`s around axis `i`;
 * fewer entries than axes pad the leading axes only. The gradient flows to `x` only (`value` is a
 * fixed parameter).
 * @example
 * pad(tensor([1, 2]), [[1, 2]])                 // [0, 1, 2, 0, 0]
 * pad(image, [[0, 0], [0, 0], [2, 2], [2, 2]])  // NCHW: 2 pixels of zeros on every side
 * @throws ShapeError for more entries than axes; ValueError for negative or non-integer amounts.
 * @since 0.1.0
 */
export const pad = (x: Tensor, pads: ReadonlyArray<readonly [number, number]>, value = 0): Tensor => {
  if (!Array.isArray(pads))
    throw new T.ValueError('pad', `pads must be an array of [before, after] pairs, got ${String(pads)}`)
  const rank = x.shape.length
  // Trailing axes are not padded; more entries than axes are left for the kernel to reject.
  const full =
    pads.length >= rank
      ? pads
      : [...pads, ...Array.from({ length: rank - pads.length }, () => [0, 0] as const)]
  return applyOp(padOp, [x], { pads: full, value })
}
