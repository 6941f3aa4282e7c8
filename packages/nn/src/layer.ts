import type { Either } from 'fp-ts/lib/Either.js'
import type { Key, Shape, Tensor } from '@backfold/tensor'
import type { BuiltinLayerConfigs } from './layers/builtins'

/**
 * Why a network could not be built: the path of the offending layer (e.g. `'body.2 (dense)'`),
 * the shapes involved and what was expected. Returned by `init`, before any data flows.
 * @since 0.1.0
 */
export interface LayerError {
  readonly kind: 'LayerError'
  /** Dotted path of the layer inside the network, with its kind: `'features.1 (conv2d)'`. */
  readonly path: string
  readonly message: string
}

/** Builds a `LayerError`. @since 0.1.0 */
export const layerError = (path: string, message: string): LayerError => ({
  kind: 'LayerError',
  path,
  message,
})

/** Formats a `LayerError` for people: `features.1 (conv2d): expected ...`. @since 0.1.0 */
export const formatLayerError = (e: LayerError): string => `${e.path}: ${e.message}`

/** A JSON value (what a layer config may hold). @since 0.1.0 */
export type JsonValue =
  null | boolean | number | string | ReadonlyArray<JsonValue> | { readonly [key: string]: JsonValue }

/**
 * The JSON description of a layer: its `kind` and hyperparameters, with nested configs for
 * combinators. Initialisers are not part of it (a config describes architecture; weights come from
 * checkpoints). Decoded and validated by `decodeModel`.
 * @since 0.1.0
 */
export interface LayerConfig {
  readonly kind: string
  readonly [key: string]: JsonValue
}

/**
 * The config of every layer kind a model may hold, by kind: the built-in kinds, plus any kind a
 * program adds by module augmentation, so `ModelConfig` (what `encodeModel` returns) narrows on
 * `kind` to the user's own config type too.
 * @example
 * import type { LayerConfig } from '@backfold/nn'
 * interface GluConfig extends LayerConfig { readonly kind: 'glu'; readonly units: number }
 * declare module '@backfold/nn' {
 *   interface LayerConfigs { readonly glu: GluConfig }
 * }
 * @since 0.2.0
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- the interface exists to be augmented
export interface LayerConfigs extends BuiltinLayerConfigs {}

/** The config of any known layer kind (see `LayerConfigs`), narrowed by `kind`. @since 0.2.0 */
export type ModelConfig = LayerConfigs[keyof LayerConfigs]

/** What `init` returns: parameters, state and the inferred per-example output shape. @since 0.1.0 */
export interface Initialized<P, S> {
  readonly params: P
  readonly state: S
  /** Output shape of ONE example (no batch dimension). */
  readonly outShape: Shape
}

/** What `apply` needs besides params, state and input. @since 0.1.0 */
export interface ApplyContext {
  /** Training mode: dropout active, batch norm uses and updates batch statistics. */
  readonly training: boolean
  /** Randomness for stochastic layers (dropout); required when such a layer runs in training mode. */
  readonly key?: Key
  /**
   * Incremental decoding (evaluation only): the layers that depend on positions
   * (`multiHeadAttention`, `transformerBlock`, `positionalEmbedding`, `sinusoidal`) take `x` as the
   * positions that follow those already seen, keep their keys and values (or position counter) in
   * their returned state, and start from position 0 when their state holds no cache yet (the state
   * from `init`). Combinators pass it to their children. See `generate`.
   * @since 0.2.0
   */
  readonly cache?: DecodingCache
}

/**
 * What `ApplyContext.cache` asks for: decoding with a key/value cache of `capacity` positions (the
 * longest sequence the decoding will reach; going past it is an error naming the layer).
 * @example
 * import * as T from '@backfold/tensor'
 * import { layers } from '@backfold/nn'
 * const attn = layers.multiHeadAttention({ heads: 2, causal: true })
 * const built = attn.init(T.random.key(0), [4, 8])
 * if (built._tag === 'Right') {
 *   const ctx = { training: false, cache: { capacity: 4 } }
 *   const [, s1] = attn.apply(built.right.params, built.right.state, T.zeros([1, 3, 8]), ctx) // positions 0..2
 *   const [y] = attn.apply(built.right.params, s1, T.ones([1, 1, 8]), ctx) // position 3, attending to 0..3
 * }
 * @since 0.2.0
 */
export interface DecodingCache {
  /** How many positions each layer's cache holds. */
  readonly capacity: number
}

/**
 * A layer is a pair of pure functions.
 *
 * - `init(key, inShape)` takes the shape of ONE example (no batch dimension, e.g. `[1, 28, 28]`),
 *   infers every parameter shape and the output shape, or returns a `LayerError` naming the layer.
 * - `apply(params, state, x, ctx)` maps a batch `x` of shape `[batch, ...inShape]` to
 *   `[batch, ...outShape]` and returns the new state (batch-norm statistics); it never mutates.
 *
 * `P` and `S` are trees of tensors, so `grad` of a loss over `P` returns a `P`.
 * @since 0.1.0
 */
export interface Layer<P = unknown, S = unknown> {
  /** The layer's kind, e.g. `'dense'`, used in error paths and configs. */
  readonly kind: string
  /** Builds the parameters and state for one example of shape `inShape`, and infers the output shape. */
  readonly init: (key: Key, inShape: Shape) => Either<LayerError, Initialized<P, S>>
  /** Maps a batch `x` to the layer's output and the new state; never mutates. */
  readonly apply: (params: P, state: S, x: Tensor, ctx: ApplyContext) => readonly [Tensor, S]
  /**
   * The layer's JSON config (`{ kind, ...options }`), present for every built-in layer, every layer
   * made by a kind from `defineLayer`, and combinators of them; see `encodeModel`.
   */
  readonly config?: LayerConfig | undefined
  /**
   * Set by combinators whose `config` is absent because a descendant has none: that descendant's
   * path, as `LayerError` paths read (`'body.1 (mine)'`), so errors can say which layer it is.
   * @since 0.2.0
   */
  readonly missingConfig?: string | undefined
}

/** The parameter tree type of a layer. @since 0.1.0 */
export type ParamsOf<L> = L extends Layer<infer P, infer _S> ? P : never
/** The state tree type of a layer. @since 0.1.0 */
export type StateOf<L> = L extends Layer<infer _P, infer S> ? S : never

/** State of a layer that has none. @since 0.1.0 */
export type NoState = Readonly<Record<never, never>>
/** Parameters of a layer that has none. @since 0.1.0 */
export type NoParams = Readonly<Record<never, never>>
