import type { Tensor } from '@backfold/tensor'

// Layer pairs that `sequential` runs as one fused op. Registered by identity (the layer objects
// `dense()` and `relu()` return), never by kind, so a user layer that happens to be called 'relu'
// is never fused. The fused call gives the same values and gradients as the two layers in turn.

/** `relu()` layers. */
const reluLayers = new WeakSet<object>()

/** dense layers, with their apply followed by ReLU in one op (`linear(x, w, b, 'relu')`). */
const denseWithRelu = new WeakMap<object, (params: unknown, x: Tensor) => Tensor>()

/** Marks a layer made by `relu()`. @internal */
export const registerRelu = <L extends object>(layer: L): L => {
  reluLayers.add(layer)
  return layer
}

/** Gives a dense layer its fused dense + ReLU apply. @internal */
export const registerDenseRelu = <L extends object>(
  layer: L,
  applyRelu: (params: unknown, x: Tensor) => Tensor,
): L => {
  denseWithRelu.set(layer, applyRelu)
  return layer
}

/**
 * The fused apply of `first` then `second` when they are a dense layer and a `relu()`, else undefined.
 * @internal
 */
export const fusedDenseRelu = (
  first: object,
  second: object | undefined,
): ((params: unknown, x: Tensor) => Tensor) | undefined =>
  second !== undefined && reluLayers.has(second) ? denseWithRelu.get(first) : undefined
