import type { Tensor } from '@backfold/tensor'

/**
 * One row of the op gradient table: an op (by registry name), a function applying it with fixed
 * parameters, and inputs drawn from the op's valid domain. The gradient table runs `checkVjp` once
 * per row (float64), its second-order check forced on or off by `secondOrder`; the vmap table runs
 * every row under vmap too.
 */
export interface GradRow {
  /** The registry name of the op this row covers (several rows may cover one op). */
  readonly op: string
  /** Short description shown in the test name, e.g. 'broadcast [3,1] x [4]'. */
  readonly label: string
  /** The input domain in words, e.g. 'positive', 'away from 0' (required by the style guide). */
  readonly domain: string
  readonly fn: (...xs: Tensor[]) => Tensor
  /** float64 inputs (int32 arguments such as indices are allowed and are not differentiated). */
  readonly args: () => Tensor[]
  /**
   * `true`: also check the VJP of the gradient (second order) against finite differences.
   * `false`: second order is not claimed for these inputs (say why), so checkVjp's own second-order
   * check, on by default for small inputs, is turned off too.
   */
  readonly secondOrder?: boolean
  /** Override checkVjp's tolerance (default 1e-6) with a reason in a comment. */
  readonly tolerance?: number
}
