// High-precision erf of a double by BigInt fixed point (independent of both implementations).
const BITS = 600n
const ONE = 1n << BITS
const atanInv = (n) => { // atan(1/n) fixed
  let sum = 0n, term = ONE / BigInt(n), k = 0n, n2 = BigInt(n * n)
  while (term !== 0n) { sum += (k % 2n === 0n ? 1n : -1n) * term / (2n * k + 1n); term /= n2; k++ }
  return sum
}
const PI = 4n * (4n * atanInv(5) - atanInv(239))
const isqrt = (v) => { let x = BigInt(Math.floor(Math.sqrt(Number(v >> (BITS * 2n - 100n))))) << (BITS - 50n); for (let i = 0; i < 100; i++) { const y = (x + v / x) >> 1n; if (y === x) break; x = y } return x }
const SQRTPI = isqrt(PI * ONE)
const toFixed = (x) => { // exact double → fixed
  const buf = new DataView(new ArrayBuffer(8)); buf.setFloat64(0, x)
  const bits = buf.getBigUint64(0); const exp = Number((bits >> 52n) & 0x7ffn); let mant = bits & ((1n << 52n) - 1n)
  let e = exp - 1075; if (exp === 0) e = -1074; else mant |= 1n << 52n
  let v = e >= 0 ? (mant << BigInt(e)) << BITS : (mant << BITS) >> BigInt(-e)
  return x < 0 ? -v : v
}
export const erfHigh = (x) => {
  if (x === 0 || !Number.isFinite(x)) return Number.isNaN(x) ? NaN : x === 0 ? x : Math.sign(x)
  const X = toFixed(x), X2 = X * X >> BITS
  let term = X, sum = 0n, n = 0n
  while (term !== 0n) { sum += term / (2n * n + 1n); n++; term = -(term * X2 >> BITS) / n }
  const r = 2n * sum * ONE / SQRTPI
  // to double: scale
  const neg = r < 0n; const a = neg ? -r : r
  const val = Number(a >> (BITS - 200n)) / 2 ** 200
  return neg ? -val : val
}
