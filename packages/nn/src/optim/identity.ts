import type { GradientTransformation } from './transform'

/** The state of a transformation that keeps none. @since 0.1.0 */
export type EmptyState = Readonly<Record<never, never>>

/**
 * Passes the gradients through unchanged (optax's `identity`); a placeholder in a `chain`.
 * @since 0.1.0
 */
export const identity = (): GradientTransformation<EmptyState> => ({
  init: () => ({}),
  update: (grads) => [grads, {}],
})
