/**
 * Reduction programs: an elementwise program that may also reduce along the last axis (sum, max,
 * min, mean), run row by row as one kernel. The staging pass of `@backfold/ops` builds them from
 * softmax-, normalisation- and loss-shaped chains (max/sum/exp/sub/div/mean/rsqrt ...). Every step
 * computes in float64 and the result is rounded to the output dtype once, so a fused float32 chain
 * can differ from the same ops run one by one by a few float32 ulps.
 * @since 0.2.0
 */
import { getBackend, type ReductionInstruction, type ReductionProgram, type RowReduceOp } from '../backend'
import { ShapeError, ValueError, fmtShape } from '../errors'
import { sizeOf, type Shape } from '../shape'
import { requireAllConcrete, unsafeTensor, type Tensor } from '../tensor'
import type { DType } from '../dtype'
import { programOutput, programText } from './program'
import { rowVarying } from '../backends/reference/reductionProgram'

export type { ReductionInstruction, ReductionProgram, RowReduceOp } from '../backend'

const OP = 'reductionProgram'

const REDUCE_OPS: ReadonlySet<string> = new Set<RowReduceOp>(['sum', 'max', 'min', 'mean'])

/**
 * Whether `op` is a row reduction a reduction program can apply.
 * @example
 * isRowReduceOp('mean') // true
 * isRowReduceOp('prod') // false
 * @since 0.2.0
 */
export const isRowReduceOp = (op: string): op is RowReduceOp => REDUCE_OPS.has(op)

/**
 * The shape and dtype `reductionProgram(program, inputs, outShape)` gives, and the row shape it
 * runs over (the inputs' broadcast shape, reduced along its last axis). Without `outShape` the
 * result has the row shape, or the row shape with a last axis of 1 when the program's result is
 * constant along the row; `outShape` may name any shape of that many elements (e.g. without the
 * last axis, as a reduction without `keepDims` gives).
 * @throws ValueError for a malformed program, inputs of rank 0 only, a reduction over an empty
 * row, or an `outShape` of another size; DTypeError and ShapeError as `programOutput`.
 * @example
 * // Σ x² per row of a [4, 3] input: [4, 1], or [4] when asked
 * const sumOfSquares: ReductionProgram = {
 *   arity: 1,
 *   instructions: [{ kind: 'unary', op: 'square', x: 0 }, { kind: 'reduce', op: 'sum', x: 1 }],
 * }
 * reductionProgramOutput(sumOfSquares, [{ shape: [4, 3], dtype: 'float32' }]).shape // [4, 1]
 * reductionProgramOutput(sumOfSquares, [{ shape: [4, 3], dtype: 'float32' }], [4]).shape // [4]
 * @since 0.2.0
 */
export const reductionProgramOutput = (
  program: ReductionProgram,
  inputs: ReadonlyArray<{ readonly shape: Shape; readonly dtype: DType }>,
  outShape?: Shape,
): { readonly shape: Shape; readonly dtype: DType; readonly rowShape: Shape } => {
  if (!Array.isArray(program.instructions)) throw new ValueError(OP, 'a program needs a list of instructions')
  // The elementwise checks, with each reduction standing in as a unary step on its operand.
  const asElementwise = {
    arity: program.arity,
    instructions: program.instructions.map((step: ReductionInstruction, i) => {
      if (step.kind !== 'reduce') return step
      if (!isRowReduceOp(step.op))
        throw new ValueError(
          OP,
          `instruction ${i}: unknown reduction ${String(step.op)} (sum, max, min, mean)`,
        )
      return { kind: 'unary', op: 'neg', x: step.x } as const
    }),
  }
  const { shape: rowShape, dtype } = programOutput(asElementwise, inputs)
  if (rowShape.length === 0)
    throw new ValueError(OP, 'the inputs are all rank 0: there is no last axis to reduce along')
  const n = rowShape[rowShape.length - 1]!
  if (n === 0 && program.instructions.some((step) => step.kind === 'reduce'))
    throw new ValueError(
      OP,
      `rows of ${fmtShape(rowShape)} are empty: max, min and mean of nothing are undefined`,
    )
  const varying = rowVarying(
    program,
    inputs.map((x) => x.shape),
    rowShape,
  )
  const natural = varying[varying.length - 1] ? rowShape : [...rowShape.slice(0, -1), 1]
  if (outShape === undefined) return { shape: natural, dtype, rowShape }
  if (sizeOf(outShape) !== sizeOf(natural))
    throw new ShapeError(
      OP,
      `outShape ${fmtShape(outShape)} has ${sizeOf(outShape)} elements but the result ${fmtShape(natural)} has ${sizeOf(natural)}`,
    )
  return { shape: outShape, dtype, rowShape }
}

/**
 * The program as one line of text: what `show` prints and a cache key.
 * @example
 * reductionProgramText({ arity: 1, instructions: [{ kind: 'reduce', op: 'max', x: 0 }] }) // '(1) max a0'
 * @since 0.2.0
 */
export const reductionProgramText = (program: ReductionProgram): string =>
  programText({
    arity: program.arity,
    // Printed as a unary step named after the reduction: `sum v3`.
    instructions: program.instructions.map((step) =>
      step.kind === 'reduce' ? ({ kind: 'unary', op: step.op as 'neg', x: step.x } as const) : step,
    ),
  })

/**
 * Runs a reduction program (see `ReductionProgram`) over `inputs`, broadcast NumPy-style, one row
 * of the last axis at a time: every step in float64 with the elementwise kernels' arithmetic and
 * the reductions' (sum in row order, max/min propagating NaN), rounded to the inputs' float dtype
 * once. The result is shaped as `reductionProgramOutput` says.
 * @example
 * // softmax of each row
 * reductionProgram(
 *   { arity: 1, instructions: [
 *     { kind: 'reduce', op: 'max', x: 0 },
 *     { kind: 'binary', op: 'sub', a: 0, b: 1 },
 *     { kind: 'unary', op: 'exp', x: 2 },
 *     { kind: 'reduce', op: 'sum', x: 3 },
 *     { kind: 'binary', op: 'div', a: 3, b: 4 },
 *   ] },
 *   [tensor([[1, 2], [3, 3]])],
 * ) // [[0.26894143, 0.7310586], [0.5, 0.5]]
 * @throws ValueError, DTypeError or ShapeError (see `reductionProgramOutput`).
 * @since 0.2.0
 */
export const reductionProgram = (
  program: ReductionProgram,
  inputs: ReadonlyArray<Tensor>,
  outShape?: Shape,
): Tensor => {
  requireAllConcrete(OP, 'inputs', inputs)
  const { shape, dtype, rowShape } = reductionProgramOutput(program, inputs, outShape)
  const result = getBackend().reductionProgram(program, inputs, rowShape, dtype)
  return unsafeTensor(dtype, shape, result.data)
}
