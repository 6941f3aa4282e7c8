import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Key, Shape, Tensor } from '@backfold/tensor'
import type { Fans, Initializer } from './initializer'
import { checkFinite, checkInitArgs, computeFans } from './initializer'

/** Options of `varianceScaling`. @since 0.1.0 */
export interface VarianceScalingOptions {
  /** Target variance numerator: variance = scale / n. */
  readonly scale: number
  /** Which n: fan-in, fan-out or their mean. */
  readonly mode: 'fanIn' | 'fanOut' | 'fanAvg'
  /**
   * - `'truncatedNormal'`: normal truncated at ±2 standard deviations, its std corrected by
   *   1/0.87962566103423978 so the SAMPLES have variance scale / n (as JAX and Keras);
   * - `'normal'`: plain normal with std √(scale / n) (as PyTorch's `kaiming_normal_`/`xavier_normal_`);
   * - `'uniform'`: U(−√(3·scale/n), √(3·scale/n)).
   */
  readonly distribution: 'truncatedNormal' | 'normal' | 'uniform'
}

/** Standard deviation of N(0, 1) truncated to [−2, 2]. */
const TRUNCATED_STD = 0.87962566103423978

/**
 * The family behind Glorot, He and LeCun initialisation (JAX's `variance_scaling`): samples with
 * variance `scale / n`, n chosen by `mode` from the fans (the weight's fans when a layer passes
 * them, else `computeFans(shape)`). n is taken as at least 1, so empty tensors do not divide by 0.
 * @example
 * const init = initializers.varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'normal' }) // kaiming_normal_
 * @since 0.1.0
 */
export const varianceScaling = (opts: VarianceScalingOptions): Initializer =>
  scaled(opts, 'initializers.varianceScaling')

/** `varianceScaling` reporting errors under `name`, so each named initialiser speaks for itself. */
const scaled =
  (opts: VarianceScalingOptions, name: string): Initializer =>
  (key: Key, shape: Shape, dtype?: DType, fans?: Fans): Tensor => {
    checkFinite(name, 'scale', opts.scale)
    if (opts.scale < 0) throw new T.ValueError(name, `scale must be >= 0, got ${opts.scale}`)
    const resolved = checkInitArgs(name, shape, dtype, true)
    const { fanIn, fanOut } = fans ?? computeFans(shape)
    const n = Math.max(
      1,
      opts.mode === 'fanIn'
        ? fanIn
        : opts.mode === 'fanOut'
          ? fanOut
          : opts.mode === 'fanAvg'
            ? (fanIn + fanOut) / 2
            : NaN,
    )
    if (Number.isNaN(n))
      throw new T.ValueError(name, `mode must be 'fanIn', 'fanOut' or 'fanAvg', got ${String(opts.mode)}`)
    const variance = opts.scale / n
    switch (opts.distribution) {
      case 'truncatedNormal':
        return O.randomTruncatedNormal(key, shape, {
          std: Math.sqrt(variance) / TRUNCATED_STD,
          dtype: resolved,
        })
      case 'normal':
        return O.randomNormal(key, shape, { std: Math.sqrt(variance), dtype: resolved })
      case 'uniform': {
        const bound = Math.sqrt(3 * variance)
        // The sampler needs min < max; scale 0 means all zeros.
        if (bound === 0) return T.zeros(shape, resolved)
        return O.randomUniform(key, shape, { min: -bound, max: bound, dtype: resolved })
      }
      default:
        throw new T.ValueError(
          name,
          `distribution must be 'truncatedNormal', 'normal' or 'uniform', got ${String(opts.distribution)}`,
        )
    }
  }

/**
 * Glorot/Xavier uniform: U(−√(6/(fanIn+fanOut)), √(6/(fanIn+fanOut))) (Glorot & Bengio 2010; Keras's default).
 * @since 0.1.0
 */
export const glorotUniform: Initializer = scaled(
  { scale: 1, mode: 'fanAvg', distribution: 'uniform' },
  'initializers.glorotUniform',
)

/**
 * Glorot/Xavier normal, as Keras's `GlorotNormal`: truncated normal (±2σ) whose samples have
 * std √(2/(fanIn+fanOut)).
 * @since 0.1.0
 */
export const glorotNormal: Initializer = scaled(
  { scale: 1, mode: 'fanAvg', distribution: 'truncatedNormal' },
  'initializers.glorotNormal',
)

/**
 * He/Kaiming uniform for ReLU networks: U(−√(6/fanIn), √(6/fanIn)) (PyTorch's `kaiming_uniform_` with a = 0).
 * @since 0.1.0
 */
export const heUniform: Initializer = scaled(
  { scale: 2, mode: 'fanIn', distribution: 'uniform' },
  'initializers.heUniform',
)

/**
 * He/Kaiming normal for ReLU networks, as Keras's `HeNormal`: truncated normal (±2σ) whose samples
 * have std √(2/fanIn). For PyTorch's untruncated `kaiming_normal_` use
 * `varianceScaling({ scale: 2, mode: 'fanIn', distribution: 'normal' })`.
 * @example
 * const layer = layers.dense(128, { weightInit: initializers.heNormal })
 * @since 0.1.0
 */
export const heNormal: Initializer = scaled(
  { scale: 2, mode: 'fanIn', distribution: 'truncatedNormal' },
  'initializers.heNormal',
)

/**
 * LeCun normal (for SELU networks), as Keras's `LecunNormal`: truncated normal (±2σ) whose samples
 * have std √(1/fanIn).
 * @since 0.1.0
 */
export const lecunNormal: Initializer = scaled(
  { scale: 1, mode: 'fanIn', distribution: 'truncatedNormal' },
  'initializers.lecunNormal',
)

/**
 * LeCun uniform: U(−√(3/fanIn), √(3/fanIn)).
 * @since 0.1.0
 */
export const lecunUniform: Initializer = scaled(
  { scale: 1, mode: 'fanIn', distribution: 'uniform' },
  'initializers.lecunUniform',
)

/**
 * PyTorch's `kaiming_uniform_(w, a)`: U(−b, b) with b = gain·√(3/fanIn), gain = √(2/(1 + a²)).
 * @since 0.1.0
 */
export const kaimingUniform = (opts: { readonly a?: number } = {}): Initializer => {
  const a = opts.a ?? 0
  return scaled(
    { scale: 2 / (1 + a * a), mode: 'fanIn', distribution: 'uniform' },
    'initializers.kaimingUniform',
  )
}

/**
 * PyTorch's default for `nn.Linear` and `nn.Conv2d`: `kaiming_uniform_` with a = √5, which is
 * U(−1/√fanIn, 1/√fanIn). Layers pass the WEIGHT's fans, so as a bias initialiser it gives PyTorch's
 * bias default U(−1/√fanIn, 1/√fanIn) too. `dense` and `conv2d` use it for weights and biases
 * unless told otherwise.
 * @example
 * layers.dense(10, { weightInit: initializers.torchDefault, biasInit: initializers.zeros })
 * @since 0.1.0
 */
export const torchDefault: Initializer = scaled(
  { scale: 1 / 3, mode: 'fanIn', distribution: 'uniform' },
  'initializers.torchDefault',
)
