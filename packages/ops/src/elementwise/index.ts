// The elementwise (unary) ops: one file per op, each pairing its forward kernel with its VJP.
import { neg, negOp } from './neg'
import { abs, absOp } from './abs'
import { sign, signOp } from './sign'
import { exp, expOp } from './exp'
import { expm1, expm1Op } from './expm1'
import { log, logOp } from './log'
import { log1p, log1pOp } from './log1p'
import { sqrt, sqrtOp } from './sqrt'
import { rsqrt, rsqrtOp } from './rsqrt'
import { square, squareOp } from './square'
import { reciprocal, reciprocalOp } from './reciprocal'
import { sin, sinOp } from './sin'
import { cos, cosOp } from './cos'
import { tanh, tanhOp } from './tanh'
import { sigmoid, sigmoidOp } from './sigmoid'
import { relu, reluOp } from './relu'
import { reluGrad, reluGradOp } from './reluGrad'
import { softplus, softplusOp } from './softplus'
import { floor, floorOp } from './floor'
import { ceil, ceilOp } from './ceil'
import { round, roundOp } from './round'
import { erf, erfOp } from './erf'
import { astype, astypeOp } from './astype'
import { stopGradient, stopGradientOp } from './stopGradient'
import { elementwiseProgramOp } from './elementwiseProgram'
import { tan, tanOp } from './tan'
import { asin, asinOp } from './asin'
import { acos, acosOp } from './acos'
import { atan, atanOp } from './atan'
import { sinh, sinhOp } from './sinh'
import { cosh, coshOp } from './cosh'
import { isnan, isnanOp } from './isnan'
import { isfinite, isfiniteOp } from './isfinite'

export {
  neg,
  negOp,
  abs,
  absOp,
  sign,
  signOp,
  exp,
  expOp,
  expm1,
  expm1Op,
  log,
  logOp,
  log1p,
  log1pOp,
  sqrt,
  sqrtOp,
  rsqrt,
  rsqrtOp,
  square,
  squareOp,
  reciprocal,
  reciprocalOp,
  sin,
  sinOp,
  cos,
  cosOp,
  tanh,
  tanhOp,
  sigmoid,
  sigmoidOp,
  relu,
  reluOp,
  reluGrad,
  reluGradOp,
  softplus,
  softplusOp,
  floor,
  floorOp,
  ceil,
  ceilOp,
  round,
  roundOp,
  erf,
  erfOp,
  astype,
  astypeOp,
  stopGradient,
  stopGradientOp,
  tan,
  tanOp,
  asin,
  asinOp,
  acos,
  acosOp,
  atan,
  atanOp,
  sinh,
  sinhOp,
  cosh,
  coshOp,
  isnan,
  isnanOp,
  isfinite,
  isfiniteOp,
}
export type { AstypeParams } from './astype'
export { elementwiseProgram, elementwiseProgramOp, type ElementwiseProgramParams } from './elementwiseProgram'

/** Every elementwise op by name (the keys equal each op's `name`), each also listed in the registry. @since 0.1.0 */
export const elementwiseOps = {
  neg: negOp,
  abs: absOp,
  sign: signOp,
  exp: expOp,
  expm1: expm1Op,
  log: logOp,
  log1p: log1pOp,
  sqrt: sqrtOp,
  rsqrt: rsqrtOp,
  square: squareOp,
  reciprocal: reciprocalOp,
  sin: sinOp,
  cos: cosOp,
  tanh: tanhOp,
  sigmoid: sigmoidOp,
  relu: reluOp,
  reluGrad: reluGradOp,
  softplus: softplusOp,
  floor: floorOp,
  ceil: ceilOp,
  round: roundOp,
  erf: erfOp,
  astype: astypeOp,
  stopGradient: stopGradientOp,
  elementwiseProgram: elementwiseProgramOp,
  tan: tanOp,
  asin: asinOp,
  acos: acosOp,
  atan: atanOp,
  sinh: sinhOp,
  cosh: coshOp,
  isnan: isnanOp,
  isfinite: isfiniteOp,
} as const
