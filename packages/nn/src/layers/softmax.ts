import * as E from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { Layer, NoParams, NoState } from '../layer'
import { badShape, fail } from './common'
import * as F from '../config/fields'
import { intAttribute } from '../onnx/graph'
import { leafKind } from './define'
import { formatDims } from '../onnx/context'

/**
 * Softmax along `axis` (default −1, the last), PyTorch's `nn.Softmax(dim)`: like PyTorch's `dim`,
 * `axis` counts the axes of the BATCH (axis 0 is the batch axis, 1 the first per-example axis);
 * negative axes count from the end. `init` rejects an axis out of range for the input's rank.
 * For training with cross-entropy prefer raw logits and a fused loss.
 * @example
 * layers.sequential(layers.dense(10), layers.softmax())
 * @since 0.1.0
 */
export const softmax = (axis = -1): Layer<NoParams, NoState> => ({
  kind: 'softmax',
  config: { kind: 'softmax', axis },
  init: (_key, inShape) => {
    const problem = badShape(inShape)
    if (problem !== undefined) return fail('softmax', problem)
    const rank = inShape.length + 1
    if (!Number.isInteger(axis) || axis < -rank || axis >= rank)
      return fail(
        'softmax',
        `axis ${String(axis)} is out of range for a batch of per-example shape ${T.fmtShape(inShape)} ` +
          `(rank ${rank} with the batch axis); expected -${rank} <= axis < ${rank}`,
      )
    return E.right({ params: {}, state: {}, outShape: inShape })
  },
  apply: (_params, state, x) => [O.softmax(x, { axis }), state],
})

/** The `softmax` kind: ONNX export as Softmax. @since 0.2.0 */
export const softmaxKind = /* @__PURE__ */ leafKind({
  kind: 'softmax',
  required: {},
  optional: { axis: F.integer },
  build: (f) => softmax(f['axis'] === undefined ? -1 : (f['axis'] as number)),
  onnx: {
    emit: (ctx) => {
      const axis = ctx.config['axis'] ?? -1
      const rank = ctx.input.shape.length + 1
      if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -rank || axis >= rank)
        return ctx.fail(
          `config.axis must be an integer in [-${rank}, ${rank}) for inputs ${formatDims(ctx.input.shape)} (batch axis included), got ${JSON.stringify(axis)}`,
        )
      return ctx.unary('Softmax', [intAttribute('axis', axis)])
    },
  },
})
