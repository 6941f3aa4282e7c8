// Autoregressive decoding: feed the sequence, pick the next token from the last position's logits.
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import type { Layer } from './layer'

/** Options of `generate`. @since 0.3.0 */
export interface GenerateOptions {
  /** How many tokens to append. */
  readonly steps: number
  /**
   * 0 or absent: greedy (argmax, no key needed). > 0: sample from softmax(logits / temperature)
   * with `randomCategorical` (a `key` is required).
   */
  readonly temperature?: number
  /**
   * Sample only among the `topK` largest logits of each row (ties with the k-th largest are kept,
   * as Hugging Face's `TopKLogitsWarper`); needs `temperature > 0`.
   */
  readonly topK?: number
  /** The randomness of sampling; each step uses its own key split from it. */
  readonly key?: Key
  /**
   * Feed at most the last `context` tokens to the model (its longest sequence, e.g. a
   * `positionalEmbedding`'s `maxLen`); default: the whole sequence so far.
   */
  readonly context?: number
}

const OPTIONS = O.optionSchema({
  steps: O.option.required(O.option.integer),
  temperature: O.option.number,
  topK: O.option.integer,
  key: O.option.anything,
  context: O.option.integer,
})

/**
 * Autoregressive generation with a model mapping int32 tokens `[N, L]` to logits `[N, L, vocab]`
 * (e.g. embedding → transformer blocks → a vocabulary projection): each step runs the model in
 * evaluation mode on the sequence so far (its last `context` tokens), takes the last position's
 * logits and appends a token chosen greedily or by sampling (temperature, top-k). Returns
 * `[N, L + steps]` int32 (the prompt, then the new tokens). The whole window is recomputed every
 * step (there is no key/value cache yet).
 * @example
 * import * as T from '@backfold/tensor'
 * import { generate } from '@backfold/nn'
 * declare const model: import('@backfold/nn').Layer<unknown, unknown>
 * declare const params: unknown
 * const prompt = T.tensor([[1, 2]], 'int32')
 * const greedy = generate(model, params, {}, prompt, { steps: 5 })
 * const sampled = generate(model, params, {}, prompt, { steps: 5, temperature: 0.8, topK: 10, key: T.random.key(0) })
 * @throws ValueError for bad options (sampling without a key, topK without temperature, ...), ShapeError when the prompt or the logits have the wrong shape.
 * @since 0.3.0
 */
export const generate = <P, S>(
  model: Layer<P, S>,
  params: P,
  state: S,
  prompt: Tensor,
  opts: GenerateOptions,
): Tensor => {
  const name = 'generate'
  O.checkOptions(name, opts, OPTIONS)
  const { steps } = opts
  const temperature = opts.temperature ?? 0
  const problem =
    steps >= 0
      ? !(temperature >= 0 && Number.isFinite(temperature))
        ? `temperature must be a finite number >= 0, got ${temperature}`
        : temperature > 0 && opts.key === undefined
          ? 'sampling (temperature > 0) needs a key: pass { key: T.random.key(seed) }'
          : opts.topK !== undefined && temperature === 0
            ? 'topK applies to sampling: set temperature > 0 (greedy decoding already takes the largest logit)'
            : opts.topK !== undefined && opts.topK < 1
              ? `topK must be a positive integer, got ${opts.topK}`
              : opts.context !== undefined && opts.context < 1
                ? `context must be a positive integer, got ${opts.context}`
                : undefined
      : `steps must be an integer >= 0, got ${steps}`
  if (problem !== undefined) throw new T.ValueError(name, problem)
  if (prompt.dtype !== 'int32' || prompt.shape.length !== 2 || prompt.shape[1] === 0)
    throw new T.ShapeError(
      name,
      `the prompt must be int32 tokens [batch, length >= 1], got ${prompt.dtype} ${T.fmtShape(prompt.shape)}`,
    )
  const n = prompt.shape[0]!
  let tokens = prompt
  let key = opts.key
  for (let step = 0; step < steps; step++) {
    const length = tokens.shape[1]!
    const start = opts.context === undefined ? 0 : Math.max(0, length - opts.context)
    const window = start === 0 ? tokens : O.slice(tokens, [undefined, { start, stop: length }])
    const [logits] = model.apply(params, state, window, { training: false })
    const l = window.shape[1]!
    if (logits.shape.length !== 3 || logits.shape[0] !== n || logits.shape[1] !== l)
      throw new T.ShapeError(
        name,
        `the model must map tokens [${n}, ${l}] to logits [${n}, ${l}, vocab], got ${T.fmtShape(logits.shape)}`,
      )
    const vocab = logits.shape[2]!
    let last = O.reshape(O.slice(logits, [undefined, { start: l - 1, stop: l }]), [n, vocab])
    let next: Tensor
    if (temperature === 0) next = O.argmax(last, { axis: -1 })
    else {
      if (opts.topK !== undefined && opts.topK < vocab) {
        const kth = O.slice(O.topk(last, opts.topK).values, [
          undefined,
          { start: opts.topK - 1, stop: opts.topK },
        ])
        last = O.where(O.less(last, kth), -Infinity, last)
      }
      const [stepKey, rest] = T.random.split(key!, 2)
      key = rest
      next = O.randomCategorical(stepKey, O.div(last, temperature), { axis: -1 })
    }
    tokens = O.concat([tokens, O.reshape(next, [n, 1])], { axis: 1 })
  }
  return tokens
}
