import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Layer, NoParams, NoState } from '../layer'
import { badShape, fail } from './common'
import * as F from '../config/fields'
import { leafKind } from './define'

const rateProblem = (rate: number): string | undefined =>
  typeof rate === 'number' && rate >= 0 && rate < 1
    ? undefined
    : `rate must satisfy 0 <= rate < 1 (the probability of zeroing an element), got ${String(rate)}`

/**
 * Inverted dropout (PyTorch's `nn.Dropout`): in training, each element is zeroed with probability
 * `rate` and the survivors are scaled by 1/(1 − rate), so the expected output equals the input and
 * evaluation is the identity. The mask comes from `ctx.key` (required in training: combinators
 * split it so every dropout draws its own mask); the same key gives the same mask.
 * @example
 * const layer = layers.dropout(0.5)
 * layer.apply({}, {}, x, { training: true, key: T.random.key(1) }) // about half of x zeroed, the rest doubled
 * layer.apply({}, {}, x, { training: false }) // x
 * @since 0.1.0
 */
export const dropout = (rate: number): Layer<NoParams, NoState> => {
  const problem = rateProblem(rate)
  return {
    kind: 'dropout',
    config: { kind: 'dropout', rate },
    init: (_key, inShape) => {
      const shapeProblem = problem ?? badShape(inShape)
      if (shapeProblem !== undefined) return fail('dropout', shapeProblem)
      return E.right({ params: {}, state: {}, outShape: inShape })
    },
    apply: (_params, state, x, ctx) => {
      if (problem !== undefined) throw new T.ValueError('dropout', problem)
      if (!ctx.training || rate === 0) return [x, state]
      if (ctx.key === undefined)
        throw new T.ValueError(
          'dropout',
          'ctx.key is required in training mode (dropout draws a random mask); ' +
            'pass { training: true, key } to apply, or { training: false } to evaluate',
        )
      // Drawn with the ops (not the tensor sampler) so a key mapped by vmap draws one mask per key.
      const keep = O.randomBernoulli(ctx.key, 1 - rate, x.shape)
      // The mask is a constant of the computation (its op has a zero VJP): only x is differentiated.
      const scaledMask = O.mul(O.astype(keep, T.isFloat(x.dtype) ? x.dtype : 'float32'), 1 / (1 - rate))
      return [O.mul(x, scaledMask), state]
    },
  }
}

/** The `dropout` kind: the identity in an (inference) ONNX graph. @since 0.2.0 */
export const dropoutKind = /* @__PURE__ */ leafKind({
  kind: 'dropout',
  required: { rate: F.rate },
  optional: {},
  build: (f) => dropout(f['rate'] as number),
  onnx: { emit: (ctx) => E.right(ctx.input), inputElem: () => 'pass' },
})
