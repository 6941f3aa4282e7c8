// y = P(x₁ … xₙ), an elementwise program with reductions along the last axis, one row at a time ;
// x̄ᵢ = the program's pullback: its values rebuilt with ops, each step's own VJP applied in reverse
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { applyOp, defineOp, type Batched, type BatchAxes, type Op } from '../core/op'
import { batchSize, moveAxis } from '../core/batching'
import { unbroadcast } from '../core/unbroadcast'
import { add } from '../binary/add'
import { programBinaryOps, programOnnx, programUnaryOps } from '../elementwise/elementwiseProgram'
import { broadcastTo } from '../shape/broadcastTo'
import { reshape } from '../shape/reshape'
import type { ReduceParams } from '../internal/reduceParams'
import { sumOp } from './sum'
import { maxOp } from './max'
import { minOp } from './min'
import { meanOp } from './mean'

/** Parameters of `reductionProgram`: the program and the result's shape. @since 0.2.0 */
export interface ReductionProgramParams {
  readonly program: T.ReductionProgram
  /** The result's shape: the row shape, or (for a result constant along rows) any shape of one element per row. */
  readonly shape: ReadonlyArray<number>
}

/**
 * The reduction op behind each reduce step: the records eager mode applies (the fusion pass matches
 * them by identity, the VJP reuses their rules).
 * @example
 * programReduceOps.sum === sumOp // true
 * @since 0.2.0
 */
export const programReduceOps: Readonly<Record<T.RowReduceOp, Op<string, [Tensor], ReduceParams>>> = {
  sum: sumOp,
  max: maxOp,
  min: minOp,
  mean: meanOp,
}

/** The row shape of a program over inputs of these shapes (their broadcast). */
const rowShapeOf = (xs: ReadonlyArray<Tensor>): ReadonlyArray<number> =>
  xs.reduce<ReadonlyArray<number>>((shape, x) => T.broadcastShapes('reductionProgram', shape, x.shape), [])

/**
 * The pullback: the program's values recomputed with ops (so the result is differentiable again),
 * then each instruction's VJP in reverse, cotangents of shared values summed. A reduction reads its
 * operand broadcast to the whole row shape (as the kernel does), reducing the last axis with
 * keepDims; the result is broadcast to its natural shape and reshaped to `shape`.
 */
const reductionProgramVjp = (
  ct: Tensor,
  xs: ReadonlyArray<Tensor>,
  { program }: ReductionProgramParams,
  needed: ReadonlyArray<boolean>,
): Array<Tensor | undefined> => {
  const dtype = xs[0]?.dtype ?? 'float32'
  const rowShape = rowShapeOf(xs)
  const axes = [rowShape.length - 1]
  const reduceParams: ReduceParams = { axes, keepDims: true }
  const values: Tensor[] = [...xs]
  const live: boolean[] = xs.map((_, k) => needed[k] === true)
  // The operand of each reduce step as the reduction saw it (broadcast to the row shape).
  const spread = new Map<number, Tensor>()
  program.instructions.forEach((step, i) => {
    if (step.kind === 'constant') {
      values.push(T.scalar(step.value, dtype))
      live.push(false)
    } else if (step.kind === 'unary') {
      values.push(applyOp(programUnaryOps[step.op], [values[step.x]!], undefined))
      live.push(live[step.x]!)
    } else if (step.kind === 'binary') {
      values.push(applyOp(programBinaryOps[step.op], [values[step.a]!, values[step.b]!], undefined))
      live.push(live[step.a]! || live[step.b]!)
    } else {
      const operand = broadcastTo(values[step.x]!, rowShape)
      spread.set(i, operand)
      values.push(applyOp(programReduceOps[step.op], [operand], reduceParams))
      live.push(live[step.x]!)
    }
  })
  const last = values.length - 1
  const natural = T.shapesEqual(values[last]!.shape, rowShape)
    ? rowShape
    : T.broadcastShapes('reductionProgram', values[last]!.shape, [...rowShape.slice(0, -1), 1])
  const cotangents: Array<Tensor | undefined> = values.map(() => undefined)
  cotangents[last] = unbroadcast(reshape(ct, natural), values[last]!.shape)
  const accumulate = (value: number, cotangent: Tensor | undefined): void => {
    if (cotangent === undefined || !live[value]) return
    const earlier = cotangents[value]
    cotangents[value] = earlier === undefined ? cotangent : add(earlier, cotangent)
  }
  for (let i = program.instructions.length - 1; i >= 0; i--) {
    const step = program.instructions[i]!
    const value = program.arity + i
    const cotangent = cotangents[value]
    if (cotangent === undefined || step.kind === 'constant') continue
    if (step.kind === 'unary') {
      const [dx] = programUnaryOps[step.op].vjp(cotangent, [values[step.x]!], values[value]!, undefined, [
        live[step.x]!,
      ])
      accumulate(step.x, dx)
    } else if (step.kind === 'binary') {
      const [da, db] = programBinaryOps[step.op].vjp(
        cotangent,
        [values[step.a]!, values[step.b]!],
        values[value]!,
        undefined,
        [live[step.a]!, live[step.b]!],
      )
      accumulate(step.a, da)
      accumulate(step.b, db)
    } else {
      const operand = spread.get(i)!
      const [dx] = programReduceOps[step.op].vjp(cotangent, [operand], values[value]!, reduceParams, [
        live[step.x]!,
      ])
      accumulate(step.x, dx === undefined ? undefined : unbroadcast(dx, values[step.x]!.shape))
    }
  }
  return xs.map((x, k) => (needed[k] === true ? (cotangents[k] ?? T.zeros(x.shape, x.dtype)) : undefined))
}

/**
 * Under vmap: every mapped input gets its examples' axis first and, after it, as many 1s as make
 * it the row shape's rank, so that it broadcasts against the unmapped inputs as one example did
 * (the reduced axis stays last); the result has the examples first.
 */
const batchReductionProgram = (
  xs: ReadonlyArray<Tensor>,
  axes: BatchAxes<ReadonlyArray<Tensor>>,
  p: ReductionProgramParams,
  self: (xs: ReadonlyArray<Tensor>, p: ReductionProgramParams) => Tensor,
): Batched => {
  const size = batchSize(xs, axes)
  const rank = Math.max(0, ...xs.map((x, k) => x.shape.length - (axes[k] === undefined ? 0 : 1)))
  const moved = xs.map((x, k) => {
    const axis = axes[k]
    if (axis === undefined) return x
    const front = moveAxis(x, axis, 0)
    const rest = front.shape.slice(1)
    return reshape(front, [size, ...new Array<number>(rank - rest.length).fill(1), ...rest])
  })
  return [self(moved, { program: p.program, shape: [size, ...p.shape] }), 0]
}

/** The `reductionProgram` op. @since 0.2.0 */
export const reductionProgramOp = defineOp<'reductionProgram', ReadonlyArray<Tensor>, ReductionProgramParams>(
  {
    name: 'reductionProgram',
    forward: (xs, p) => T.reductionProgram(p.program, xs, p.shape),
    abstract: (xs, p) => {
      const { shape, dtype } = T.reductionProgramOutput(p.program, xs, p.shape)
      return { shape, dtype }
    },
    vjp: (ct, xs, _y, p, needed) => reductionProgramVjp(ct, xs, p, needed),
    batch: batchReductionProgram,
    formatParams: (p) => `${T.reductionProgramText(p.program)} → ${T.fmtShape(p.shape)}`,
    // The steps through their ops' rules; a row reduction reads its operand expanded to the whole
    // row (a per-row value sums n times) and keeps the row axis as 1; the result is expanded to
    // the rows (or one per row) and reshaped to the op's shape.
    onnx: (b, xs, p, { inputs, output }) => {
      const { rowShape } = T.reductionProgramOutput(p.program, inputs, p.shape)
      const rows = b.int64s(rowShape)
      const axis = [rowShape.length - 1]
      const opType = { sum: 'ReduceSum', max: 'ReduceMax', min: 'ReduceMin', mean: 'ReduceMean' } as const
      const reduce = (x: string, op: T.RowReduceOp): string => {
        const whole = b.node('Expand', [x, rows])
        return op === 'sum' || b.opset >= 18
          ? b.node(opType[op], [whole, b.int64s(axis)], { keepdims: 1 })
          : b.node(opType[op], [whole], { axes: axis, keepdims: 1 })
      }
      const y = programOnnx(b, p.program, xs, inputs, output, reduce)
      const full = T.sizeOf(p.shape) === T.sizeOf(rowShape) ? rowShape : [...rowShape.slice(0, -1), 1]
      return b.node('Reshape', [b.node('Expand', [y, b.int64s(full)]), b.int64s(p.shape)])
    },
  },
)

/**
 * Runs an elementwise program with reductions along the last axis (see `ReductionProgram` in
 * `@backfold/tensor`) as one kernel, row by row, over broadcast inputs of one float dtype; the
 * result has `shape` (by default the row shape, or the row shape with a last axis of 1 when the
 * result is constant along rows). `jit`'s fusion pass builds these from softmax-, normalisation-
 * and loss-shaped chains; calling it by hand is for tests and custom compilers. Steps compute in
 * float64 and the result is rounded once. Differentiable (through the program's ops) and batchable.
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
 * @throws ValueError, DTypeError or ShapeError, as `T.reductionProgramOutput` describes.
 * @since 0.2.0
 */
export const reductionProgram = (
  program: T.ReductionProgram,
  xs: ReadonlyArray<Tensor>,
  shape?: ReadonlyArray<number>,
): Tensor =>
  applyOp(reductionProgramOp, xs, {
    program,
    shape: [...(shape ?? T.reductionProgramOutput(program, xs).shape)],
  })
