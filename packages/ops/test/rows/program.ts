import type { ElementwiseProgram, Tensor } from '@backfold/tensor'
import { elementwiseProgram } from '../../src/elementwise/elementwiseProgram'
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
