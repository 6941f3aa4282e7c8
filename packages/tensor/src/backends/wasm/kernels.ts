import type { Local } from './emitter'
import { Code, encodeModule } from './emitter'

// The float32 kernels of the wasm backend, generated as WebAssembly at load time. GEMM (BLIS structure):
//   packA   copies an mc×kc block of op(A) into strips of MR rows, depth-major (strip[p·MR + r]),
//   packB   copies a kc×nc block of op(B) into strips of NR columns, depth-major (strip[p·NR + c]),
//           both zero-padding the last strip so the micro-kernel never needs an edge case inside;
//   macro   sweeps the packed blocks with the MR×NR micro-kernel, writing or adding into C (row stride ldc).
// The micro-kernel keeps its MR×NR tile of C in MR·NR/4 v128 locals: per depth step it loads
// NR/4 vectors of B, splats MR scalars of A from memory, and does MR·NR/4 multiplies and adds.
// Without fused multiply-add in base SIMD, a multiply and an add per product is the best there is;
// x86 cores that issue two multiplies and two adds per cycle still reach 16 flops per cycle.
// runtime.ts picks the tile (see the measurements there); the other shapes stay for experiments.
// Then im2col / col2im for convolutions and an in-place relu. Every pointer and stride is in bytes.

/** Register blocking of the micro-kernel: `rows` of A by `4·vectors` columns of B. */
export interface TileShape {
  readonly rows: number
  readonly vectors: number
}

/** Indices of the generated functions; `call` needs them. */
const MICRO = 0
const FLOAT_BYTES = 4

type Loop = (code: Code) => void

/** `for (counter = 0; counter < limit; counter++) body` (signed compare; limit is a local). */
const countUp = (f: Code, counter: Local, limit: Local, body: Loop): void => {
  f.i32Const(0).set(counter)
  f.block((exit) =>
    exit.loop((again) => {
      again.get(counter).get(limit).i32GeS().brIf(1)
      body(again)
      again.get(counter).i32Const(1).i32Add().set(counter).br(0)
    }),
  )
}

/** `local = min(cap, limit - from)` for a constant `cap`. */
const remainingCapped = (f: Code, local: Local, limit: Local, from: Local, cap: number): void => {
  f.get(limit).get(from).i32Sub().set(local)
  f.i32Const(cap).get(local).get(local).i32Const(cap).i32GtS().select().set(local)
}

const addTo = (f: Code, local: Local, amount: number | Local): void => {
  f.get(local)
  if (typeof amount === 'number') f.i32Const(amount)
  else f.get(amount)
  f.i32Add().set(local)
}

/**
 * micro(kc, ap, bp, c, ldc, rows, cols, tmp, accumulate): C[rows×cols tile] (+)= Ap-strip · Bp-strip
 * over kc ≥ 1 depth steps (the loop tests at its end); `accumulate` 0 overwrites C, so callers need
 * not zero it first.
 */
const microKernel = (tile: TileShape): Code => {
  const { rows: mr, vectors: nv } = tile
  const f = new Code(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [])
  const [kc, ap, bp, c, ldc, rows, cols, tmp, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) =>
    f.param(i),
  ) as [Local, Local, Local, Local, Local, Local, Local, Local, Local] // why: the map above yields exactly nine locals
  const nr = 4 * nv
  const acc = Array.from({ length: mr * nv }, () => f.local('v128'))
  const splats = Array.from({ length: mr }, () => f.local('v128'))
  const b = f.local('v128')
  for (const register of acc) f.v128Zero().set(register)
  // One depth step: the MR splats of A first, then one vector of B at a time against all of them
  // (MR·NV + MR + 2 live v128 values). On Zen 4 this order beats loading all of B first (4×8:
  // 40.7 vs 38.9 GFLOP/s in the macro kernel; 2×16: 35.4 vs 34.4).
  // kc ≥ 1 on every call, so the loop tests at its end: one branch per step. Unrolling it lost
  // (4×8: 29 at 2 steps, 27 at 4 vs 40): V8 then spills.
  f.loop((step) => {
    for (let r = 0; r < mr; r++)
      step
        .get(ap)
        .v128Load32Splat(FLOAT_BYTES * r)
        .set(splats[r]!)
    for (let v = 0; v < nv; v++) {
      step
        .get(bp)
        .v128Load(16 * v)
        .set(b)
      for (let r = 0; r < mr; r++) {
        const register = acc[r * nv + v]!
        step.get(register).get(splats[r]!).get(b).f32x4Mul().f32x4Add().set(register)
      }
    }
    addTo(step, ap, FLOAT_BYTES * mr)
    addTo(step, bp, FLOAT_BYTES * nr)
    step.get(kc).i32Const(1).i32Sub().tee(kc).brIf(0)
  })
  const row = f.local('i32')
  f.get(rows).i32Const(mr).i32Eq().get(cols).i32Const(nr).i32Eq().i32And()
  f.ifElse(
    (full) => {
      full.get(c).set(row)
      for (let r = 0; r < mr; r++) {
        for (let v = 0; v < nv; v++) {
          const register = acc[r * nv + v]!
          full.get(accumulate)
          full.ifElse(
            (add) =>
              add
                .get(row)
                .get(row)
                .v128Load(16 * v)
                .get(register)
                .f32x4Add()
                .v128Store(16 * v),
            (store) =>
              store
                .get(row)
                .get(register)
                .v128Store(16 * v),
          )
        }
        if (r + 1 < mr) addTo(full, row, ldc)
      }
    },
    (edge) => {
      // A partial tile: spill the accumulators, then write the valid part element by element.
      for (let r = 0; r < mr; r++) {
        for (let v = 0; v < nv; v++)
          edge
            .get(tmp)
            .get(acc[r * nv + v]!)
            .v128Store(16 * (r * nv + v))
      }
      const i = edge.local('i32')
      const j = edge.local('i32')
      const at = edge.local('i32')
      const from = edge.local('i32')
      edge.get(c).set(row)
      edge.get(tmp).set(from)
      countUp(edge, i, rows, (body) => {
        countUp(body, j, cols, (inner) => {
          inner.get(row).get(j).i32Const(2).i32Shl().i32Add().tee(at)
          inner.get(at).f32Load().f32Const(0).get(accumulate).select()
          inner.get(from).get(j).i32Const(2).i32Shl().i32Add().f32Load()
          inner.f32Add().f32Store()
        })
        addTo(body, row, ldc)
        addTo(body, from, FLOAT_BYTES * nr)
      })
    },
  )
  return f
}

/** macro(mc, nc, kc, ap, bp, c, ldc, tmp, accumulate): C[mc×nc] (+)= packed A · packed B. */
const macroKernel = (tile: TileShape): Code => {
  const { rows: mr, vectors: nv } = tile
  const f = new Code(['i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [])
  const [mc, nc, kc, ap, bp, c, ldc, tmp, accumulate] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) =>
    f.param(i),
  ) as [Local, Local, Local, Local, Local, Local, Local, Local, Local] // why: the map above yields exactly nine locals
  const nr = 4 * nv
  const jr = f.local('i32')
  const ir = f.local('i32')
  const cols = f.local('i32')
  const rows = f.local('i32')
  const aStrip = f.local('i32')
  const bStrip = f.local('i32')
  const cColumn = f.local('i32')
  const cTile = f.local('i32')
  const aStripBytes = f.local('i32')
  const bStripBytes = f.local('i32')
  const tileRowsBytes = f.local('i32')
  f.get(kc)
    .i32Const(FLOAT_BYTES * mr)
    .i32Mul()
    .set(aStripBytes)
  f.get(kc)
    .i32Const(FLOAT_BYTES * nr)
    .i32Mul()
    .set(bStripBytes)
  f.get(ldc).i32Const(mr).i32Mul().set(tileRowsBytes)
  f.get(bp).set(bStrip)
  f.get(c).set(cColumn)
  f.i32Const(0).set(jr)
  f.block((exitColumns) =>
    exitColumns.loop((columns) => {
      columns.get(jr).get(nc).i32GeS().brIf(1)
      remainingCapped(columns, cols, nc, jr, nr)
      columns.get(ap).set(aStrip)
      columns.get(cColumn).set(cTile)
      columns.i32Const(0).set(ir)
      columns.block((exitRows) =>
        exitRows.loop((tiles) => {
          tiles.get(ir).get(mc).i32GeS().brIf(1)
          remainingCapped(tiles, rows, mc, ir, mr)
          tiles
            .get(kc)
            .get(aStrip)
            .get(bStrip)
            .get(cTile)
            .get(ldc)
            .get(rows)
            .get(cols)
            .get(tmp)
            .get(accumulate)
            .call(MICRO)
          addTo(tiles, ir, mr)
          addTo(tiles, aStrip, aStripBytes)
          addTo(tiles, cTile, tileRowsBytes)
          tiles.br(0)
        }),
      )
      addTo(columns, jr, nr)
      addTo(columns, bStrip, bStripBytes)
      addTo(columns, cColumn, FLOAT_BYTES * nr)
      columns.br(0)
    }),
  )
  return f
}

/** The 16 byte indices of an i8x16.shuffle that picks four 32-bit lanes (0–3 first operand, 4–7 second). */
const lanes32 = (...picks: number[]): number[] =>
  picks.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])

/**
 * pack(src, outerStep, depthStep, count, kc, dst): packs `count` lines (rows of A or columns of B)
 * of `kc` elements each, line `l` element `p` at `src + l·outerStep + p·depthStep`, into strips of
 * `width` lines, depth-major, zero-padding the last strip. A full strip is copied a vector (or, for
 * a width of 2, 8 bytes) at a time when its lines are adjacent in memory (`outerStep` = 4 bytes),
 * and four lines by four depth steps at a time, transposed with shuffles, when each line is
 * contiguous along depth (`depthStep` = 4 bytes: B of a transposeB product, A of a plain one).
 * Scalar copies of these strips took a third of a small product's time (m = 32, n = 128, k = 64).
 * Only copies: the packed values, and so every product, are the same bits whichever path ran.
 */
const packKernel = (width: number): Code => {
  const f = new Code(['i32', 'i32', 'i32', 'i32', 'i32', 'i32'], [])
  const [src, outerStep, depthStep, count, kc, dst] = [0, 1, 2, 3, 4, 5].map((i) => f.param(i)) as [
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
  ] // why: the map above yields exactly six locals
  const line = f.local('i32')
  const lines = f.local('i32')
  const strip = f.local('i32')
  const stripSrc = f.local('i32')
  const l = f.local('i32')
  const from = f.local('i32')
  const to = f.local('i32')
  const p = f.local('i32')
  const stripBytes = f.local('i32')
  const stripSrcStep = f.local('i32')
  const at = f.local('i32')
  const r = Array.from({ length: 4 }, () => f.local('v128'))
  const u = Array.from({ length: 4 }, () => f.local('v128'))
  f.get(kc)
    .i32Const(FLOAT_BYTES * width)
    .i32Mul()
    .set(stripBytes)
  f.get(outerStep).i32Const(width).i32Mul().set(stripSrcStep)
  f.get(dst).set(strip)
  f.get(src).set(stripSrc)
  f.i32Const(0).set(line)
  f.block((exitStrips) =>
    exitStrips.loop((strips) => {
      strips.get(line).get(count).i32GeS().brIf(1)
      remainingCapped(strips, lines, count, line, width)
      const scalarCopy: Loop = (scalar) => {
        scalar.get(lines).i32Const(width).i32LtS()
        scalar.ifElse((pad) => {
          pad.get(strip).i32Const(0).get(stripBytes).memoryFill()
        })
        countUp(scalar, l, lines, (body) => {
          body.get(stripSrc).get(l).get(outerStep).i32Mul().i32Add().set(from)
          body.get(strip).get(l).i32Const(FLOAT_BYTES).i32Mul().i32Add().set(to)
          body.get(kc).set(p)
          body.loop((depth) => {
            depth.get(to).get(from).f32Load().f32Store()
            addTo(depth, from, depthStep)
            addTo(depth, to, FLOAT_BYTES * width)
            depth.get(p).i32Const(1).i32Sub().tee(p).brIf(0)
          })
        })
      }
      const vectorCopy: Loop = (whole) => {
        whole.get(stripSrc).set(from)
        whole.get(strip).set(to)
        whole.get(kc).set(p)
        whole.loop((depth) => {
          for (let v = 0; v < width / 4; v++) {
            depth
              .get(to)
              .get(from)
              .v128Load(16 * v)
              .v128Store(16 * v)
          }
          addTo(depth, from, depthStep)
          addTo(depth, to, FLOAT_BYTES * width)
          depth.get(p).i32Const(1).i32Sub().tee(p).brIf(0)
        })
      }
      // A full strip whose lines each run along depth (B stored n×k for transposeB, A stored m×k):
      // four depth steps of four lines at a time, loaded as vectors and transposed with shuffles.
      const transposeCopy: Loop = (whole) => {
        whole.get(stripSrc).set(from)
        whole.get(strip).set(to)
        whole.get(kc).set(p)
        whole.block((exit) =>
          exit.loop((quads) => {
            quads.get(p).i32Const(4).i32LtS().brIf(1)
            quads.get(from).set(at)
            if (width === 2) {
              quads.get(at).v128Load().set(r[0]!)
              quads.get(at).get(outerStep).i32Add().v128Load().set(r[1]!)
              quads
                .get(to)
                .get(r[0]!)
                .get(r[1]!)
                .i8x16Shuffle(lanes32(0, 4, 1, 5))
                .v128Store()
              quads
                .get(to)
                .get(r[0]!)
                .get(r[1]!)
                .i8x16Shuffle(lanes32(2, 6, 3, 7))
                .v128Store(16)
            } else {
              for (let g = 0; g < width / 4; g++) {
                for (let i = 0; i < 4; i++) {
                  quads.get(at).v128Load().set(r[i]!)
                  addTo(quads, at, outerStep)
                }
                quads
                  .get(r[0]!)
                  .get(r[1]!)
                  .i8x16Shuffle(lanes32(0, 4, 1, 5))
                  .set(u[0]!)
                quads
                  .get(r[2]!)
                  .get(r[3]!)
                  .i8x16Shuffle(lanes32(0, 4, 1, 5))
                  .set(u[1]!)
                quads
                  .get(r[0]!)
                  .get(r[1]!)
                  .i8x16Shuffle(lanes32(2, 6, 3, 7))
                  .set(u[2]!)
                quads
                  .get(r[2]!)
                  .get(r[3]!)
                  .i8x16Shuffle(lanes32(2, 6, 3, 7))
                  .set(u[3]!)
                for (let q = 0; q < 4; q++) {
                  const [x, y] = q < 2 ? [u[0]!, u[1]!] : [u[2]!, u[3]!]
                  const pick = q % 2 === 0 ? lanes32(0, 1, 4, 5) : lanes32(2, 3, 6, 7)
                  quads
                    .get(to)
                    .get(x)
                    .get(y)
                    .i8x16Shuffle(pick)
                    .v128Store(FLOAT_BYTES * (q * width + 4 * g))
                }
              }
            }
            addTo(quads, from, 4 * FLOAT_BYTES)
            addTo(quads, to, 4 * FLOAT_BYTES * width)
            quads.get(p).i32Const(4).i32Sub().set(p)
            quads.br(0)
          }),
        )
        // The last kc mod 4 depth steps, one element at a time.
        whole.block((exit) =>
          exit.loop((tail) => {
            tail.get(p).i32Eqz().brIf(1)
            tail.get(from).set(at)
            for (let l = 0; l < width; l++) {
              tail
                .get(to)
                .get(at)
                .f32Load()
                .f32Store(FLOAT_BYTES * l)
              if (l + 1 < width) addTo(tail, at, outerStep)
            }
            addTo(tail, from, FLOAT_BYTES)
            addTo(tail, to, FLOAT_BYTES * width)
            tail.get(p).i32Const(1).i32Sub().set(p)
            tail.br(0)
          }),
        )
      }
      // A full strip of two adjacent lines (A stored k×m for transposeA): 8 bytes per depth step.
      const pairCopy: Loop = (whole) => {
        whole.get(stripSrc).set(from)
        whole.get(strip).set(to)
        whole.get(kc).set(p)
        whole.loop((depth) => {
          depth.get(to).get(from).v128Load64Zero().v128Store64Lane0()
          addTo(depth, from, depthStep)
          addTo(depth, to, FLOAT_BYTES * width)
          depth.get(p).i32Const(1).i32Sub().tee(p).brIf(0)
        })
      }
      const adjacentCopy = width % 4 === 0 ? vectorCopy : width === 2 ? pairCopy : undefined
      if (adjacentCopy !== undefined) {
        strips.get(lines).i32Const(width).i32Eq().get(outerStep).i32Const(FLOAT_BYTES).i32Eq().i32And()
        strips.ifElse(adjacentCopy, (other) => {
          other.get(lines).i32Const(width).i32Eq().get(depthStep).i32Const(FLOAT_BYTES).i32Eq().i32And()
          other.ifElse(transposeCopy, scalarCopy)
        })
      } else {
        scalarCopy(strips)
      }
      addTo(strips, line, width)
      addTo(strips, strip, stripBytes)
      addTo(strips, stripSrc, stripSrcStep)
      strips.br(0)
    }),
  )
  return f
}

/**
 * The module's bytes for a tile shape; exports `memory`, `micro`, `macro`, `packA`, `packB`, `im2col`,
 * `col2im`, `relu`, `addRows`.
 */
export const gemmModuleBytes = (tile: TileShape): Uint8Array<ArrayBuffer> =>
  encodeModule(
    [
      { name: 'micro', code: microKernel(tile) },
      { name: 'macro', code: macroKernel(tile) },
      { name: 'packA', code: packKernel(tile.rows) },
      { name: 'packB', code: packKernel(4 * tile.vectors) },
      { name: 'im2col', code: patchKernel(false) },
      { name: 'col2im', code: patchKernel(true) },
      { name: 'relu', code: reluKernel() },
      { name: 'addRows', code: addRowsKernel() },
    ],
    1,
  )

/** A module that uses one SIMD instruction: it validates exactly when the engine has 128-bit SIMD. */
export const simdProbeBytes = (): Uint8Array<ArrayBuffer> => {
  const f = new Code([], ['v128'])
  f.f32Const(0).f32x4Splat()
  return encodeModule([{ name: undefined, code: f }], 0)
}

/**
 * Convolution patches, for `im2col` (`scatter` false: col[(c,p,q), (oh,ow)] = image pixel) and its
 * adjoint `col2im` (`scatter` true: image pixel += col entry). Arguments (all i32, pointers in bytes):
 * image, col, channels, inH, inW, kernelH, kernelW, outH, outW, strideH, strideW, padTop, padLeft,
 * dilationH, dilationW. Only in-bounds taps are visited: im2col leaves the padding entries of col as
 * they were (the caller zero-fills col once), col2im never reads them.
 */
const patchKernel = (scatter: boolean): Code => {
  const f = new Code(new Array<'i32'>(15).fill('i32'), [])
  const [
    image,
    col,
    channels,
    inH,
    inW,
    kernelH,
    kernelW,
    outH,
    outW,
    strideH,
    strideW,
    padTop,
    padLeft,
    dilationH,
    dilationW,
  ] = Array.from({ length: 15 }, (_, i) => f.param(i)) as [
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
  ] // why: fifteen parameters, fifteen locals
  const local = (): Local => f.local('i32')
  const [c, p, q, oh, plane, colRow, shiftH, shiftW, ohStart, ohEnd, owStart, owEnd] = Array.from(
    { length: 12 },
    local,
  ) as [Local, Local, Local, Local, Local, Local, Local, Local, Local, Local, Local, Local] // why: twelve fresh locals
  const [from, to, count, planeBytes, positionBytes, stepBytes] = Array.from({ length: 6 }, local) as [
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
  ] // why: six fresh locals
  // Pushes min/max of the two i32 on the stack (through a scratch pair).
  const [left, right] = [local(), local()]
  const minMax = (code: Code, takeMin: boolean): void => {
    code.set(right).set(left)
    code.get(left).get(right).get(left).get(right)
    if (takeMin) code.i32LtS()
    else code.i32GtS()
    code.select()
  }
  /** Pushes min(size, max(0, ⌈numerator / stride⌉)) for the numerator already computed into `left`. */
  const clampedCeil = (code: Code, numerator: (c: Code) => void, stride: Local, size: Local): void => {
    numerator(code)
    code.get(stride).i32Add().i32Const(1).i32Sub().get(stride).i32DivS()
    code.i32Const(0)
    minMax(code, false)
    code.get(size)
    minMax(code, true)
  }
  /** First and one-past-last output index whose tap `shift + o·stride` lands inside [0, inSize). */
  const range = (
    code: Code,
    shift: Local,
    stride: Local,
    inSize: Local,
    outSize: Local,
    start: Local,
    end: Local,
  ) => {
    clampedCeil(code, (n) => n.i32Const(0).get(shift).i32Sub(), stride, outSize)
    code.set(start)
    clampedCeil(code, (n) => n.get(inSize).get(shift).i32Sub(), stride, outSize)
    code.get(start)
    minMax(code, false)
    code.set(end)
  }
  f.get(inH).get(inW).i32Mul().i32Const(FLOAT_BYTES).i32Mul().set(planeBytes)
  f.get(outH).get(outW).i32Mul().i32Const(FLOAT_BYTES).i32Mul().set(positionBytes)
  f.get(strideW).i32Const(FLOAT_BYTES).i32Mul().set(stepBytes)
  f.get(image).set(plane)
  f.get(col).set(colRow)
  countUp(f, c, channels, (channelBody) => {
    countUp(channelBody, p, kernelH, (rowBody) => {
      rowBody.get(p).get(dilationH).i32Mul().get(padTop).i32Sub().set(shiftH)
      range(rowBody, shiftH, strideH, inH, outH, ohStart, ohEnd)
      countUp(rowBody, q, kernelW, (tapBody) => {
        tapBody.get(q).get(dilationW).i32Mul().get(padLeft).i32Sub().set(shiftW)
        range(tapBody, shiftW, strideW, inW, outW, owStart, owEnd)
        tapBody.get(ohStart).set(oh)
        tapBody.block((exit) =>
          exit.loop((rows) => {
            rows.get(oh).get(ohEnd).i32GeS().brIf(1)
            // from: the image pixel of (oh, owStart); to: the col entry of (oh, owStart).
            rows.get(plane)
            rows.get(oh).get(strideH).i32Mul().get(shiftH).i32Add().get(inW).i32Mul()
            rows.get(owStart).get(strideW).i32Mul().i32Add().get(shiftW).i32Add()
            rows.i32Const(2).i32Shl().i32Add().set(from)
            rows
              .get(colRow)
              .get(oh)
              .get(outW)
              .i32Mul()
              .get(owStart)
              .i32Add()
              .i32Const(2)
              .i32Shl()
              .i32Add()
              .set(to)
            rows.get(owEnd).get(owStart).i32Sub().set(count)
            // Unit stride: four pixels per v128 while they last.
            rows.get(strideW).i32Const(1).i32Eq()
            rows.ifElse((unit) =>
              unit.block((done) =>
                done.loop((quads) => {
                  quads.get(count).i32Const(4).i32LtS().brIf(1)
                  if (scatter) quads.get(from).get(from).v128Load().get(to).v128Load().f32x4Add().v128Store()
                  else quads.get(to).get(from).v128Load().v128Store()
                  addTo(quads, from, 16)
                  addTo(quads, to, 16)
                  quads.get(count).i32Const(4).i32Sub().set(count)
                  quads.br(0)
                }),
              ),
            )
            rows.block((done) =>
              done.loop((singles) => {
                singles.get(count).i32Const(0).i32LeS().brIf(1)
                if (scatter) singles.get(from).get(from).f32Load().get(to).f32Load().f32Add().f32Store()
                else singles.get(to).get(from).f32Load().f32Store()
                addTo(singles, from, stepBytes)
                addTo(singles, to, FLOAT_BYTES)
                singles.get(count).i32Const(1).i32Sub().set(count)
                singles.br(0)
              }),
            )
            addTo(rows, oh, 1)
            rows.br(0)
          }),
        )
        addTo(tapBody, colRow, positionBytes)
      })
    })
    addTo(channelBody, plane, planeBytes)
  })
  return f
}

/**
 * relu(at, count): in place, x = max(x, 0) on `count` floats. f32x4.max and f32.max give NaN for
 * NaN and +0 for -0, exactly as the reference's `Math.max(x, 0)`.
 */
const reluKernel = (): Code => {
  const f = new Code(['i32', 'i32'], [])
  const at = f.param(0)
  const count = f.param(1)
  f.block((done) =>
    done.loop((quads) => {
      quads.get(count).i32Const(4).i32LtS().brIf(1)
      quads.get(at).get(at).v128Load().v128Zero().f32x4Max().v128Store()
      addTo(quads, at, 16)
      quads.get(count).i32Const(4).i32Sub().set(count)
      quads.br(0)
    }),
  )
  f.block((done) =>
    done.loop((singles) => {
      singles.get(count).i32Const(0).i32LeS().brIf(1)
      singles.get(at).get(at).f32Load().f32Const(0).f32Max().f32Store()
      addTo(singles, at, FLOAT_BYTES)
      singles.get(count).i32Const(1).i32Sub().set(count)
      singles.br(0)
    }),
  )
  return f
}

/**
 * addRows(c, bias, rows, cols): in place, every row of the rows × cols matrix at `c` (contiguous)
 * plus the `cols` floats at `bias`: the bias of a dense layer, added while its product is still in
 * wasm memory. f32 addition, as the reference's (float64 sum of two float32s, rounded once, is the
 * same number).
 */
const addRowsKernel = (): Code => {
  const f = new Code(['i32', 'i32', 'i32', 'i32'], [])
  const [c, bias, rows, cols] = [0, 1, 2, 3].map((i) => f.param(i)) as [Local, Local, Local, Local] // why: four params
  const j = f.local('i32')
  const b = f.local('i32')
  f.block((done) =>
    done.loop((row) => {
      row.get(rows).i32Eqz().brIf(1)
      row.i32Const(0).set(j)
      row.get(bias).set(b)
      row.block((quadsDone) =>
        quadsDone.loop((quads) => {
          quads.get(j).i32Const(4).i32Add().get(cols).i32GtS().brIf(1)
          quads.get(c).get(c).v128Load().get(b).v128Load().f32x4Add().v128Store()
          addTo(quads, c, 16)
          addTo(quads, b, 16)
          addTo(quads, j, 4)
          quads.br(0)
        }),
      )
      row.block((singlesDone) =>
        singlesDone.loop((singles) => {
          singles.get(j).get(cols).i32GeS().brIf(1)
          singles.get(c).get(c).f32Load().get(b).f32Load().f32Add().f32Store()
          addTo(singles, c, FLOAT_BYTES)
          addTo(singles, b, FLOAT_BYTES)
          addTo(singles, j, 1)
          singles.br(0)
        }),
      )
      row.get(rows).i32Const(1).i32Sub().set(rows)
      row.br(0)
    }),
  )
  return f
}
