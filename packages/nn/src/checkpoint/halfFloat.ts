/**
 * IEEE 754 binary16 (`F16`) and bfloat16 (`BF16`) as stored in safetensors files, converted to and
 * from float32/float64 by bit manipulation. Reading is exact (every F16 and BF16 value is a float32);
 * writing rounds to nearest, ties to even, directly from the float64 value (no double rounding).
 * @since 0.2.0
 */

/** A 16-bit float format: its name in safetensors, exponent bias and mantissa width. */
export interface HalfFormat {
  readonly code: 'F16' | 'BF16'
  readonly exponentBits: number
  readonly mantissaBits: number
}

/** IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits; largest finite 65504. @since 0.2.0 */
export const F16: HalfFormat = { code: 'F16', exponentBits: 5, mantissaBits: 10 }
/** bfloat16: the upper half of a float32 (1 sign, 8 exponent, 7 mantissa bits). @since 0.2.0 */
export const BF16: HalfFormat = { code: 'BF16', exponentBits: 8, mantissaBits: 7 }

/** The float32 bit pattern of the F16 value with bits `h` (exact; NaN payloads kept). @since 0.2.0 */
export const f16BitsToF32Bits = (h: number): number => {
  const sign = (h & 0x8000) << 16
  const exponent = (h >> 10) & 0x1f
  let mantissa = h & 0x3ff
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0
  if (exponent !== 0) return (sign | ((exponent + 127 - 15) << 23) | (mantissa << 13)) >>> 0
  if (mantissa === 0) return sign >>> 0
  // A subnormal m · 2^-24 is a normal float32: shift the leading one up to bit 10, one exponent step each.
  let biased = 127 - 15 + 1
  while ((mantissa & 0x400) === 0) {
    mantissa <<= 1
    biased--
  }
  return (sign | (biased << 23) | ((mantissa & 0x3ff) << 13)) >>> 0
}

/** The float32 bit pattern of the BF16 value with bits `b`: its upper half. @since 0.2.0 */
export const bf16BitsToF32Bits = (b: number): number => (b << 16) >>> 0

const roundHalfToEven = (v: number): number => {
  const floor = Math.floor(v)
  const fraction = v - floor
  return fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1) ? floor + 1 : floor
}

/**
 * The bits of `x` in `format`, rounded to nearest, ties to even; `undefined` when a finite `x`
 * rounds past the largest finite value (the caller decides between refusing and infinity).
 * NaN becomes the canonical quiet NaN; ±0 and ±Infinity keep their sign.
 * @since 0.2.0
 */
export const toHalfBits = (x: number, format: HalfFormat): number | undefined => {
  const { exponentBits, mantissaBits } = format
  const signBit = 1 << (exponentBits + mantissaBits)
  const allOnes = (1 << exponentBits) - 1
  const bias = (1 << (exponentBits - 1)) - 1
  if (Number.isNaN(x)) return (allOnes << mantissaBits) | (1 << (mantissaBits - 1))
  const sign = x < 0 || Object.is(x, -0) ? signBit : 0
  const a = Math.abs(x)
  if (a === Infinity) return sign | (allOnes << mantissaBits)
  if (a === 0) return sign
  const minNormalExponent = 1 - bias
  let exponent = Math.floor(Math.log2(a))
  // log2 may be off by one next to a power of two; the comparisons are exact.
  if (2 ** exponent > a) exponent--
  else if (2 ** (exponent + 1) <= a) exponent++
  if (exponent < minNormalExponent) {
    // Subnormal: a multiple of 2^(minNormalExponent - mantissaBits); scaling by a power of two is exact.
    // Rounding up to 2^mantissaBits gives the smallest normal, whose bits are exactly that integer.
    return sign | roundHalfToEven(a * 2 ** (mantissaBits - minNormalExponent))
  }
  if (exponent + bias >= allOnes) return undefined
  let significand = roundHalfToEven(a * 2 ** (mantissaBits - exponent))
  if (significand === 2 ** (mantissaBits + 1)) {
    significand = 2 ** mantissaBits
    exponent++
    if (exponent + bias >= allOnes) return undefined
  }
  return sign | ((exponent + bias) << mantissaBits) | (significand - 2 ** mantissaBits)
}

/** The largest finite value of `format` (65504 for F16, about 3.39e38 for BF16). @since 0.2.0 */
export const largestFinite = (format: HalfFormat): number => {
  const bias = (1 << (format.exponentBits - 1)) - 1
  return (2 - 2 ** -format.mantissaBits) * 2 ** bias
}
