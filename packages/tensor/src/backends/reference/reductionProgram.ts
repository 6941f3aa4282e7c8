import type { ReductionProgram, RowReduceOp } from '../../backend'
import { allocate, type DType } from '../../dtype'
import { sizeOf, type Shape } from '../../shape'
import { unsafeTensor, type Tensor } from '../../tensor'
import { binaryBlock, load, readerOf, readStrided, store, unaryBlock, type Reader } from './program'

// A reduction program runs row by row. Each value is a float64 register of one row: a vector, or,
// when it is constant along the row (a reduction, an input whose last axis is 1, a constant, or a
// step over only such values), a single number. Elementwise steps use the formulas of the
// elementwise program loop (program.ts); reductions those of the reference `reduce` (a float64
// running sum in row order; max and min propagate NaN and keep the first of equal values).

/** Which values vary along the row, for inputs broadcast to `rowShape` (the program's own rule). */
export const rowVarying = (
  program: ReductionProgram,
  inputShapes: ReadonlyArray<Shape>,
  rowShape: Shape,
): boolean[] => {
  const n = rowShape[rowShape.length - 1] ?? 1
  const varying = inputShapes.map((shape) => n !== 1 && shape.length > 0 && shape[shape.length - 1] !== 1)
  for (const step of program.instructions)
    varying.push(
      step.kind === 'unary'
        ? varying[step.x]!
        : step.kind === 'binary'
          ? varying[step.a]! || varying[step.b]!
          : false,
    )
  return varying
}

const reduceRow = (op: RowReduceOp, row: Float64Array, n: number): number => {
  switch (op) {
    case 'sum':
    case 'mean': {
      let acc = 0
      for (let i = 0; i < n; i++) acc += row[i]!
      return op === 'sum' ? acc : acc / n
    }
    case 'max': {
      let best = -Infinity
      for (let i = 0; i < n; i++) {
        const v = row[i]!
        if (v > best || v !== v) best = v
      }
      return best
    }
    case 'min': {
      let best = Infinity
      for (let i = 0; i < n; i++) {
        const v = row[i]!
        if (v < best || v !== v) best = v
      }
      return best
    }
  }
}

/**
 * Evaluates `program` row by row over the inputs broadcast to `rowShape`, in float64, rounding to
 * `outDtype` once at the store. The result has `rowShape`, or `rowShape` with a last axis of 1 when
 * the program's result is constant along the row.
 * @since 0.2.0
 */
export const reductionProgram = (
  program: ReductionProgram,
  inputs: ReadonlyArray<Tensor>,
  rowShape: Shape,
  outDtype: DType,
): Tensor => {
  const arity = program.arity
  const n = rowShape[rowShape.length - 1] ?? 1
  const size = sizeOf(rowShape)
  const rows = n === 0 ? sizeOf(rowShape.slice(0, -1)) : size / n
  const varying = rowVarying(
    program,
    inputs.map((x) => x.shape),
    rowShape,
  )
  const resultVaries = varying[varying.length - 1]!
  const outShape = resultVaries ? rowShape : [...rowShape.slice(0, -1), 1]
  const out = allocate(outDtype, resultVaries ? size : rows)
  const result = unsafeTensor(outDtype, outShape, out)
  if (rows === 0) return result
  const count = arity + program.instructions.length
  // Vector registers for values that vary; a shared one-row scratch broadcasts a constant operand.
  const registers = varying.map((v) => (v ? new Float64Array(n) : undefined))
  const scalars = new Float64Array(count)
  const one = new Float64Array(1)
  const spread = [new Float64Array(n), new Float64Array(n)] as const
  const readers: Reader[] = inputs.map((x) => readerOf(x, rowShape, size))
  const vectorOf = (value: number, which: 0 | 1): Float64Array => {
    const register = registers[value]
    if (register !== undefined) return register
    const filled = spread[which]
    filled.fill(scalars[value]!)
    return filled
  }
  const rowStore = new Float64Array(1)
  for (let row = 0; row < rows; row++) {
    const start = row * n
    for (let k = 0; k < arity; k++) {
      const reader = readers[k]!
      const x = inputs[k]!
      const register = registers[k]
      if (reader.kind === 'scalar') scalars[k] = x.data[0]!
      else if (register !== undefined) {
        if (reader.kind === 'full') load(reader.data, start, register, n)
        else readStrided(reader.data, reader.strides, rowShape, start, register, n)
      } else {
        // Constant along the row: its element at the row's first position.
        if (reader.kind === 'full') load(reader.data, start, one, 1)
        else readStrided(reader.data, reader.strides, rowShape, start, one, 1)
        scalars[k] = one[0]!
      }
    }
    for (let i = 0; i < program.instructions.length; i++) {
      const step = program.instructions[i]!
      const value = arity + i
      const dst = registers[value]
      if (step.kind === 'constant') scalars[value] = step.value
      else if (step.kind === 'reduce') scalars[value] = reduceRow(step.op, vectorOf(step.x, 0), n)
      else if (step.kind === 'unary') {
        if (dst !== undefined) unaryBlock(step.op, vectorOf(step.x, 0), dst, n)
        else {
          one[0] = scalars[step.x]!
          unaryBlock(step.op, one, one, 1)
          scalars[value] = one[0]
        }
      } else if (dst !== undefined) binaryBlock(step.op, vectorOf(step.a, 0), vectorOf(step.b, 1), dst, n)
      else {
        one[0] = scalars[step.a]!
        rowStore[0] = scalars[step.b]!
        binaryBlock(step.op, one, rowStore, one, 1)
        scalars[value] = one[0]
      }
    }
    const last = count - 1
    if (resultVaries) store(registers[last]!, out, start, n)
    else {
      one[0] = scalars[last]!
      store(one, out, row, 1)
    }
  }
  return result
}
