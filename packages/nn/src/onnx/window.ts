/**
 * Window geometry for the exporters of conv2d and the pools, with symbolic spatial sizes: the
 * checks of @backfold/tensor run on a probe size in place of each unknown one. Explicit paddings do
 * not depend on the size; `'same'` does (with a stride), so then ONNX's `auto_pad = SAME_UPPER`
 * (TensorFlow's rule, as backfold's) takes over. Internal.
 */
import type { OnnxDim } from './context'
import { intsAttribute, stringAttribute } from './graph'
import type { AttributeProto } from '@backfold/ops/onnx'

export const PROBE_SIZE = 4096

const known = (d: OnnxDim): d is number => typeof d === 'number'

/** `d` when known, else the probe size. */
export const probe = (d: OnnxDim): number => (known(d) ? d : PROBE_SIZE)

/** The strides and padding attributes of a windowed node. */
export const windowAttributes = (
  spatial: ReadonlyArray<OnnxDim>,
  padding: unknown,
  resolved: {
    readonly stride: readonly [number, number]
    readonly padding: readonly [number, number, number, number]
  },
): AttributeProto[] => {
  const [top, bottom, left, right] = resolved.padding
  const symbolic = spatial.some((d) => !known(d))
  return [
    intsAttribute('strides', resolved.stride),
    padding === 'same' && symbolic
      ? stringAttribute('auto_pad', 'SAME_UPPER')
      : // ONNX orders pads [top, left, bottom, right] (all begins, then all ends); backfold [top, bottom, left, right].
        intsAttribute('pads', [top, left, bottom, right]),
  ]
}

/** Per-example output spatial dims: the computed size where the input size is known, else unknown. */
export const outSpatial = (spatial: ReadonlyArray<OnnxDim>, computed: ReadonlyArray<number>): OnnxDim[] =>
  spatial.map((d, i) => (known(d) ? computed[i]! : null))
