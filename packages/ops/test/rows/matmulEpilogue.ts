import type { ElementwiseProgram, Tensor } from '@backfold/tensor'
import { matmulEpilogue } from '../../src/linalg/matmulEpilogue'
import { anywhere, awayFromZero } from './domains'
import type { GradRow } from './types'

// Gradient rows of `matmulEpilogue`, the op jit's epilogue pass emits: a dense layer (bias row and
// an activation), a residual add with a scalar, transposed operands with a batch axis, and a product
// read twice by its program.

const row = (
  label: string,
  domain: string,
  program: ElementwiseProgram,
  opts: { readonly transposeA?: boolean; readonly transposeB?: boolean },
  args: () => Tensor[],
): GradRow => ({
  op: 'matmulEpilogue',
  label,
  domain,
  fn: (a, b, ...extras) => matmulEpilogue(a!, b!, program, extras, opts),
  args,
  secondOrder: true,
})

export const matmulEpilogueRows: GradRow[] = [
  row(
    'dense: tanh(x wᵀ + b), x [3,4], w [5,4], b [5]',
    'anywhere',
    {
      arity: 2,
      instructions: [
        { kind: 'binary', op: 'add', a: 0, b: 1 },
        { kind: 'unary', op: 'tanh', x: 2 },
      ],
    },
    { transposeB: true },
    () => [anywhere(1201, [3, 4]), anywhere(1202, [5, 4]), anywhere(1203, [5])],
  ),
  row(
    'relu(a b) + r · 0.5 (residual, a constant), a [2,3], b [3,4], r [2,4]',
    'product away from 0 (relu is not differentiable at 0)',
    {
      arity: 2,
      instructions: [
        { kind: 'unary', op: 'relu', x: 0 }, // 2
        { kind: 'constant', value: 0.5 }, // 3
        { kind: 'binary', op: 'mul', a: 1, b: 3 }, // 4
        { kind: 'binary', op: 'add', a: 2, b: 4 }, // 5
      ],
    },
    {},
    () => [awayFromZero(1204, [2, 3]), awayFromZero(1205, [3, 4]), anywhere(1206, [2, 4])],
  ),
  row(
    'aᵀ bᵀ with batch [2] against one b, read twice: p · p - p',
    'anywhere',
    {
      arity: 1,
      instructions: [
        { kind: 'binary', op: 'mul', a: 0, b: 0 }, // 1
        { kind: 'binary', op: 'sub', a: 1, b: 0 }, // 2
      ],
    },
    { transposeA: true, transposeB: true },
    () => [anywhere(1207, [2, 3, 2]), anywhere(1208, [4, 3])],
  ),
]
