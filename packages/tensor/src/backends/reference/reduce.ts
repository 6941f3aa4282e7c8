import type { ReduceOp } from '../../backend'
import { allocate, type DType, type TypedArray } from '../../dtype'
import { sizeOf, stridesOf } from '../../shape'
import { unsafeTensor, type Tensor } from '../../tensor'

// Strategy. Drop size-1 axes, then merge neighbouring axes of the same kind (kept / reduced):
// row-major contiguity makes each merged group a single strided axis. What remains alternates
// kept and reduced groups, and the innermost group decides the loop:
//  - innermost reduced (e.g. sum over the last axes): every output reduces a few contiguous runs;
//  - innermost kept (e.g. sum over the first axes): every block of `width` outputs accumulates
//    contiguous slices of length `width` into a float64 scratch row.
// The outer index sets are precomputed as offset tables, so the loops carry no divmod.
// Sums and products accumulate in float64 (a JS number) whatever the dtype.

/** Value of a reduction over nothing (the kernels reject max/min/argmax/argmin of empty input). */
const EMPTY_VALUE: Readonly<Record<ReduceOp, number>> = {
  sum: 0,
  prod: 1,
  max: -Infinity,
  min: Infinity,
  argmax: 0,
  argmin: 0,
  logsumexp: -Infinity,
}

/** Offsets of every index of `sizes` (row-major order) given the per-axis `strides`. */
const offsetTable = (sizes: ReadonlyArray<number>, strides: ReadonlyArray<number>): Int32Array => {
  const table = new Int32Array(sizeOf(sizes))
  const rank = sizes.length
  const index = new Array<number>(rank).fill(0)
  let offset = 0
  for (let t = 0; t < table.length; t++) {
    table[t] = offset
    for (let d = rank - 1; d >= 0; d--) {
      const size = sizes[d]!
      const next = index[d]! + 1
      if (next < size) {
        index[d] = next
        offset += strides[d]!
        break
      }
      index[d] = 0
      offset -= strides[d]! * (size - 1)
    }
  }
  return table
}

/**
 * Each output `o` reduces the runs `data[outOffsets[o] + runOffsets[r] .. + runLength]`, in order.
 * `argmax`/`argmin` count positions in that order, which is row-major over the reduced axes.
 */
const reduceRuns = (
  op: ReduceOp,
  data: TypedArray,
  outOffsets: Int32Array,
  runOffsets: Int32Array,
  runLength: number,
  out: TypedArray,
): void => {
  const nOut = outOffsets.length
  const nRuns = runOffsets.length
  switch (op) {
    case 'sum':
      for (let o = 0; o < nOut; o++) {
        const base = outOffsets[o]!
        let acc = 0
        for (let r = 0; r < nRuns; r++) {
          const start = base + runOffsets[r]!
          const end = start + runLength
          for (let p = start; p < end; p++) acc += data[p]!
        }
        out[o] = acc
      }
      return
    case 'prod':
      for (let o = 0; o < nOut; o++) {
        const base = outOffsets[o]!
        let acc = 1
        for (let r = 0; r < nRuns; r++) {
          const start = base + runOffsets[r]!
          const end = start + runLength
          for (let p = start; p < end; p++) acc *= data[p]!
        }
        out[o] = acc
      }
      return
    case 'max':
    case 'logsumexp':
      for (let o = 0; o < nOut; o++) {
        const base = outOffsets[o]!
        let best = -Infinity
        for (let r = 0; r < nRuns; r++) {
          const start = base + runOffsets[r]!
          const end = start + runLength
          for (let p = start; p < end; p++) {
            const v = data[p]!
            // Once best is NaN neither test passes again, so NaN propagates.
            if (v > best || v !== v) best = v
          }
        }
        if (op === 'max' || best === Infinity || best === -Infinity || best !== best) {
          out[o] = best
          continue
        }
        let sum = 0
        for (let r = 0; r < nRuns; r++) {
          const start = base + runOffsets[r]!
          const end = start + runLength
          for (let p = start; p < end; p++) sum += Math.exp(data[p]! - best)
        }
        out[o] = best + Math.log(sum)
      }
      return
    case 'min':
      for (let o = 0; o < nOut; o++) {
        const base = outOffsets[o]!
        let best = Infinity
        for (let r = 0; r < nRuns; r++) {
          const start = base + runOffsets[r]!
          const end = start + runLength
          for (let p = start; p < end; p++) {
            const v = data[p]!
            if (v < best || v !== v) best = v
          }
        }
        out[o] = best
      }
      return
    case 'argmax':
      for (let o = 0; o < nOut; o++) {
        const base = outOffsets[o]!
        let best = -Infinity
        let bestAt = 0
        let position = 0
        for (let r = 0; r < nRuns; r++) {
          const start = base + runOffsets[r]!
          const end = start + runLength
          for (let p = start; p < end; p++, position++) {
            const v = data[p]!
            // Strict comparison keeps the first of equal values; the first NaN wins (as NumPy).
            if (v > best || (v !== v && best === best)) {
              best = v
              bestAt = position
            }
          }
        }
        out[o] = bestAt
      }
      return
    case 'argmin':
      for (let o = 0; o < nOut; o++) {
        const base = outOffsets[o]!
        let best = Infinity
        let bestAt = 0
        let position = 0
        for (let r = 0; r < nRuns; r++) {
          const start = base + runOffsets[r]!
          const end = start + runLength
          for (let p = start; p < end; p++, position++) {
            const v = data[p]!
            if (v < best || (v !== v && best === best)) {
              best = v
              bestAt = position
            }
          }
        }
        out[o] = bestAt
      }
      return
  }
}

/**
 * Each block of `width` consecutive outputs, block `b`, reduces the slices
 * `data[blockOffsets[b] + sliceOffsets[q] .. + width]` elementwise, in order of `q`.
 */
const reduceSlices = (
  op: ReduceOp,
  data: TypedArray,
  blockOffsets: Int32Array,
  sliceOffsets: Int32Array,
  width: number,
  out: TypedArray,
): void => {
  const nBlocks = blockOffsets.length
  const nSlices = sliceOffsets.length
  const acc = new Float64Array(width)
  const bestAt = new Int32Array(width)
  const sums = new Float64Array(width)
  for (let block = 0; block < nBlocks; block++) {
    const base = blockOffsets[block]!
    const outBase = block * width
    switch (op) {
      case 'sum':
        acc.fill(0)
        for (let q = 0; q < nSlices; q++) {
          const start = base + sliceOffsets[q]!
          for (let k = 0; k < width; k++) acc[k] = acc[k]! + data[start + k]!
        }
        break
      case 'prod':
        acc.fill(1)
        for (let q = 0; q < nSlices; q++) {
          const start = base + sliceOffsets[q]!
          for (let k = 0; k < width; k++) acc[k] = acc[k]! * data[start + k]!
        }
        break
      case 'max':
      case 'logsumexp':
        acc.fill(-Infinity)
        for (let q = 0; q < nSlices; q++) {
          const start = base + sliceOffsets[q]!
          for (let k = 0; k < width; k++) {
            const v = data[start + k]!
            if (v > acc[k]! || v !== v) acc[k] = v
          }
        }
        if (op === 'logsumexp') {
          sums.fill(0)
          for (let q = 0; q < nSlices; q++) {
            const start = base + sliceOffsets[q]!
            for (let k = 0; k < width; k++) sums[k] = sums[k]! + Math.exp(data[start + k]! - acc[k]!)
          }
          for (let k = 0; k < width; k++) {
            const best = acc[k]!
            // An infinite or NaN maximum is the answer itself (and exp(v - best) would be NaN).
            const finite = best !== Infinity && best !== -Infinity && best === best
            out[outBase + k] = finite ? best + Math.log(sums[k]!) : best
          }
          continue
        }
        break
      case 'min':
        acc.fill(Infinity)
        for (let q = 0; q < nSlices; q++) {
          const start = base + sliceOffsets[q]!
          for (let k = 0; k < width; k++) {
            const v = data[start + k]!
            if (v < acc[k]! || v !== v) acc[k] = v
          }
        }
        break
      case 'argmax':
        acc.fill(-Infinity)
        bestAt.fill(0)
        for (let q = 0; q < nSlices; q++) {
          const start = base + sliceOffsets[q]!
          for (let k = 0; k < width; k++) {
            const v = data[start + k]!
            const best = acc[k]!
            if (v > best || (v !== v && best === best)) {
              acc[k] = v
              bestAt[k] = q
            }
          }
        }
        for (let k = 0; k < width; k++) out[outBase + k] = bestAt[k]!
        continue
      case 'argmin':
        acc.fill(Infinity)
        bestAt.fill(0)
        for (let q = 0; q < nSlices; q++) {
          const start = base + sliceOffsets[q]!
          for (let k = 0; k < width; k++) {
            const v = data[start + k]!
            const best = acc[k]!
            if (v < best || (v !== v && best === best)) {
              acc[k] = v
              bestAt[k] = q
            }
          }
        }
        for (let k = 0; k < width; k++) out[outBase + k] = bestAt[k]!
        continue
    }
    for (let k = 0; k < width; k++) out[outBase + k] = acc[k]!
  }
}

/**
 * Reduces `x` over the sorted, distinct `axes`; the result's shape drops those axes.
 * `argmax`/`argmin` give the position within the reduced axes in row-major order (the flat
 * index when every axis is reduced). Reducing over zero elements gives 0 (sum), 1 (prod),
 * -Infinity (logsumexp); the kernels reject the other ops on empty input.
 * @since 0.1.0
 */
export const reduce = (op: ReduceOp, x: Tensor, axes: ReadonlyArray<number>, outDtype: DType): Tensor => {
  const shape = x.shape
  const data = x.data
  const rank = shape.length
  const isReduced = new Array<boolean>(rank).fill(false)
  for (const axis of axes) isReduced[axis] = true
  const outShape: number[] = []
  let reducedCount = 1
  for (let i = 0; i < rank; i++) {
    if (isReduced[i]) reducedCount *= shape[i]!
    else outShape.push(shape[i]!)
  }
  const outSize = sizeOf(outShape)
  const out = allocate(outDtype, outSize)
  const result = unsafeTensor(outDtype, outShape, out)
  if (outSize === 0) return result
  if (reducedCount === 0) {
    out.fill(EMPTY_VALUE[op])
    return result
  }

  const sizes: number[] = []
  const reducedGroup: boolean[] = []
  for (let i = 0; i < rank; i++) {
    const size = shape[i]!
    if (size === 1) continue
    const last = sizes.length - 1
    if (last >= 0 && reducedGroup[last] === isReduced[i]) sizes[last] = sizes[last]! * size
    else {
      sizes.push(size)
      reducedGroup.push(isReduced[i]!)
    }
  }
  const strides = stridesOf(sizes)
  const inner = sizes.length - 1
  const innerReduced = inner < 0 || reducedGroup[inner]!
  const outerKeptSizes: number[] = []
  const outerKeptStrides: number[] = []
  const outerReducedSizes: number[] = []
  const outerReducedStrides: number[] = []
  for (let g = 0; g < inner; g++) {
    if (reducedGroup[g]) {
      outerReducedSizes.push(sizes[g]!)
      outerReducedStrides.push(strides[g]!)
    } else {
      outerKeptSizes.push(sizes[g]!)
      outerKeptStrides.push(strides[g]!)
    }
  }
  const keptOffsets = offsetTable(outerKeptSizes, outerKeptStrides)
  const reducedOffsets = offsetTable(outerReducedSizes, outerReducedStrides)
  // With no axis left (a scalar, or all sizes 1) the innermost group is one reduced element.
  const innerSize = inner < 0 ? 1 : sizes[inner]!
  if (innerReduced) reduceRuns(op, data, keptOffsets, reducedOffsets, innerSize, out)
  else reduceSlices(op, data, keptOffsets, reducedOffsets, innerSize, out)
  return result
}
