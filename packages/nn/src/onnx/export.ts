/**
 * ONNX export of backfold models for inference (eval mode: dropout removed, batch norm from its
 * running statistics). The graph is built from each layer's config and its params/state, and
 * serialised with ONNX's protobuf schema by a small encoder of our own (`./messages`, `./wire`):
 * export only writes, so a protobuf runtime would only add load time. Pure: runs in browsers too;
 * `saveOnnx` in `@backfold/nn/node` writes files.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import type { Layer } from '../layer'
import { onnxError, type OnnxError } from './error'
import { GraphBuilder } from './graph'
import { DataType, encodeModel, type ModelProto, type ValueInfoProto } from '@backfold/ops/onnx'
import { emitLayer, inputElem } from './emit'
import type { OnnxDim as Dim } from './context'
import { kindRegistry, type LayerKindsOption } from '../config/codec'
import { formatConfigError } from '../config/error'

/**
 * Options of `exportOnnx`. `layers` lists the kinds the model may hold (default `builtinLayers`):
 * each layer is exported by its kind's ONNX emitter.
 * @since 0.1.0
 */
export interface OnnxExportOptions extends LayerKindsOption {
  /**
   * Shape of ONE example (no batch dimension), e.g. `[1, 28, 28]`. A string names a symbolic
   * dimension fixed only when the model runs (`['L']`: any sequence length; `[3, 'H', 'W']`: any image
   * size for a fully convolutional model). Layers that need a size (dense's features) get it from
   * their weights.
   */
  readonly inputShape: ReadonlyArray<number | string>
  /** The batch dimension: a name for a symbolic one (default `'N'`), or a fixed size. */
  readonly batch?: number | string
  /** Operator set, 13 to 23 (default 17). Gelu is native from 20 and composed from Erf/Tanh below. */
  readonly opset?: number
  /** Name of the graph input (default `'input'`). */
  readonly inputName?: string
  /** Name of the graph output (default `'output'`). */
  readonly outputName?: string
  /** Element type of the input: int32 indices when the model starts with an embedding (the default then), else float32. */
  readonly inputDType?: 'float32' | 'int32'
}

/** The smallest IR version that carries each opset (ONNX's versioning table). */
const irVersionFor = (opset: number): number => (opset <= 18 ? 8 : opset <= 20 ? 9 : opset <= 22 ? 10 : 11)

/** The operator sets the exporter targets (below 13 Softmax and several ops have other semantics). */
const MIN_OPSET = 13
const MAX_OPSET = 23

const isDimension = (d: unknown): d is number | string =>
  (typeof d === 'number' && Number.isInteger(d) && d > 0) || (typeof d === 'string' && d !== '')

const describe = (value: unknown): string => JSON.stringify(value) ?? String(value)

/** Every key `OnnxExportOptions` has: any other is refused (a misspelt option would be ignored). */
const ACCEPTED_OPTIONS = ['inputShape', 'batch', 'opset', 'inputName', 'outputName', 'inputDType', 'layers']

const validateOptions = (opts: OnnxExportOptions): Either<OnnxError, void> => {
  const problem = (message: string): Either<OnnxError, void> => E.left(onnxError('', message))
  if (typeof opts !== 'object' || opts === null)
    return problem(`options must be an object, got ${describe(opts)}`)
  const unknown = Object.keys(opts).find((key) => !ACCEPTED_OPTIONS.includes(key))
  if (unknown !== undefined)
    return problem(`unknown option '${unknown}' in options; accepted options: ${ACCEPTED_OPTIONS.join(', ')}`)
  const kinds = kindRegistry(opts)
  if (E.isLeft(kinds)) return E.left(onnxError('', formatConfigError(kinds.left)))
  const opset = opts.opset ?? 17
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET)
    return problem(
      `options.opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${describe(opts.opset)}`,
    )
  if (!Array.isArray(opts.inputShape) || !opts.inputShape.every(isDimension))
    return problem(
      `options.inputShape must list per-example dimensions (positive integers, or names for symbolic ones), got ${describe(opts.inputShape)}`,
    )
  if (opts.batch !== undefined && !isDimension(opts.batch))
    return problem(
      `options.batch must be a positive integer or a dimension name, got ${describe(opts.batch)}`,
    )
  const inputName = opts.inputName ?? 'input'
  const outputName = opts.outputName ?? 'output'
  if (inputName === '' || outputName === '' || inputName === outputName)
    return problem(
      `options.inputName and options.outputName must be distinct non-empty names, got ${describe(inputName)} and ${describe(outputName)}`,
    )
  if (opts.inputDType !== undefined && opts.inputDType !== 'float32' && opts.inputDType !== 'int32')
    return problem(`options.inputDType must be 'float32' or 'int32', got ${describe(opts.inputDType)}`)
  return E.right(undefined)
}

const valueInfo = (name: string, elemType: DataType, dims: ReadonlyArray<Dim>): ValueInfoProto => ({
  name,
  type: {
    tensorType: {
      elemType,
      shape: {
        // A dimension with neither value nor name is unknown (a spatial size computed from a symbolic one).
        dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : d === null ? {} : { dimParam: d })),
      },
    },
  },
})

/**
 * Exports a model for inference as the bytes of an ONNX file (a `ModelProto`). The graph comes from
 * the layers' configs; `params` and `state` (batch-norm running statistics) become float32
 * initializers named as in checkpoints (`0.weight`, `features.1.runningMean`). Eval mode: dropout is
 * dropped and batch norm uses its running statistics. The input is `[batch, ...inputShape]`, the
 * batch dimension symbolic (`'N'`) unless `batch` fixes it.
 *
 * Mapping: dense → Gemm (transB = 1), then Relu for `activation: 'relu'`; conv2d → Conv; maxPool2d/avgPool2d → MaxPool/AveragePool
 * (count_include_pad = 1); globalAvgPool2d → GlobalAveragePool + Flatten; flatten → Flatten;
 * batchNorm → BatchNormalization; layerNorm → LayerNormalization; embedding → Gather;
 * conv2d with groups → Conv (group); conv1d → 1-D Conv; conv2dTranspose → ConvTranspose;
 * rmsNorm → its formula; groupNorm → Reshape, InstanceNormalization, Reshape, Mul, Add;
 * relu, leakyRelu, elu, sigmoid, tanh, softmax → their ONNX ops; silu → x · Sigmoid(x);
 * gelu → Gelu (opset ≥ 20) or its Erf/Tanh formula; residual → Add; parallel → Concat (axis 1).
 *
 * Custom kinds (`defineLayer` with an `onnx` emitter) export when passed in `layers`:
 * `exportOnnx(model, params, state, { inputShape: [8], layers: [...builtinLayers, gluKind] })`.
 * A layer without a config, a kind missing from `layers` or one without an emitter gives a `Left`
 * naming where it sits, as do params or state that do not fit the config.
 * @example
 * import * as E from 'fp-ts/lib/Either.js'
 * import { layers, exportOnnx, formatOnnxError } from '@backfold/nn'
 * const model = layers.sequential(layers.dense(32), layers.relu(), layers.dense(10))
 * // ... params and state from model.init and training
 * const bytes = exportOnnx(model, params, state, { inputShape: [64] })
 * if (E.isLeft(bytes)) throw new Error(formatOnnxError(bytes.left))
 * // bytes.right: a model.onnx for onnxruntime, input 'input' [N, 64], output 'output' [N, 10]
 * @since 0.1.0
 */
export const exportOnnx = <P, S>(
  model: Layer<P, S>,
  params: P,
  state: S,
  opts: OnnxExportOptions,
): Either<OnnxError, Uint8Array> => E.map(encodeModel)(buildModel(model, params, state, opts))

/**
 * The `ModelProto` `exportOnnx` encodes, as a plain object (for tests that check the encoder
 * against an independent one). Internal.
 */
export const buildModel = <P, S>(
  model: Layer<P, S>,
  params: P,
  state: S,
  opts: OnnxExportOptions,
): Either<OnnxError, ModelProto> => {
  const valid = validateOptions(opts)
  if (E.isLeft(valid)) return valid
  if (model.config === undefined)
    return E.left(
      onnxError(
        model.missingConfig ?? model.kind,
        'has no config, so it cannot be exported: it is a custom layer made without a kind (a combinator carries ' +
          'a config only when every child has one); define the custom kind with ' +
          'defineLayer (with an onnx emitter), make the layer with its create(options), and export with ' +
          '{ layers: [...builtinLayers, myKind] }',
      ),
    )
  const kinds = kindRegistry(opts)
  if (E.isLeft(kinds)) return E.left(onnxError('', formatConfigError(kinds.left)))
  const opset = opts.opset ?? 17
  const inputName = opts.inputName ?? 'input'
  const outputName = opts.outputName ?? 'output'
  const batch = opts.batch ?? 'N'
  const elem =
    opts.inputDType === undefined
      ? inputElem(kinds.right, model.config)
      : opts.inputDType === 'int32'
        ? 'int32'
        : 'float'
  const graph = new GraphBuilder([inputName, outputName])
  const out = emitLayer(
    { graph, opset, kinds: kinds.right },
    model.config,
    params,
    state,
    { name: inputName, shape: opts.inputShape, elem },
    [],
  )
  if (E.isLeft(out)) return out
  graph.rename(out.right.name, outputName)
  const elemType = (e: 'float' | 'int32'): DataType => (e === 'float' ? DataType.FLOAT : DataType.INT32)
  return E.right({
    irVersion: irVersionFor(opset),
    producerName: 'backfold',
    producerVersion: '0.1.0',
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: model.kind,
      node: graph.nodes,
      initializer: graph.initializers,
      input: [valueInfo(inputName, elemType(elem), [batch, ...opts.inputShape])],
      output: [valueInfo(outputName, elemType(out.right.elem), [batch, ...out.right.shape])],
    },
  })
}
