// Autoregressive decoding: feed the sequence, pick the next token from the last position's logits.
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Key, Tensor } from '@backfold/tensor'
import type { ApplyContext, JsonValue, Layer, LayerConfig } from './layer'

/** Options of `generate`. @since 0.2.0 */
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
  /**
   * Decode with key/value caches (`ApplyContext.cache`, capacity `context`, or the prompt length
   * plus `steps`): the prompt runs once, then each step runs the model on the new token only. When
   * the window is full (`context` reached), the step recomputes the last `context` tokens from
   * empty caches, exactly as without the cache. Default: on when the model's config shows that
   * every layer decodes incrementally (see `incrementalDecodingProblem`), off otherwise; `true`
   * makes a model that cannot an error, `false` recomputes the window every step. The tokens are
   * the same either way (logits equal within rounding).
   * @since 0.2.0
   */
  readonly cache?: boolean
}

const OPTIONS = O.optionSchema({
  steps: O.option.required(O.option.integer),
  temperature: O.option.number,
  topK: O.option.integer,
  key: O.option.anything,
  context: O.option.integer,
  cache: O.option.boolean,
})

// Kinds that act on each position alone (per token, over the last axis), so running them on the
// new tokens only is the same as on the whole window.
const POSITIONWISE: ReadonlyArray<string> = [
  'embedding',
  'dense',
  'relu',
  'gelu',
  'silu',
  'elu',
  'tanh',
  'sigmoid',
  'leakyRelu',
  'dropout',
]

const children = (value: JsonValue | undefined): ReadonlyArray<readonly [string, JsonValue]> =>
  Array.isArray(value)
    ? value.map((c, i) => [String(i), c] as const)
    : value !== null && typeof value === 'object'
      ? Object.entries(value as { readonly [key: string]: JsonValue })
      : []

/**
 * Why a model cannot decode incrementally with key/value caches (the first layer, by path, that
 * mixes positions without a cache), or undefined when it can: read from its config (`model.config`).
 * The built-in kinds that can are the position-wise ones (embedding, dense, activations, dropout,
 * layerNorm and rmsNorm over the last axis, softmax over the last axis), the positional ones
 * (`positionalEmbedding`, `sinusoidal`), causal `multiHeadAttention` and `transformerBlock`, and
 * `sequential` and `residual` of them. A layer without a config, a user kind, or any other kind
 * (recurrent, convolution, batchNorm, non-causal attention, ...) cannot.
 * @example
 * import { incrementalDecodingProblem, layers } from '@backfold/nn'
 * const lm = layers.sequential(layers.embedding(30, 16), layers.transformerBlock({ heads: 2, causal: true }), layers.dense(30))
 * incrementalDecodingProblem(lm) // undefined: generate uses the cache
 * @since 0.2.0
 */
export const incrementalDecodingProblem = (model: Pick<Layer, 'config'>): string | undefined => {
  const walk = (config: JsonValue | undefined, path: string): string | undefined => {
    if (config === null || typeof config !== 'object' || Array.isArray(config))
      return `${path || 'the model'} has no config (a layer not built from a layer kind)`
    const c = config as LayerConfig
    const at = `${path === '' ? '' : `${path} `}(${c.kind})`
    switch (c.kind) {
      case 'sequential':
        for (const [name, child] of children(c['layers'])) {
          const problem = walk(child, path === '' ? name : `${path}.${name}`)
          if (problem !== undefined) return problem
        }
        return undefined
      case 'residual':
        return walk(c['body'], path)
      case 'multiHeadAttention':
      case 'transformerBlock':
        return c['causal'] === true ? undefined : `${at} is not causal, so earlier positions see later ones`
      case 'positionalEmbedding':
      case 'sinusoidal':
        return undefined
      case 'layerNorm':
      case 'rmsNorm':
        return c['axes'] === undefined || c['axes'] === 1
          ? undefined
          : `${at} normalises over more than the last axis`
      case 'softmax':
        return c['axis'] === -1 || c['axis'] === undefined ? undefined : `${at} is not over the last axis`
      default:
        return POSITIONWISE.includes(c.kind) ? undefined : `${at} is not known to decode incrementally`
    }
  }
  return walk(model.config, '')
}

/**
 * Autoregressive generation with a model mapping int32 tokens `[N, L]` to logits `[N, L, vocab]`
 * (e.g. embedding → transformer blocks → a vocabulary projection): each step runs the model in
 * evaluation mode on the sequence so far (its last `context` tokens), takes the last position's
 * logits and appends a token chosen greedily or by sampling (temperature, top-k). Returns
 * `[N, L + steps]` int32 (the prompt, then the new tokens). With key/value caches (`cache`, on by
 * default for models that allow it) the prompt runs once and each step runs the new token only;
 * otherwise the whole window is recomputed every step.
 * @example
 * import * as T from '@backfold/tensor'
 * import { generate } from '@backfold/nn'
 * declare const model: import('@backfold/nn').Layer<unknown, unknown>
 * declare const params: unknown
 * const prompt = T.tensor([[1, 2]], 'int32')
 * const greedy = generate(model, params, {}, prompt, { steps: 5 })
 * const sampled = generate(model, params, {}, prompt, { steps: 5, temperature: 0.8, topK: 10, key: T.random.key(0) })
 * @throws ValueError for bad options (sampling without a key, topK without temperature, ...), ShapeError when the prompt or the logits have the wrong shape.
 * @since 0.2.0
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
  const cacheProblem = opts.cache === false ? undefined : incrementalDecodingProblem(model)
  if (opts.cache === true && cacheProblem !== undefined)
    throw new T.ValueError(
      name,
      `cache: true, but the model cannot decode incrementally: ${cacheProblem}; pass cache: false`,
    )
  const useCache = opts.cache !== false && cacheProblem === undefined
  if (prompt.dtype !== 'int32' || prompt.shape.length !== 2 || prompt.shape[1] === 0)
    throw new T.ShapeError(
      name,
      `the prompt must be int32 tokens [batch, length >= 1], got ${prompt.dtype} ${T.fmtShape(prompt.shape)}`,
    )
  const n = prompt.shape[0]!
  // Positions the caches hold: the window, or everything this call will feed.
  const capacity = Math.min(opts.context ?? Infinity, prompt.shape[1]! + steps)
  const decoding: ApplyContext = { training: false, cache: { capacity } }
  let cached: S = state
  let filled = 0
  let tokens = prompt
  let key = opts.key
  for (let step = 0; step < steps; step++) {
    const length = tokens.shape[1]!
    let window: Tensor
    let logits: Tensor
    if (useCache && step > 0 && filled < capacity) {
      // The caches hold positions 0..filled−1 of the window; feed the newest token only.
      window = O.slice(tokens, [undefined, { start: length - 1, stop: length }])
      ;[logits, cached] = model.apply(params, cached, window, decoding)
      filled++
    } else {
      const start = opts.context === undefined ? 0 : Math.max(0, length - opts.context)
      window = start === 0 ? tokens : O.slice(tokens, [undefined, { start, stop: length }])
      if (useCache) {
        // The first step, or a full window: start again from empty caches on the window.
        ;[logits, cached] = model.apply(params, state, window, decoding)
        filled = window.shape[1]!
      } else [logits] = model.apply(params, state, window, { training: false })
    }
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
