// Loading onnxruntime-node, lazily and only in Node, and running a lowered graph on it synchronously.
//
// onnxruntime-node's public `InferenceSession.run` is async, but its native binding's `run` is
// synchronous: the package's backend (dist/backend.js in 1.23.2) only wraps it in `setImmediate`.
// jit must return a synchronous function, so this module drives the native binding directly
// (`onnxruntime-node/dist/binding.js`): no event-loop turn and no thread hop per call. That binding
// is not a public API, so the version is pinned (1.23.x) and its shape checked when it loads; any
// other version, a missing package or a load error leaves ONNX Runtime unavailable with the reason,
// and jit uses the wasm executor (see `executorStatus`).
import { getThreads, type DType, type Shape, type Tensor, unsafeTensor } from '@backfold/tensor'
import type { LoweredModel } from './lower'

/** The onnxruntime-node versions whose native binding this module knows. */
const SUPPORTED = /^1\.23\./

/** An output of the native `run`: an onnxruntime-common `Tensor`. */
interface NativeTensor {
  readonly type: string
  readonly dims: ReadonlyArray<number>
  readonly data: ArrayLike<number>
}

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void
  run(
    feeds: Readonly<Record<string, NativeTensor>>,
    fetches: Readonly<Record<string, null>>,
    options: object,
  ): Record<string, NativeTensor>
  dispose(): void
}

/** What the loader must give: the binding's session class and a tensor constructor for feeds. */
export interface OnnxRuntimeModule {
  /** The version of onnxruntime-node (checked against the pinned one). */
  readonly version: string
  /** The class `binding.InferenceSession` of `onnxruntime-node/dist/binding.js`, after `initOrt()`. */
  readonly InferenceSession: unknown
  /** The class `Tensor` of onnxruntime-common (what the binding accepts as a feed). */
  readonly Tensor: unknown
}

/**
 * Loads onnxruntime-node for the ONNX Runtime executor, or throws why it cannot. The default loads
 * the package next to `@backfold/ops`; `setOnnxRuntimeLoader` replaces it (a test simulating a
 * missing or broken install, an application bundling its own copy).
 * @since 0.2.0
 */
export type OnnxRuntimeLoader = () => OnnxRuntimeModule

interface NodeProcess {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly versions?: { readonly node?: string }
  readonly getBuiltinModule?: (name: string) => unknown
}

/** The default loader: `require` through `process.getBuiltinModule` (no static `node:` import, so browsers bundle this file). */
const defaultLoader: OnnxRuntimeLoader = () => {
  const proc = (globalThis as { process?: NodeProcess }).process
  if (proc?.versions?.node === undefined)
    throw new Error('not running in Node (the browser keeps the wasm executor)')
  const moduleApi = proc.getBuiltinModule?.('node:module') as
    { createRequire(from: string): ((id: string) => unknown) & { resolve(id: string): string } } | undefined
  if (moduleApi === undefined)
    throw new Error('this Node has no process.getBuiltinModule (Node >= 20.16 needed)')
  const require = moduleApi.createRequire(import.meta.url) as ((id: string) => unknown) & {
    resolve(id: string): string
  }
  let version: string
  try {
    version = (require('onnxruntime-node/package.json') as { version: string }).version
  } catch {
    throw new Error(
      'the optional peer dependency onnxruntime-node is not installed (npm install onnxruntime-node@~1.23.2)',
    )
  }
  if (!SUPPORTED.test(version))
    throw new Error(
      `onnxruntime-node ${version} is installed, but backfold drives its native binding directly and ` +
        'knows version 1.23.x only (npm install onnxruntime-node@~1.23.2)',
    )
  const binding = require('onnxruntime-node/dist/binding.js') as {
    binding?: { InferenceSession?: unknown }
    initOrt?: unknown
  }
  // onnxruntime-common is onnxruntime-node's dependency, not ours: resolve it from there.
  const common = moduleApi.createRequire(require.resolve('onnxruntime-node/package.json'))(
    'onnxruntime-common',
  ) as { Tensor?: unknown }
  if (typeof binding.initOrt !== 'function' || typeof binding.binding?.InferenceSession !== 'function')
    throw new Error(`onnxruntime-node ${version}: its native binding does not have the expected shape`)
  ;(binding.initOrt as () => void)()
  return {
    version,
    InferenceSession: binding.binding.InferenceSession,
    Tensor: common.Tensor,
  }
}

let loader: OnnxRuntimeLoader = defaultLoader
/** Bumped by `setOnnxRuntimeLoader`: sessions of an earlier generation are stale. */
let generation = 0
let loaded: { readonly module: OnnxRuntimeModule } | { readonly error: string } | undefined

/**
 * Replaces how the ONNX Runtime executor loads onnxruntime-node (`undefined`: the default, the
 * package installed next to `@backfold/ops`), and forgets the previous load and every cached
 * session. A loader that throws makes jit use the wasm executor, with the error's message as the
 * reason in `executorStatus()`.
 * @example
 * import { setOnnxRuntimeLoader } from '@backfold/ops'
 * // Simulate a machine without onnxruntime-node:
 * setOnnxRuntimeLoader(() => {
 *   throw new Error('onnxruntime-node is not installed')
 * })
 * setOnnxRuntimeLoader(undefined) // back to the default
 * @since 0.2.0
 */
export const setOnnxRuntimeLoader = (next: OnnxRuntimeLoader | undefined): void => {
  loader = next ?? defaultLoader
  loaded = undefined
  generation++
}

/** The loaded runtime, or why there is none. Loads once (the environment variable is read each time). */
export const onnxRuntime = (): { readonly module: OnnxRuntimeModule } | { readonly error: string } => {
  const proc = (globalThis as { process?: NodeProcess }).process
  if (proc?.env?.['BACKFOLD_ONNXRUNTIME'] === 'off')
    return { error: 'disabled by the environment variable BACKFOLD_ONNXRUNTIME=off' }
  if (loaded === undefined) {
    try {
      const module = loader()
      if (typeof module?.InferenceSession !== 'function' || typeof module.Tensor !== 'function')
        throw new Error('the loader returned no InferenceSession and Tensor constructors')
      loaded = { module }
    } catch (error) {
      loaded = {
        error: `onnxruntime-node could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
      }
    }
  }
  return loaded
}

const ORT_TYPES: Readonly<Record<DType, string>> = { float32: 'float32', float64: 'float64', int32: 'int32' }

/** A model loaded into one ONNX Runtime session, run synchronously on tensors. */
export interface OrtSession {
  /** Runs the model on one tensor per graph input; returns one tensor per graph output. */
  run(inputs: ReadonlyArray<Tensor>): Tensor[]
  /** Milliseconds the session took to create (load, optimise, plan). */
  readonly createMs: number
  /** The thread count the session was created with. */
  readonly threads: number
  /** The loader generation it belongs to (stale after `setOnnxRuntimeLoader`). */
  readonly generation: number
  dispose(): void
}

/**
 * Creates a session for `model` with `threads` intra-op threads. Throws ONNX Runtime's own error
 * (a kernel missing for a dtype, an invalid graph) for the caller to report.
 */
export const createSession = (
  module: OnnxRuntimeModule,
  model: LoweredModel,
  outputs: ReadonlyArray<{ readonly shape: Shape; readonly dtype: DType }>,
  threads: number = getThreads(),
): OrtSession => {
  const start = performance.now()
  const load = (level: 'all' | 'basic'): NativeSession => {
    const session = new (module.InferenceSession as new () => NativeSession)()
    const bytes = model.bytes
    session.loadModel(bytes.buffer, bytes.byteOffset, bytes.byteLength, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: level,
      executionProviders: [{ name: 'cpu' }],
    })
    return session
  }
  let session: NativeSession
  try {
    session = load('all')
  } catch (error) {
    // The extended optimisations fuse into com.microsoft operators (FusedMatMul, QuickGelu...)
    // that have float32 kernels only: a float64 graph loads with the basic ones instead.
    if (!(error instanceof Error) || !/com\.microsoft/.test(error.message)) throw error
    session = load('basic')
  }
  const createMs = performance.now() - start
  const fetches: Record<string, null> = {}
  for (const name of model.outputNames) fetches[name] = null
  const TensorCtor = module.Tensor as new (
    type: string,
    data: ArrayLike<number>,
    dims: ReadonlyArray<number>,
  ) => NativeTensor
  return {
    createMs,
    threads,
    generation,
    run: (inputs) => {
      const feeds: Record<string, NativeTensor> = {}
      inputs.forEach((x, i) => {
        feeds[model.inputNames[i]!] = new TensorCtor(ORT_TYPES[x.dtype], x.data, x.shape) as NativeTensor
      })
      const results = session.run(feeds, fetches, {})
      return model.outputNames.map((name, i) => {
        const out = results[name]!
        const aval = outputs[i]!
        // The binding's outputs own fresh typed arrays of the declared type: wrap them without a copy.
        return unsafeTensor(aval.dtype, aval.shape, out.data as Tensor['data'])
      })
    },
    dispose: () => session.dispose(),
  }
}

/** The current loader generation. @internal */
export const loaderGeneration = (): number => generation
