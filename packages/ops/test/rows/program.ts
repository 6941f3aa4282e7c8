import type { ElementwiseProgram, ReductionProgram, Tensor } from '@backfold/tensor'
import { elementwiseProgram } from '../../src/elementwise/elementwiseProgram'
import { reductionProgram } from '../../src/reduce/reductionProgram'
import { anywhere, positive } from './domains'
import type { GradRow } from './types'

// Gradient rows of `elementwiseProgram`, the op jit's fusion pass emits: a chain, broadcasting with
// constants, a value read twice, and an input the program ignores (its cotangent is zero).

const row = (label: string, domain: string, program: ElementwiseProgram, args: () => Tensor[]): GradRow => ({
  op: 'elementwiseProgram',
  label,
  domain,
  fn: (...xs) => elementwiseProgram(program, xs),
  args,
  secondOrder: true,
})

export const programRows: GradRow[] = [
  row(
    'chain exp(tanh x) · x',
    'anywhere',
    {
      arity: 1,
      instructions: [
        { kind: 'unary', op: 'tanh', x: 0 },
        { kind: 'unary', op: 'exp', x: 1 },
        { kind: 'binary', op: 'mul', a: 2, b: 0 },
      ],
    },
    () => [anywhere(901, [2, 3])],
  ),
  row(
    'broadcast [2,3] and [3] with constants: sigmoid(a) / b - 0.5, then squared',
    'a anywhere, b positive',
    {
      arity: 2,
      instructions: [
        { kind: 'unary', op: 'sigmoid', x: 0 }, // 2
        { kind: 'binary', op: 'div', a: 2, b: 1 }, // 3
        { kind: 'constant', value: 0.5 }, // 4
        { kind: 'binary', op: 'sub', a: 3, b: 4 }, // 5
        { kind: 'unary', op: 'square', x: 5 }, // 6
      ],
    },
    () => [anywhere(902, [2, 3]), positive(903, [3])],
  ),
  row(
    'a value read twice: x · x + sin x, and pow of a positive base',
    'positive',
    {
      arity: 2,
      instructions: [
        { kind: 'binary', op: 'mul', a: 0, b: 0 }, // 2
        { kind: 'unary', op: 'sin', x: 0 }, // 3
        { kind: 'binary', op: 'add', a: 2, b: 3 }, // 4
        { kind: 'binary', op: 'pow', a: 4, b: 1 }, // 5
      ],
    },
    () => [positive(904, [3]), positive(905, [3])],
  ),
  row(
    'an ignored input: log1p(a) with b unused',
    'positive',
    { arity: 2, instructions: [{ kind: 'unary', op: 'log1p', x: 0 }] },
    () => [positive(906, [2, 2]), positive(907, [2, 2])],
  ),
]

// Gradient rows of `reductionProgram`: softmax (max and sum), layer norm with gain and bias rows
// (mean), a per-row result without the reduced axis, and min with a per-row input.

const reductionRow = (
  label: string,
  domain: string,
  program: ReductionProgram,
  args: () => Tensor[],
  shape?: ReadonlyArray<number>,
): GradRow => ({
  op: 'reductionProgram',
  label,
  domain,
  fn: (...xs) => reductionProgram(program, xs, shape),
  args,
  secondOrder: true,
})

export const reductionProgramRows: GradRow[] = [
  reductionRow(
    'softmax of rows [3,4] (max, sub, exp, sum, div)',
    'anywhere (distinct values per row: max has one winner)',
    {
      arity: 1,
      instructions: [
        { kind: 'reduce', op: 'max', x: 0 }, // 1
        { kind: 'binary', op: 'sub', a: 0, b: 1 }, // 2
        { kind: 'unary', op: 'exp', x: 2 }, // 3
        { kind: 'reduce', op: 'sum', x: 3 }, // 4
        { kind: 'binary', op: 'div', a: 3, b: 4 }, // 5
      ],
    },
    () => [anywhere(911, [3, 4])],
  ),
  reductionRow(
    'layer norm of rows [2,5] with gain [5] and bias [1,5]',
    'x anywhere, gain and bias anywhere',
    {
      arity: 3,
      instructions: [
        { kind: 'constant', value: 1e-3 }, // 3
        { kind: 'reduce', op: 'mean', x: 0 }, // 4
        { kind: 'binary', op: 'sub', a: 0, b: 4 }, // 5
        { kind: 'unary', op: 'square', x: 5 }, // 6
        { kind: 'reduce', op: 'mean', x: 6 }, // 7
        { kind: 'binary', op: 'add', a: 7, b: 3 }, // 8
        { kind: 'unary', op: 'rsqrt', x: 8 }, // 9
        { kind: 'binary', op: 'mul', a: 5, b: 9 }, // 10
        { kind: 'binary', op: 'mul', a: 10, b: 1 }, // 11
        { kind: 'binary', op: 'add', a: 11, b: 2 }, // 12
      ],
    },
    () => [anywhere(912, [2, 5]), anywhere(913, [5]), anywhere(914, [1, 5])],
  ),
  reductionRow(
    'per-row log-sum-exp squeezed to [3], and min against a per-row input [3,1]',
    'anywhere (distinct values per row: min has one winner)',
    {
      arity: 2,
      instructions: [
        { kind: 'unary', op: 'exp', x: 0 }, // 2
        { kind: 'reduce', op: 'sum', x: 2 }, // 3
        { kind: 'unary', op: 'log', x: 3 }, // 4
        { kind: 'binary', op: 'mul', a: 0, b: 1 }, // 5
        { kind: 'reduce', op: 'min', x: 5 }, // 6
        { kind: 'binary', op: 'add', a: 4, b: 6 }, // 7
      ],
    },
    () => [anywhere(915, [3, 4]), anywhere(916, [3, 1])],
    [3],
  ),
]
