/**
 * The web example's drawing-to-8x8 step (examples/web/digitize.mjs), against values worked out by
 * hand from its definition: ink's bounding box scaled to the full height (or width), centre of mass
 * moved to the middle column, each cell 16 x its mean ink.
 */
import { describe, expect, it } from 'vitest'
import { digitize, render } from '../examples/web/digitize.mjs'

// A "0" symmetric about the middle column (its centre of mass is at 4 cells), spanning all 8 rows.
// prettier-ignore
const ZERO = [
  0, 0, 5, 13, 13, 5, 0, 0,
  0, 3, 15, 10, 10, 15, 3, 0,
  0, 8, 12, 0, 0, 12, 8, 0,
  0, 10, 8, 0, 0, 8, 10, 0,
  0, 10, 8, 0, 0, 8, 10, 0,
  0, 8, 12, 0, 0, 12, 8, 0,
  0, 3, 15, 10, 10, 15, 3, 0,
  0, 0, 5, 13, 13, 5, 0, 0,
]

/** `values` rendered with `cell` pixels per cell at (x0, y0) of an empty width x height canvas. */
const placed = (values: number[], cell: number, x0: number, y0: number, width: number, height: number) => {
  const small = render(values, cell)
  const side = 8 * cell
  const ink = new Float32Array(width * height)
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) ink[(y0 + y) * width + x0 + x] = small[y * side + x]!
  return ink
}

describe('digitize (web example)', () => {
  it('reads an image drawn at full size back to its values', () => {
    expect(digitize(render(ZERO, 32), 256, 256)).toEqual(ZERO)
  })

  it('does not depend on where or how large the digit is drawn', () => {
    expect(digitize(placed(ZERO, 12, 30, 50, 256, 256), 256, 256)).toEqual(ZERO)
    expect(digitize(placed(ZERO, 5, 200, 3, 256, 256), 256, 256)).toEqual(ZERO)
  })

  it('moves the centre of mass to the middle column', () => {
    // one column of ink at the canvas's left edge: a "1" drawn far left becomes a centred bar
    const ink = new Float32Array(256 * 256)
    for (let y = 20; y < 220; y++) for (let x = 0; x < 25; x++) ink[y * 256 + x] = 1
    // bounding box 25 x 200 px -> scale 8/200 cells per px, width 1 cell, centred: columns 3.5..4.5,
    // so columns 3 and 4 each get half a cell of ink in every row: 8
    const expected = Array.from({ length: 64 }, (_, i) => (i % 8 === 3 || i % 8 === 4 ? 8 : 0))
    expect(digitize(ink, 256, 256)).toEqual(expected)
  })

  it('centres the mass, not the bounding box', () => {
    // a "1" with a foot: a bar 25 x 200 px and a foot 50 x 25 px to its right at the bottom. Mass
    // 5000 at x = 12.5 and 1250 at x = 50: centre of mass 20 px from the box's left. Scale 8/200 =
    // 0.04 cells per px, so the box's left goes to 4 - 0.8 = 3.2 cells: the bar covers 3.2..4.2 in
    // every row (column 3: 0.8 of a cell, 16 x 0.8 = 12.8 -> 13; column 4: 0.2, 3.2 -> 3), the foot
    // 4.2..6.2 in row 7 (column 4 then full: 16, column 5: 16, column 6: 0.2 -> 3). Centring the box
    // (75 px wide) would put its left at 2.5 cells instead.
    const ink = new Float32Array(256 * 256)
    for (let y = 20; y < 220; y++) for (let x = 0; x < 25; x++) ink[y * 256 + x] = 1
    for (let y = 195; y < 220; y++) for (let x = 25; x < 75; x++) ink[y * 256 + x] = 1
    const row = [0, 0, 0, 13, 3, 0, 0, 0]
    const lastRow = [0, 0, 0, 13, 16, 16, 3, 0]
    expect(digitize(ink, 256, 256)).toEqual([...Array.from({ length: 7 }, () => row).flat(), ...lastRow])
  })

  it('scales a wide mark to the full width', () => {
    // a bar 200 x 20 px: scale 8/200, height 0.8 cells centred on rows 3.6..4.4: rows 3 and 4 get
    // 0.4 of a cell of ink, 16 x 0.4 = 6.4 -> 6
    const ink = new Float32Array(256 * 256)
    for (let y = 100; y < 120; y++) for (let x = 10; x < 210; x++) ink[y * 256 + x] = 1
    const expected = Array.from({ length: 64 }, (_, i) => (i >= 24 && i < 40 ? 6 : 0))
    expect(digitize(ink, 256, 256)).toEqual(expected)
  })

  it('gives undefined for an empty drawing, and ignores faint ink (at most 0.05)', () => {
    expect(digitize(new Float32Array(64 * 64), 64, 64)).toBeUndefined()
    expect(digitize(new Float32Array(64 * 64).fill(0.04), 64, 64)).toBeUndefined()
  })
})
