import type { Tensor } from '@backfold/tensor'

/**
 * Selects parameters by their dotted name (as `tree.flattenNamed` spells it, e.g. `0.weight`) and,
 * if it helps, the tensor itself.
 * @since 0.1.0
 */
export type ParamFilter = (name: string, param: Tensor) => boolean

/**
 * The default parameter selection of `l2Penalty` and `l1Penalty`: the WEIGHTS of dense, conv and
 * embedding layers, i.e. parameters whose dotted name ends in `'weight'` (`0.weight`,
 * `features.conv.weight`) AND that have rank ≥ 2. Biases (`0.bias`) are never penalised, and neither
 * are the scales of batch and layer normalisation: they are named `weight` too (PyTorch's names, so
 * checkpoints match) but are vectors. Penalising a bias or a norm scale only restricts where a unit
 * switches on or how strongly it fires, which is why the usual practice leaves them alone.
 * Pass your own `include` to choose differently, e.g. `() => true` for every parameter.
 * @example
 * weightsOnly('0.weight', zeros([10, 64])) // true
 * weightsOnly('0.bias', zeros([10])) // false
 * weightsOnly('norm.weight', zeros([10])) // false: a normalisation scale
 * @since 0.1.0
 */
export const weightsOnly: ParamFilter = (name, param) => name.endsWith('weight') && param.shape.length >= 2
