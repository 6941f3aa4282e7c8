import * as O from '@backfold/ops'
import type { Tensor } from '@backfold/tensor'
import { requireFloat, requireSameShape } from './validate'

/**
 * Binary cross-entropy on logits, averaged over all elements (PyTorch's `BCEWithLogitsLoss`,
 * optax's `sigmoid_binary_cross_entropy` followed by a mean):
 * `max(x, 0) − x·t + log1p(exp(−|x|))`, which equals `−t log σ(x) − (1 − t) log(1 − σ(x))` without
 * ever forming σ(x), so logits of ±1000 stay finite.
 *
 * Written as `softplus(x) − x·t` (the stable softplus is exactly `max(x, 0) + log1p(exp(−|x|))`), so the
 * gradient is `(σ(x) − t) / size` everywhere, including x = 0 where the max/abs form would lose the ½.
 * Targets are probabilities in [0, 1] (int32 0/1 masks are accepted), shaped like the logits.
 * @example
 * import { tensor } from '@backfold/tensor'
 * import { sigmoidBinaryCrossEntropy } from '@backfold/nn'
 * sigmoidBinaryCrossEntropy(tensor([0, 1000]), tensor([1, 1])) // (log 2 + 0) / 2
 * @since 0.1.0
 */
export const sigmoidBinaryCrossEntropy = (logits: Tensor, targets: Tensor): Tensor => {
  requireFloat('sigmoidBinaryCrossEntropy', logits, 'logits')
  requireSameShape('sigmoidBinaryCrossEntropy', logits, targets, 'logits', 'targets')
  return O.mean(O.sub(O.softplus(logits), O.mul(logits, targets)))
}
