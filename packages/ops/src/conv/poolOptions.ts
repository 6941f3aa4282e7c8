import type { Pool2dOptions, Pool2dSpec } from '@backfold/tensor'

/** A normalised pooling spec as kernel options (normalising it again gives it back). @internal */
export const poolOptions = (spec: Pool2dSpec): Pool2dOptions => ({
  kernelSize: spec.kernel,
  stride: spec.stride,
  padding: spec.padding,
})
