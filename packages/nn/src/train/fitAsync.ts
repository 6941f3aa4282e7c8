import { checkOptions, option, optionSchema } from '@backfold/ops'
import { FIT_OPTION_SPECS, fitLoop, requireInteger } from './fit'
import type { FitOptions, FitResult } from './fit'
import { runAsync } from './loop'
import type { AsyncCallback } from './loop'

export type { AsyncCallback }

/** Options of `fitAsync`: those of `fit`, asynchronous callbacks, and how often to yield. @since 0.2.0 */
export interface FitAsyncOptions<P, S, O> extends Omit<FitOptions<P, S, O>, 'callbacks'> {
  /** As in `fit`, but a hook may return a Promise, which is awaited before training goes on. */
  readonly callbacks?: ReadonlyArray<AsyncCallback<NoInfer<P>, NoInfer<S>, NoInfer<O>>>
  /**
   * Batches between turns given to the event loop (default 1: after every batch). A turn is a later
   * task (`setImmediate` in Node; in a browser a zero timeout set from a `MessageChannel` message,
   * which waits behind the page's due timers without the 4 ms clamp of nested timeouts), so timers,
   * input and rendering run between batches; a larger value trades responsiveness for a little speed.
   */
  readonly yieldEvery?: number
}

const FIT_ASYNC_OPTIONS = optionSchema({ ...FIT_OPTION_SPECS, yieldEvery: option.integer })

/**
 * `fit` for a page or a server that must stay responsive: the same loop, options and result
 * (bitwise the same parameters and history for the same options), but it returns a Promise, gives
 * the event loop a turn every `yieldEvery` batches, and awaits callbacks that return a Promise
 * (`AsyncCallback`). A reporter or callback can draw progress while it runs.
 *
 * Bad options are a rejected Promise with the same typed errors as `fit` (an unknown key included),
 * and so is a `TrainingDivergedError` or a callback's rejection.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import * as T from '@backfold/tensor'
 * import { layers, fitAsync, adam, crossEntropy } from '@backfold/nn'
 * const model = layers.sequential(layers.dense(128, { activation: 'relu' }), layers.dense(10))
 * const [initKey, fitKey] = T.random.split(T.random.key(0), 2)
 * const built = model.init(initKey, [64])
 * const status = document.querySelector('#status')!
 * if (E.isRight(built)) {
 *   const { params, history } = await fitAsync({
 *     model, loss: crossEntropy, optimizer: adam(1e-3),
 *     params: built.right.params, state: built.right.state,
 *     data: train, validationData: test, epochs: 30, batchSize: 32, key: fitKey,
 *     // show the epoch's loss, and go on once the page has drawn it
 *     callbacks: [{ onEpochEnd: async ({ record }) => {
 *       status.textContent = `epoch ${record.epoch + 1}: loss ${record.loss.toFixed(4)}`
 *       await new Promise((resolve) => requestAnimationFrame(resolve))
 *     } }],
 *   })
 * }
 * @since 0.2.0
 */
export const fitAsync = async <P, S, O>(options: FitAsyncOptions<P, S, O>): Promise<FitResult<P, S, O>> => {
  checkOptions('fitAsync', options, FIT_ASYNC_OPTIONS)
  const { yieldEvery = 1, ...fitOptions } = options
  requireInteger('yieldEvery', yieldEvery, 1, 'fitAsync')
  return runAsync(fitLoop('fitAsync', fitOptions), yieldEvery)
}
