/**
 * @backfold/ops: every op is a pure forward function paired with its vector-Jacobian product;
 * `vjp`, `grad`, `valueAndGrad`, `jvp`, `hvp`, `jacrev`, `jacfwd` and `hessian` are folds of those VJPs over the
 * recorded computation.
 *
 * @example
 * import { grad, mul, sin, tensor, type Tensor, sum } from '@backfold/ops'
 * const f = (x: Tensor) => sum(mul(sin(x), x))
 * grad(f)(tensor([0, 1, 2]))
 * @packageDocumentation
 * @module @backfold/ops
 */
export {
  defineOp,
  applyOp,
  type Op,
  type AnyOp,
  type Cotangents,
  type Needed,
  type BatchAxes,
  type Batched,
  type Aval,
  type LoweredOp,
} from './core/op'
export {
  unsupportedOnnx,
  type OnnxBuilder,
  type OnnxLowering,
  type OnnxInputs,
  type OnnxAvals,
  type OnnxAttribute,
  type OnnxAttributes,
  type OnnxDType,
} from './staging/onnx/builder'
export { Tracer, BatchTracer, GraphVar, TraceError, concrete } from './core/trace'
export { unbroadcast } from './core/unbroadcast'
export { vjp, type VjpOptions, type Pullback } from './transforms/vjp'
export { grad, valueAndGrad, type GradOptions, type GradAuxOptions } from './transforms/grad'
export type { Argnums, GradOf } from './transforms/args'
export { jvp } from './transforms/jvp'
export { hvp } from './transforms/hvp'
export { jacrev } from './transforms/jacrev'
export { jacfwd } from './transforms/jacfwd'
export { hessian } from './transforms/hessian'
export type { JacobianOf, JacobianOptions } from './transforms/jacobianCommon'
export type { CotangentsOf, ArgTrees } from './transforms/args'
export type { Tangents } from './transforms/jvp'
export { vmap, type VmapOptions, type AxisSpec } from './transforms/vmap'
export { scan, type ScanOptions } from './transforms/scan'
export { remat } from './transforms/remat'
export {
  makeGraph,
  evalGraph,
  show,
  type Graph,
  type Equation,
  type Var,
  type Constant,
} from './staging/graph'
export { eliminateDeadCode, eliminateCommonSubexpressions, foldConstants, optimize } from './staging/passes'
export { fuseElementwise, fuseReductions, programStepOf, type Step as ProgramStep } from './staging/fuse'
export { fuseEpilogues } from './staging/epilogue'
export { lastUses, planBuffers, type BufferPlan, type PlanRules } from './staging/plan'
export { compileResident, type Executable, type ExecutableStats } from './staging/executable'
export { jit, type JitOptions, type JitStats, type Jitted } from './staging/jit'
export {
  setDefaultExecutor,
  getDefaultExecutor,
  executorStatus,
  type Executor,
  type ExecutorStatus,
  type JitExecutorStatus,
} from './staging/onnx/executor'
export { setOnnxRuntimeLoader, type OnnxRuntimeLoader, type OnnxRuntimeModule } from './staging/onnx/runtime'
export { batchElementwise, batchAtFront, batchSize, moveAxis } from './core/batching'
export { sameAsInput, broadcastAval } from './core/abstract'
export { zeroCotangents } from './core/zeroCotangents'
export { customVjp, type CustomVjpRule } from './transforms/customVjp'
export { checkVjp, type CheckVjpOptions, type CheckVjpReport } from './check/checkVjp'
export { registry, type OpName, type RegisteredOp } from './registry'
export * from './elementwise/index'
export * from './binary/index'
export * from './reduce/index'
export * from './linalg/index'
export * from './shape/index'
export * from './indexing/index'
export * from './conv/index'
export * from './activations/index'
export * from './losses/index'
export * from './random/index'
export * from './sort/index'
export * from './attention/index'
// Constructors and destructors, so differentiable code needs one import. The tensor package's own
// kernels are deliberately not re-exported: inside `grad`, use these ops.
export {
  type Tensor,
  type DType,
  type Shape,
  type Key,
  type NestedArray,
  tensor,
  fromArray,
  fromFlat,
  scalar,
  zeros,
  ones,
  full,
  arange,
  linspace,
  eye,
  zerosLike,
  onesLike,
  fullLike,
  toArray,
  toNested,
  item,
  toString,
  allClose,
  random,
  BackfoldError,
  ShapeError,
  DTypeError,
  ValueError,
} from '@backfold/tensor'
// Run-time option checking, shared by every op and by @backfold/nn's factories.
export {
  checkOptions,
  optionSchema,
  option,
  AXIS_OPTIONS,
  REQUIRED_AXIS_OPTIONS,
  type OptionSpec,
  type OptionSchema,
  type AxisOptions,
} from './core/options'
export type { SecondOrderReport } from './check/checkVjp'
