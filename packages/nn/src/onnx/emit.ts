/**
 * One ONNX subgraph per layer kind, in inference mode, walking a layer's config together with its
 * params and state (a combinator's params are an array or record mirroring its config's `layers`;
 * a residual's are its body's). Internal to the exporter.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { Conv2dOptions, Pool2dOptions, Tensor } from '@backfold/tensor'
import type { JsonValue, LayerConfig } from '../layer'
import { onnxError, type OnnxError } from './error'
import type { GraphBuilder } from './graph'
import { floatAttribute, intAttribute, intsAttribute, stringAttribute } from './graph'
import type { AttributeProto } from './messages'

/** A per-example dimension: a size, a symbolic name (`'L'`), or `null` when unknown until run time. */
export type Dim = number | string | null

/** A value flowing through the graph; `shape` is per example (the batch axis is implicit). */
export interface Value {
  readonly name: string
  readonly shape: ReadonlyArray<Dim>
  readonly elem: 'float' | 'int32'
}

/** What every emitter shares: the graph under construction and the target operator set. */
export interface EmitContext {
  readonly graph: GraphBuilder
  readonly opset: number
}

/** The layer kinds `exportOnnx` knows. @since 0.1.0 */
export const exportableKinds = [
  'sequential',
  'parallel',
  'residual',
  'dense',
  'conv2d',
  'maxPool2d',
  'avgPool2d',
  'globalAvgPool2d',
  'flatten',
  'dropout',
  'batchNorm',
  'layerNorm',
  'embedding',
  'relu',
  'leakyRelu',
  'elu',
  'gelu',
  'silu',
  'sigmoid',
  'tanh',
  'softmax',
] as const

/** Where a layer sits: its parameter path (`['features', '1']`) and kind. */
interface Site {
  readonly keys: ReadonlyArray<string>
  readonly kind: string
}

/** `features.1 (conv2d)`, as `LayerError` paths read; the bare kind for the root. */
const display = (site: Site): string =>
  site.keys.length === 0 ? site.kind : `${site.keys.join('.')} (${site.kind})`
/** Node-name prefix: `/features/1/`. */
const scopeOf = (site: Site): string => `/${site.keys.map((k) => `${k}/`).join('')}`
/** The dotted parameter name `tree.flattenNamed` gives (`features.1.weight`). */
const paramName = (site: Site, leaf: string): string => [...site.keys, leaf].join('.')

const fmtDims = (shape: ReadonlyArray<Dim>): string =>
  `[${shape.map((d) => (d === null ? '?' : String(d))).join(',')}]`

const known = (d: Dim): d is number => typeof d === 'number'

const entry = (tree: unknown, key: string): unknown =>
  typeof tree === 'object' && tree !== null
    ? // Any object may be indexed; a missing entry reads as undefined and is reported by the caller.
      (tree as Readonly<Record<string, unknown>>)[key]
    : undefined

/** A numeric config field, or `fallback` when absent; a present non-number is an error. */
const numberField = (
  site: Site,
  config: LayerConfig,
  key: string,
  fallback: number,
): Either<OnnxError, number> => {
  const value = config[key]
  if (value === undefined) return E.right(fallback)
  return typeof value === 'number' && Number.isFinite(value)
    ? E.right(value)
    : E.left(onnxError(display(site), `config.${key} must be a finite number, got ${JSON.stringify(value)}`))
}

/** Runs a shape/geometry check of @backfold/tensor, turning its typed error into a `Left`. */
const tryGeometry = <A>(site: Site, compute: () => A): Either<OnnxError, A> => {
  try {
    return E.right(compute())
  } catch (e) {
    if (e instanceof T.BackfoldError) {
      const prefix = `${e.op}: `
      return E.left(
        onnxError(display(site), e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message),
      )
    }
    throw e
  }
}

/**
 * The float tensor at `tree[key]`, checked against `expected` (`null` entries match any size).
 * `treeName` is `'params'` or `'state'`, for the message.
 */
const tensorField = (
  site: Site,
  treeName: 'params' | 'state',
  tree: unknown,
  key: string,
  expected: ReadonlyArray<number | null>,
): Either<OnnxError, Tensor> => {
  const value = entry(tree, key)
  const name = `${treeName} '${paramName(site, key)}'`
  const want = fmtDims(expected)
  if (!T.isTensor(value))
    return E.left(onnxError(display(site), `${name} is missing; expected a tensor of shape ${want}`))
  if (!T.isFloat(value.dtype))
    return E.left(onnxError(display(site), `${name} is ${value.dtype}; expected float32 or float64`))
  const fits =
    value.shape.length === expected.length && expected.every((d, i) => d === null || d === value.shape[i])
  return fits
    ? E.right(value)
    : E.left(onnxError(display(site), `${name} has shape ${T.fmtShape(value.shape)}; expected ${want}`))
}

/**
 * A parameter that exists exactly when the config's `flag` (`useBias`, `affine`) is not false:
 * backfold's layers decide by the params, so a disagreement is an inconsistent model, not a choice.
 */
const optionalTensor = (
  site: Site,
  config: LayerConfig,
  flag: string,
  params: unknown,
  key: string,
  expected: ReadonlyArray<number | null>,
): Either<OnnxError, Tensor | undefined> => {
  if (config[flag] !== false) return tensorField(site, 'params', params, key, expected)
  return entry(params, key) === undefined
    ? E.right(undefined)
    : E.left(
        onnxError(
          display(site),
          `params '${paramName(site, key)}' is present but the config says ${flag}: false; ` +
            `the params do not belong to this model`,
        ),
      )
}

const requireFloat = (site: Site, x: Value): Either<OnnxError, Value> =>
  x.elem === 'float'
    ? E.right(x)
    : E.left(
        onnxError(
          display(site),
          `receives int32 values ${fmtDims(x.shape)}; only embedding takes int32 indices (is inputDType right?)`,
        ),
      )

const requireRank = (site: Site, x: Value, rank: number, what: string): Either<OnnxError, Value> =>
  x.shape.length === rank
    ? E.right(x)
    : E.left(
        onnxError(
          display(site),
          `expected a per-example input ${what} (rank ${rank}), got ${fmtDims(x.shape)}`,
        ),
      )

/** The children of `sequential`/`parallel`, keyed like their params (indices or record keys). */
const childrenOf = (site: Site, config: LayerConfig): Either<OnnxError, Array<[string, LayerConfig]>> => {
  const layers = config['layers']
  const entries: Array<[string, JsonValue]> = Array.isArray(layers)
    ? layers.map((c: JsonValue, i: number): [string, JsonValue] => [String(i), c])
    : typeof layers === 'object' && layers !== null
      ? Object.entries(layers)
      : []
  if (entries.length === 0)
    return E.left(
      onnxError(display(site), `config.layers must be a non-empty array or record of layer configs`),
    )
  const out: Array<[string, LayerConfig]> = []
  for (const [key, child] of entries) {
    const asConfig = layerConfig(child)
    if (asConfig === undefined)
      return E.left(
        onnxError(
          `${[...site.keys, key].join('.')} (?)`,
          `expected a layer config (an object with a string "kind"), got ${JSON.stringify(child)}`,
        ),
      )
    out.push([key, asConfig])
  }
  return E.right(out)
}

/** `value` as a layer config when it is an object with a string `kind`. */
export const layerConfig = (value: unknown): LayerConfig | undefined =>
  typeof value === 'object' &&
  value !== null &&
  !Array.isArray(value) &&
  'kind' in value &&
  typeof value.kind === 'string'
    ? // An object with a string kind whose other fields are JSON: what LayerConfig describes.
      (value as LayerConfig)
    : undefined

/** The element type the model's first consumer of the input expects: int32 for an embedding. */
export const inputElem = (config: LayerConfig): 'float' | 'int32' => {
  switch (config.kind) {
    case 'embedding':
      return 'int32'
    case 'residual': {
      const body = layerConfig(config['body'])
      return body === undefined ? 'float' : inputElem(body)
    }
    case 'sequential':
    case 'parallel': {
      const layers = config['layers']
      const children = Array.isArray(layers)
        ? layers
        : typeof layers === 'object' && layers !== null
          ? Object.values(layers)
          : []
      for (const child of children) {
        const c = layerConfig(child)
        if (c === undefined) return 'float'
        // Type-agnostic layers pass the input on; the next one decides.
        if (config.kind === 'sequential' && (c.kind === 'dropout' || c.kind === 'flatten')) continue
        return inputElem(c)
      }
      return 'float'
    }
    default:
      return 'float'
  }
}

/**
 * Window geometry with symbolic spatial sizes: the checks of @backfold/tensor run on a probe size
 * in place of each unknown one. Explicit paddings do not depend on the size; `'same'` does (with a
 * stride), so then ONNX's `auto_pad = SAME_UPPER` (TensorFlow's rule, as backfold's) takes over.
 */
const PROBE_SIZE = 4096

const windowAttributes = (
  spatial: ReadonlyArray<Dim>,
  padding: unknown,
  resolved: {
    readonly stride: readonly [number, number]
    readonly padding: readonly [number, number, number, number]
  },
): AttributeProto[] => {
  const [top, bottom, left, right] = resolved.padding
  const symbolic = spatial.some((d) => !known(d))
  return [
    intsAttribute('strides', resolved.stride),
    padding === 'same' && symbolic
      ? stringAttribute('auto_pad', 'SAME_UPPER')
      : // ONNX orders pads [top, left, bottom, right] (all begins, then all ends); backfold [top, bottom, left, right].
        intsAttribute('pads', [top, left, bottom, right]),
  ]
}

/** Per-example output spatial dims: the computed size where the input size is known, else unknown. */
const outSpatial = (spatial: ReadonlyArray<Dim>, computed: ReadonlyArray<number>): Dim[] =>
  spatial.map((d, i) => (known(d) ? computed[i]! : null))

/** Emits `config`'s layer on input `x`, returning its output. */
export const emitLayer = (
  ctx: EmitContext,
  config: LayerConfig,
  params: unknown,
  state: unknown,
  x: Value,
  keys: ReadonlyArray<string>,
): Either<OnnxError, Value> => {
  const site: Site = { keys, kind: config.kind }
  const g = ctx.graph
  const scope = scopeOf(site)
  const here = display(site)
  const sameShape = (name: string): Value => ({ name, shape: x.shape, elem: x.elem })
  const unary = (opType: string, attributes: AttributeProto[] = []): Either<OnnxError, Value> =>
    E.map((input: Value) => sameShape(g.node(scope, opType, [input.name], attributes)))(requireFloat(site, x))

  switch (config.kind) {
    case 'sequential':
      return E.chain((children: Array<[string, LayerConfig]>) => {
        let current = x
        for (const [key, child] of children) {
          const out = emitLayer(ctx, child, entry(params, key), entry(state, key), current, [...keys, key])
          if (E.isLeft(out)) return out
          current = out.right
        }
        return E.right(current)
      })(childrenOf(site, config))

    case 'parallel':
      return E.chain((children: Array<[string, LayerConfig]>) => {
        const outs: Value[] = []
        for (const [key, child] of children) {
          const out = emitLayer(ctx, child, entry(params, key), entry(state, key), x, [...keys, key])
          if (E.isLeft(out)) return out
          const first = outs[0]
          if (
            out.right.shape.length === 0 ||
            (first !== undefined && first.shape.length !== out.right.shape.length)
          )
            return E.left(
              onnxError(
                here,
                `branch '${key}' gives ${fmtDims(out.right.shape)}; branches must have the same rank >= 1 to concatenate along axis 1`,
              ),
            )
          if (first !== undefined && first.elem !== out.right.elem)
            return E.left(
              onnxError(here, `branch '${key}' gives ${out.right.elem} values, branch 0 ${first.elem}`),
            )
          outs.push(out.right)
        }
        const firstDims = outs.map((o) => o.shape[0] ?? null)
        const features = firstDims.every(known) ? firstDims.reduce((n, d) => n + d, 0) : null
        const name = g.node(
          scope,
          'Concat',
          outs.map((o) => o.name),
          [intAttribute('axis', 1)],
        )
        return E.right({ name, shape: [features, ...outs[0]!.shape.slice(1)], elem: outs[0]!.elem })
      })(childrenOf(site, config))

    case 'residual': {
      const body = layerConfig(config['body'])
      if (body === undefined) return E.left(onnxError(here, 'config.body must be a layer config'))
      // The residual adds no naming level: its params and state are the body's.
      const out = emitLayer(ctx, body, params, state, x, keys)
      if (E.isLeft(out)) return out
      const y = out.right
      const clash =
        y.shape.length !== x.shape.length ||
        y.shape.some((d, i) => known(d) && known(x.shape[i] ?? null) && d !== x.shape[i])
      if (clash)
        return E.left(
          onnxError(
            here,
            `the body maps ${fmtDims(x.shape)} to ${fmtDims(y.shape)}; x + body(x) needs equal shapes`,
          ),
        )
      return E.right(sameShape(g.node(scope, 'Add', [x.name, y.name])))
    }

    case 'dense': {
      const input = E.chain((v: Value) => requireRank(site, v, 1, '[features]'))(requireFloat(site, x))
      if (E.isLeft(input)) return input
      const activation = config['activation']
      if (activation !== undefined && activation !== 'relu' && activation !== 'linear')
        return E.left(
          onnxError(here, `config.activation must be 'relu' or 'linear', got ${JSON.stringify(activation)}`),
        )
      const inFeatures = x.shape[0] ?? null
      const units = config['units']
      const weight = tensorField(site, 'params', params, 'weight', [
        typeof units === 'number' ? units : null,
        known(inFeatures) ? inFeatures : null,
      ])
      if (E.isLeft(weight)) return weight
      const outFeatures = weight.right.shape[0]!
      const bias = optionalTensor(site, config, 'useBias', params, 'bias', [outFeatures])
      if (E.isLeft(bias)) return bias
      const inputs = [
        x.name,
        g.initializer(paramName(site, 'weight'), weight.right),
        ...(bias.right === undefined ? [] : [g.initializer(paramName(site, 'bias'), bias.right)]),
      ]
      // y = x Wᵀ + b, with W stored [out, in] as in PyTorch.
      const gemm = g.node(scope, 'Gemm', inputs, [intAttribute('transB', 1)])
      // dense(n, { activation: 'relu' }) is one fused op here; ONNX has no fused Gemm + Relu, so two nodes.
      return E.right({
        name: activation === 'relu' ? g.node(scope, 'Relu', [gemm]) : gemm,
        shape: [outFeatures],
        elem: 'float',
      })
    }

    case 'conv2d': {
      const input = E.chain((v: Value) => requireRank(site, v, 3, '[channels, height, width]'))(
        requireFloat(site, x),
      )
      if (E.isLeft(input)) return input
      // Why the cast: requireRank just checked the rank is 3.
      const [channels, height, width] = x.shape as readonly [Dim, Dim, Dim]
      const outChannels = config['outChannels']
      const kernelSize = config['kernelSize']
      const [kh, kw] =
        typeof kernelSize === 'number'
          ? [kernelSize, kernelSize]
          : Array.isArray(kernelSize) && kernelSize.length === 2
            ? kernelSize.map((k: JsonValue) => (typeof k === 'number' ? k : null))
            : [null, null]
      const weight = tensorField(site, 'params', params, 'weight', [
        typeof outChannels === 'number' ? outChannels : null,
        known(channels) ? channels : null,
        kh ?? null,
        kw ?? null,
      ])
      if (E.isLeft(weight)) return weight
      const wShape = weight.right.shape
      const bias = optionalTensor(site, config, 'useBias', params, 'bias', [wShape[0]!])
      if (E.isLeft(bias)) return bias
      // Why the cast: the fields are JSON here (absent ones undefined); conv2dSpec validates each and throws a ValueError naming it.
      const geometry = {
        stride: config['stride'],
        padding: config['padding'],
        dilation: config['dilation'],
      } as Conv2dOptions
      const probeShape = [
        1,
        wShape[1]!,
        known(height) ? height : PROBE_SIZE,
        known(width) ? width : PROBE_SIZE,
      ]
      return E.map((spec: T.Conv2dSpec) => {
        const inputs = [
          x.name,
          g.initializer(paramName(site, 'weight'), weight.right),
          ...(bias.right === undefined ? [] : [g.initializer(paramName(site, 'bias'), bias.right)]),
        ]
        const name = g.node(scope, 'Conv', inputs, [
          intsAttribute('kernel_shape', [wShape[2]!, wShape[3]!]),
          intsAttribute('dilations', spec.dilation),
          ...windowAttributes([height, width], config['padding'], spec),
        ])
        const computed = T.conv2dOutputShape(probeShape, wShape, spec).slice(2)
        return { name, shape: [wShape[0]!, ...outSpatial([height, width], computed)], elem: 'float' as const }
      })(tryGeometry(site, () => T.conv2dSpec('conv2d', probeShape, wShape, geometry)))
    }

    case 'maxPool2d':
    case 'avgPool2d': {
      const input = E.chain((v: Value) => requireRank(site, v, 3, '[channels, height, width]'))(
        requireFloat(site, x),
      )
      if (E.isLeft(input)) return input
      // Why the cast: requireRank just checked the rank is 3.
      const [channels, height, width] = x.shape as readonly [Dim, Dim, Dim]
      // Why the cast: the fields are JSON here (absent ones undefined); pool2dSpec validates each and throws a ValueError naming it.
      const opts = {
        kernelSize: config['kernelSize'],
        stride: config['stride'],
        padding: config['padding'],
      } as Pool2dOptions
      const probeShape = [1, 1, known(height) ? height : PROBE_SIZE, known(width) ? width : PROBE_SIZE]
      return E.map((spec: T.Pool2dSpec) => {
        const attributes = [
          intsAttribute('kernel_shape', spec.kernel),
          ...windowAttributes([height, width], opts.padding, spec),
        ]
        const name =
          config.kind === 'maxPool2d'
            ? g.node(scope, 'MaxPool', [x.name], attributes)
            : // backfold divides every window by its full size, padding included.
              g.node(scope, 'AveragePool', [x.name], [...attributes, intAttribute('count_include_pad', 1)])
        const computed = T.pool2dOutputShape(probeShape, spec).slice(2)
        return { name, shape: [channels, ...outSpatial([height, width], computed)], elem: 'float' as const }
      })(tryGeometry(site, () => T.pool2dSpec(config.kind, probeShape, opts)))
    }

    case 'globalAvgPool2d': {
      const input = E.chain((v: Value) => requireRank(site, v, 3, '[channels, height, width]'))(
        requireFloat(site, x),
      )
      if (E.isLeft(input)) return input
      // GlobalAveragePool keeps [N, C, 1, 1]; backfold gives [N, C].
      const pooled = g.node(scope, 'GlobalAveragePool', [x.name])
      return E.right({
        name: g.node(scope, 'Flatten', [pooled], [intAttribute('axis', 1)]),
        shape: [x.shape[0] ?? null],
        elem: 'float',
      })
    }

    case 'flatten': {
      const dims = x.shape
      const size = dims.length === 1 ? dims[0]! : dims.every(known) ? dims.reduce((n, d) => n * d, 1) : null
      return E.right({
        name: g.node(scope, 'Flatten', [x.name], [intAttribute('axis', 1)]),
        shape: [size],
        elem: x.elem,
      })
    }

    case 'dropout':
      // Inference graph: dropout is the identity.
      return E.right(x)

    case 'batchNorm': {
      const input = requireFloat(site, x)
      if (E.isLeft(input)) return input
      if (x.shape.length === 0)
        return E.left(
          onnxError(
            here,
            `expected a per-example input [channels, ...] (rank >= 1), got ${fmtDims(x.shape)}`,
          ),
        )
      const channels = x.shape[0] ?? null
      const mean = tensorField(site, 'state', state, 'runningMean', [known(channels) ? channels : null])
      if (E.isLeft(mean)) return mean
      const c = mean.right.shape[0]!
      const variance = tensorField(site, 'state', state, 'runningVar', [c])
      if (E.isLeft(variance)) return variance
      const weight = optionalTensor(site, config, 'affine', params, 'weight', [c])
      if (E.isLeft(weight)) return weight
      const bias = optionalTensor(site, config, 'affine', params, 'bias', [c])
      if (E.isLeft(bias)) return bias
      const eps = numberField(site, config, 'eps', 1e-5)
      if (E.isLeft(eps)) return eps
      // Eval mode: (x - runningMean) / sqrt(runningVar + eps) * weight + bias, per channel (axis 1).
      const inputs = [
        x.name,
        g.initializer(paramName(site, 'weight'), weight.right ?? T.ones([c])),
        g.initializer(paramName(site, 'bias'), bias.right ?? T.zeros([c])),
        g.initializer(paramName(site, 'runningMean'), mean.right),
        g.initializer(paramName(site, 'runningVar'), variance.right),
      ]
      return E.right(
        sameShape(g.node(scope, 'BatchNormalization', inputs, [floatAttribute('epsilon', eps.right)])),
      )
    }

    case 'layerNorm': {
      const input = requireFloat(site, x)
      if (E.isLeft(input)) return input
      if (ctx.opset < 17)
        return E.left(onnxError(here, `LayerNormalization needs opset >= 17, got opset ${ctx.opset}`))
      const count = config['axes'] ?? 1
      if (typeof count !== 'number' || !Number.isInteger(count) || count < 1)
        return E.left(onnxError(here, `config.axes must be a positive integer, got ${JSON.stringify(count)}`))
      if (x.shape.length < count)
        return E.left(
          onnxError(
            here,
            `normalising the last ${count} dimension(s) needs a per-example rank >= ${count}, got ${fmtDims(x.shape)}`,
          ),
        )
      const normalized = x.shape.slice(x.shape.length - count).map((d) => (known(d) ? d : null))
      const weight = optionalTensor(site, config, 'affine', params, 'weight', normalized)
      if (E.isLeft(weight)) return weight
      const sizes = weight.right?.shape ?? normalized
      if (!sizes.every((d): d is number => d !== null))
        return E.left(
          onnxError(
            here,
            `without affine params the normalised dimensions ${fmtDims(normalized)} must be known sizes`,
          ),
        )
      const bias = optionalTensor(site, config, 'affine', params, 'bias', sizes)
      if (E.isLeft(bias)) return bias
      const eps = numberField(site, config, 'eps', 1e-5)
      if (E.isLeft(eps)) return eps
      const inputs = [
        x.name,
        g.initializer(paramName(site, 'weight'), weight.right ?? T.ones(sizes)),
        g.initializer(paramName(site, 'bias'), bias.right ?? T.zeros(sizes)),
      ]
      return E.right(
        sameShape(
          g.node(scope, 'LayerNormalization', inputs, [
            intAttribute('axis', -count),
            floatAttribute('epsilon', eps.right),
          ]),
        ),
      )
    }

    case 'embedding': {
      if (x.elem !== 'int32')
        return E.left(
          onnxError(
            here,
            `takes int32 indices but receives float values ${fmtDims(x.shape)}; export with inputDType: 'int32'`,
          ),
        )
      const count = config['numEmbeddings']
      const dim = config['dim']
      const weight = tensorField(site, 'params', params, 'weight', [
        typeof count === 'number' ? count : null,
        typeof dim === 'number' ? dim : null,
      ])
      if (E.isLeft(weight)) return weight
      const name = g.node(
        scope,
        'Gather',
        [g.initializer(paramName(site, 'weight'), weight.right), x.name],
        [intAttribute('axis', 0)],
      )
      return E.right({ name, shape: [...x.shape, weight.right.shape[1]!], elem: 'float' })
    }

    case 'relu':
      return unary('Relu')
    case 'sigmoid':
      return unary('Sigmoid')
    case 'tanh':
      return unary('Tanh')
    case 'silu':
      // x · σ(x)
      return E.map((input: Value) =>
        sameShape(g.node(scope, 'Mul', [input.name, g.node(scope, 'Sigmoid', [input.name])])),
      )(requireFloat(site, x))
    case 'leakyRelu':
      return E.chain((slope: number) => unary('LeakyRelu', [floatAttribute('alpha', slope)]))(
        numberField(site, config, 'slope', 0.01),
      )
    case 'elu':
      return E.chain((alpha: number) => unary('Elu', [floatAttribute('alpha', alpha)]))(
        numberField(site, config, 'alpha', 1),
      )
    case 'softmax': {
      const axis = config['axis'] ?? -1
      const rank = x.shape.length + 1
      if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -rank || axis >= rank)
        return E.left(
          onnxError(
            here,
            `config.axis must be an integer in [-${rank}, ${rank}) for inputs ${fmtDims(x.shape)} (batch axis included), got ${JSON.stringify(axis)}`,
          ),
        )
      return unary('Softmax', [intAttribute('axis', axis)])
    }
    case 'gelu': {
      const approximate = config['approximate'] ?? 'none'
      if (approximate !== 'none' && approximate !== 'tanh')
        return E.left(
          onnxError(here, `config.approximate must be 'none' or 'tanh', got ${JSON.stringify(approximate)}`),
        )
      if (ctx.opset >= 20) return unary('Gelu', [stringAttribute('approximate', approximate)])
      return E.map((input: Value) => sameShape(composedGelu(g, scope, input.name, approximate)))(
        requireFloat(site, x),
      )
    }
    default:
      return E.left(
        onnxError(
          here,
          `layer kind '${config.kind}' has no ONNX export; exportable kinds: ${exportableKinds.join(', ')}`,
        ),
      )
  }
}

/**
 * GELU from opset-17 primitives:
 * exact `½ x (1 + erf(x / √2))`, or tanh form `½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
 */
const composedGelu = (g: GraphBuilder, scope: string, x: string, approximate: 'none' | 'tanh'): string => {
  const constant = (v: number): string => g.scalar(scope, v)
  const inner =
    approximate === 'tanh'
      ? g.node(scope, 'Tanh', [
          g.node(scope, 'Mul', [
            g.node(scope, 'Add', [
              x,
              g.node(scope, 'Mul', [
                g.node(scope, 'Mul', [g.node(scope, 'Mul', [x, x]), x]),
                constant(0.044715),
              ]),
            ]),
            constant(Math.sqrt(2 / Math.PI)),
          ]),
        ])
      : g.node(scope, 'Erf', [g.node(scope, 'Mul', [x, constant(Math.SQRT1_2)])])
  return g.node(scope, 'Mul', [
    g.node(scope, 'Mul', [x, constant(0.5)]),
    g.node(scope, 'Add', [inner, constant(1)]),
  ])
}
