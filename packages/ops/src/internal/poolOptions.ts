import type { Conv2dSpec, Pool2dOptions, Pool2dSpec } from '@backfold/tensor'
import type { Aval } from '../core/op'
import { option, optionSchema } from '../core/options'

// The values are validated by the tensor package's spec functions; here only the keys.
/** The accepted keys of `Conv2dOptions`. @internal */
export const CONV2D_OPTIONS = optionSchema({
  stride: option.anything,
  padding: option.anything,
  dilation: option.anything,
  groups: option.anything,
})

/** The accepted keys of `Pool2dOptions` (`kernelSize` required). @internal */
export const POOL2D_OPTIONS = optionSchema({
  kernelSize: option.required(option.anything),
  stride: option.anything,
  padding: option.anything,
})

/** A normalised pooling spec as kernel options (normalising it again gives it back). @internal */
export const poolOptions = (spec: Pool2dSpec): Pool2dOptions => ({
  kernelSize: spec.kernel,
  stride: spec.stride,
  padding: spec.padding,
})

/** The convolution geometry of a spec that also carries a shape (the backward ops' parameters). @internal */
export const convGeometry = (spec: Conv2dSpec): Conv2dSpec => ({
  stride: spec.stride,
  padding: spec.padding,
  dilation: spec.dilation,
  ...(spec.groups === undefined ? {} : { groups: spec.groups }),
})

/**
 * The shape and dtype of a kernel's plan (conv2dPlan, maxPool2dPlan...), its geometry left out:
 * the shape rules of the convolution and pooling ops return what the kernel itself validates.
 * @internal
 */
export const avalOf = ({ shape, dtype }: Aval): Aval => ({ shape, dtype })
