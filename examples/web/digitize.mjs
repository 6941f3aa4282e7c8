// From a drawing to the digits data's 8x8 format. The data set (data/digits/README.md) was made from
// 32x32 bitmaps of handwritten digits, size-normalised, whose 4x4 blocks were counted: 8x8 values
// 0..16, and every image's ink spans all 8 rows. So a drawing is scaled until its ink's bounding box
// fills the height (or the width, for a wide mark), placed with its centre of mass in the middle
// column (the data's centres of mass lie at 4.07 ± 0.30 cells from the left; centring the bounding
// box instead moves narrow digits by half a cell, and costs a trained MLP 5 points of accuracy on
// the test images drawn this way), and each cell's value is 16 x its mean ink. Pure functions on
// arrays, no DOM: the page calls them on a canvas's alpha channel.

/** Cells per side of the data's images. */
export const CELLS = 8

/** Ink at or below this level (of 1) is background when the bounding box is found. */
const INK_THRESHOLD = 0.05

/** Samples per cell side: each cell's mean is taken over 16 x 16 points of the drawing. */
const SAMPLES = 16

/**
 * The drawing as the data's 64 values (row-major, integers 0..16), or undefined when it holds no
 * ink. `ink` holds width x height values in [0, 1] (a canvas's alpha / 255), row-major.
 * @param {ArrayLike<number>} ink
 * @param {number} width
 * @param {number} height
 * @returns {number[] | undefined}
 */
export const digitize = (ink, width, height) => {
  let top = height
  let bottom = -1
  let left = width
  let right = -1
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > INK_THRESHOLD) {
        if (y < top) top = y
        if (y > bottom) bottom = y
        if (x < left) left = x
        if (x > right) right = x
      }
    }
  }
  if (bottom < 0) return undefined
  const boxHeight = bottom - top + 1
  const boxWidth = right - left + 1
  // cells per source pixel: the box's longer side (relative to the 8x8 square) fills the square
  const scale = Math.min(CELLS / boxHeight, CELLS / boxWidth)
  let mass = 0
  let moment = 0
  for (let y = top; y <= bottom; y++) {
    for (let x = left; x <= right; x++) {
      mass += ink[y * width + x]
      moment += ink[y * width + x] * (x + 0.5)
    }
  }
  const offsetX = CELLS / 2 - (moment / mass - left) * scale
  const offsetY = (CELLS - boxHeight * scale) / 2
  /** The ink at a point of the 8x8 square, read from the source pixel it falls in. */
  const inkAt = (u, v) => {
    const x = Math.floor(left + (u - offsetX) / scale)
    const y = Math.floor(top + (v - offsetY) / scale)
    return x < left || x > right || y < top || y > bottom ? 0 : ink[y * width + x]
  }
  const values = []
  for (let row = 0; row < CELLS; row++) {
    for (let column = 0; column < CELLS; column++) {
      let sum = 0
      for (let i = 0; i < SAMPLES; i++) {
        for (let j = 0; j < SAMPLES; j++) {
          sum += inkAt(column + (j + 0.5) / SAMPLES, row + (i + 0.5) / SAMPLES)
        }
      }
      values.push(Math.round((16 * sum) / (SAMPLES * SAMPLES)))
    }
  }
  return values
}

/**
 * An 8x8 image (64 values 0..16) drawn as ink: each cell a uniform square of `cell` pixels whose
 * ink is value / 16, as the browser test paints test images onto the pad. `digitize` reads it back
 * exactly when the image's centre of mass is in the middle column.
 * @param {ArrayLike<number>} values
 * @param {number} cell
 * @returns {Float32Array}
 */
export const render = (values, cell) => {
  const side = CELLS * cell
  const ink = new Float32Array(side * side)
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      ink[y * side + x] = values[Math.floor(y / cell) * CELLS + Math.floor(x / cell)] / 16
    }
  }
  return ink
}
