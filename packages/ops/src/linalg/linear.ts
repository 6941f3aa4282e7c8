// y = act(x wᵀ + b) ; z̄ = ȳ ⊙ act'(z), x̄ = z̄ w, w̄ = z̄ᵀ x, b̄ = Σ_batch z̄
import * as T from '@backfold/tensor'
import type { Activation, Tensor } from '@backfold/tensor'
import { applyOp, defineOp } from '../core/op'
import { reluGrad } from '../elementwise/reluGrad'
import { sum } from '../reduce/sum'
import { matmul } from './matmul'

/** Parameters of the fused dense op. @since 0.1.0 */
export interface LinearParams {
  readonly activation: Activation
}

/** The fused dense op: inputs `[x, w]` or `[x, w, b]`. @since 0.1.0 */
export const linearOp = defineOp<LinearParams>({
  name: 'linear',
  forward: ([x, w, b], p) => T.linear(x!, w!, b, p.activation),
  vjp: (ct, xs, y, p, needed) => {
    const [x, w] = xs
    // ReLU's derivative read off the output (y > 0 exactly where z > 0); relu'(0) = 0 as everywhere.
    const dz = p.activation === 'relu' ? reluGrad(ct, y) : ct
    // The first layer's input is the data: its cotangent (a whole product) is usually not needed.
    const cotangents = [
      needed[0] !== false ? matmul(dz, w!) : undefined,
      needed[1] !== false ? matmul(dz, x!, { transposeA: true }) : undefined,
    ]
    return xs.length === 3
      ? [...cotangents, needed[2] !== false ? sum(dz, { axis: 0 }) : undefined]
      : cotangents
  },
})

/**
 * A dense layer in one op: `activation(x wᵀ + b)` with `x` [batch, in], `w` [out, in] (PyTorch's
 * layout), optional `b` [out], activation `'none'` (default) or `'relu'`. Same values and gradients
 * as `relu(add(matmul(x, w, { transposeB: true }), b))`, with the bias and activation fused into
 * the product's output pass.
 * @example
 * const hidden = linear(x, params.weight, params.bias, 'relu')
 * @since 0.1.0
 */
export const linear = (x: Tensor, w: Tensor, b?: Tensor, activation: Activation = 'none'): Tensor =>
  applyOp(linearOp, b === undefined ? [x, w] : [x, w, b], { activation })
