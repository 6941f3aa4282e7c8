// Attention: scaled dot-product attention as one op (its VJP recomputes the probabilities).
import { scaledDotProductAttentionOp } from './scaledDotProductAttention'

export {
  scaledDotProductAttention,
  scaledDotProductAttentionOp,
  type AttentionDropout,
  type AttentionOptions,
  type AttentionParams,
} from './scaledDotProductAttention'

/** The attention ops, keyed by op name (spread into the registry). @since 0.2.0 */
export const attentionOps = {
  scaledDotProductAttention: scaledDotProductAttentionOp,
} as const
