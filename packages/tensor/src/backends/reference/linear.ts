import type { Activation, Backend, MatmulSpec } from '../../backend'
import type { Tensor } from '../../tensor'
import { matmul } from './matmul'

/**
 * Builds `Backend.linear` on top of a backend's own matmul: the product is a fresh buffer nobody
 * else has seen, so the bias add and activation run in place over it, one pass instead of two
 * passes and two allocations.
 */
export const linearWith =
  (matmulKernel: Backend['matmul']): Backend['linear'] =>
  (x: Tensor, w: Tensor, b: Tensor | undefined, activation: Activation, spec: MatmulSpec): Tensor => {
    const y = matmulKernel(x, w, spec)
    const out = y.data
    const n = spec.n
    const bias = b?.data
    const relu = activation === 'relu'
    if (bias === undefined && !relu) return y
    for (let start = 0; start < out.length; start += n) {
      if (bias !== undefined && relu)
        // Math.max as the relu kernel: NaN stays NaN (PyTorch's relu), -0 becomes 0.
        for (let j = 0; j < n; j++) out[start + j] = Math.max(out[start + j]! + bias[j]!, 0)
      else if (bias !== undefined) for (let j = 0; j < n; j++) out[start + j] = out[start + j]! + bias[j]!
      else for (let j = 0; j < n; j++) out[start + j] = Math.max(out[start + j]!, 0)
    }
    return y
  }

/** The reference backend's fused dense layer. @since 0.1.0 */
export const linear = linearWith(matmul)
