import { describe, expect, it } from 'vitest'
import * as binary from '../src/kernels/binary'
import * as conv from '../src/kernels/conv'
import * as cumprod from '../src/kernels/cumulative'
import * as sortKernels from '../src/kernels/sort'
import * as gather from '../src/kernels/gather'
import * as matmul from '../src/kernels/matmul'
import * as pool from '../src/kernels/pool'
import * as reduce from '../src/kernels/reduce'
import * as shape from '../src/kernels/shape'
import * as slice from '../src/kernels/slice'
import * as unary from '../src/kernels/unary'
import {
  abstractValue,
  claimSingleCopy,
  DuplicatePackageError,
  isAbstract,
  tensor,
  TraceError,
  type Tensor,
} from '../src/index'

// A kernel handed an abstract value (a traced value, a shape-only placeholder) must refuse it by
// name, never compute on data that is not there: that is how a raw kernel inside `grad` used to give
// a zero gradient without a word.
const ADVICE = 'a test placeholder; evaluate it first'
const placeholder = (dims: number[] = [1, 1, 2, 2], dtype: Tensor['dtype'] = 'float32'): Tensor => ({
  dtype,
  shape: dims,
  get data(): never {
    throw new Error('a kernel read the data of an abstract value')
  },
  [abstractValue]: ADVICE,
})
const p = placeholder()
const indices = placeholder([2], 'int32')
const concrete = tensor([1, 2])
const pool2 = { kernelSize: 2 } as const

// One call per exported kernel: [kernel, the operand that is abstract, the call].
type Case = readonly [string, string, () => unknown]
// unaryDType takes a dtype (a shape function, listed in SHAPE_ONLY); every other export is a kernel of x.
const { unaryDType: _unaryDType, ...unaryKernels } = unary
const calls: Record<string, ReadonlyArray<Case>> = {
  unary: Object.entries(unaryKernels).map(([name, f]): Case => [name, 'x', () => f(p)]),
  binary: [
    ...(
      ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'atan2', 'equal', 'notEqual', 'less'] as const
    ).map((name): Case => [name, 'a', () => binary[name](p, 1)]),
    ...(['lessEqual', 'greater', 'greaterEqual'] as const).map((name): Case => [
      name,
      'b',
      () => binary[name](2, p),
    ]),
    ['where', 'cond', () => binary.where(p, 1, 2)],
    ['where', 'b', () => binary.where(concrete, concrete, p)],
    ['astype', 'x', () => binary.astype(p, 'float64')],
  ],
  conv: [
    ['conv2d', 'w', () => conv.conv2d(tensor([[[[1]]]]), p)],
    ['conv2dBackwardInput', 'dy', () => conv.conv2dBackwardInput(p, p, [1, 1, 3, 3])],
    ['conv2dBackwardFilter', 'x', () => conv.conv2dBackwardFilter(p, p, [1, 1, 2, 2])],
  ],
  gather: [
    ['gather', 'x', () => gather.gather(p, indices)],
    ['scatterAdd', 'updates', () => gather.scatterAdd(p, indices, 0, [3])],
    ['oneHot', 'indices', () => gather.oneHot(indices, 3)],
    ['takeAlongAxis', 'indices', () => gather.takeAlongAxis(concrete, indices, 0)],
    ['scatterAddAlongAxis', 'updates', () => gather.scatterAddAlongAxis(p, indices, 0, [3])],
  ],
  matmul: [['matmul', 'b', () => matmul.matmul(tensor([[1, 2]]), p)]],
  cumprod: [
    ['cumprod', 'x', () => cumprod.cumprod(p, -1)],
    ['cumsum', 'x', () => cumprod.cumsum(p, -1)],
  ],
  sortKernels: [['argsort', 'x', () => sortKernels.argsort(p, -1)]],
  pool: [
    ['maxPool2d', 'x', () => pool.maxPool2d(p, pool2)],
    ['maxPool2dBackward', 'dy', () => pool.maxPool2dBackward(p, p, pool2)],
    ['maxPool2dSelect', 'src', () => pool.maxPool2dSelect(p, p, pool2)],
    ['avgPool2d', 'x', () => pool.avgPool2d(p, pool2)],
    ['avgPool2dBackward', 'dy', () => pool.avgPool2dBackward(p, [1, 1, 2, 2], pool2)],
  ],
  reduce: (['sum', 'mean', 'prod', 'max', 'min', 'logsumexp', 'argmax', 'argmin'] as const).map(
    (name): Case => [name, 'x', () => reduce[name](p)],
  ),
  shape: [
    ['reshape', 'x', () => shape.reshape(p, [-1])],
    // The same shape used to return x itself: still refused, the caller meant a kernel.
    ['reshape', 'x', () => shape.reshape(p, [1, 1, 2, 2])],
    ['ravel', 'x', () => shape.ravel(p)],
    ['transpose', 'x', () => shape.transpose(p)],
    ['broadcastTo', 'x', () => shape.broadcastTo(p, [3, 1, 1, 2, 2])],
    ['expandDims', 'x', () => shape.expandDims(p, 0)],
    ['squeeze', 'x', () => shape.squeeze(p)],
  ],
  slice: [
    ['slice', 'x', () => slice.slice(p, [])],
    ['concat', 'xs[1]', () => slice.concat([concrete, p])],
    ['stack', 'xs[0]', () => slice.stack([p, concrete])],
    ['pad', 'x', () => slice.pad(p, [])],
    ['split', 'x', () => slice.split(p, 1)],
  ],
}

// Exports that take shapes, options or plain numbers, never a tensor.
const SHAPE_ONLY = new Set([
  'positivePair2d',
  'resolvePadding2d',
  'conv2dSpec',
  'conv2dOutputShape',
  'matmulPlan',
  'matmulShape',
  'pool2dSpec',
  'pool2dOutputShape',
  'reshapeShape',
  'squeezeShape',
  'transposePerm',
  'transposeShape',
  'broadcastToShape',
  'reduceShape',
  'argReduceShape',
  'reduceDType',
  'cumprodShape',
  'cumsumShape',
  'argsortShape',
  'resolveSlice',
  'sliceShape',
  'concatShape',
  'padShape',
  'gatherShape',
  'scatterAddShape',
  'oneHotShape',
  'takeAlongAxisShape',
  'scatterAddAlongAxisShape',
  'unaryDType',
  'astypeOutput',
  'binaryOutput',
  'whereOutput',
  'weakNumberDType',
  // Plans read only the shapes and dtypes of their operands (abstract ones included), never data.
  'conv2dPlan',
  'conv2dBackwardInputPlan',
  'conv2dBackwardFilterPlan',
  'maxPool2dPlan',
  'maxPool2dBackwardPlan',
  'maxPool2dSelectPlan',
  'avgPool2dPlan',
  'avgPool2dBackwardPlan',
])

describe('kernels refuse abstract values', () => {
  const modules = {
    unary,
    binary,
    conv,
    cumprod,
    sortKernels,
    gather,
    matmul,
    pool,
    reduce,
    shape,
    slice,
  }

  it('every exported kernel has a case below (a new kernel needs its guard and its case)', () => {
    for (const [group, module] of Object.entries(modules)) {
      const kernels = Object.entries(module)
        .filter(([name, value]) => typeof value === 'function' && !SHAPE_ONLY.has(name))
        .map(([name]) => name)
        .sort()
      const covered = [...new Set(calls[group]!.map(([kernel]) => kernel))].sort()
      expect(covered, group).toEqual(kernels)
    }
  })

  for (const [group, cases] of Object.entries(calls)) {
    it.each(cases)(
      `${group}: %s refuses an abstract %s with a TraceError naming it, with the advice`,
      (kernel, operand, call) => {
        let thrown: unknown
        try {
          call()
        } catch (error) {
          thrown = error
        }
        expect(thrown).toBeInstanceOf(TraceError)
        const message = (thrown as TraceError).message
        expect(message.startsWith(`${kernel}: ${operand} is an abstract value`), message).toBe(true)
        expect(message).toContain(ADVICE)
      },
    )
  }

  it('names the kernel that was called', () => {
    expect(() => unary.exp(p)).toThrow(/^exp: x is an abstract value/)
    expect(() => binary.mul(concrete, p)).toThrow(/^mul: b is an abstract value/)
    expect(() => matmul.matmul(p, p)).toThrow(/^matmul: a is an abstract value/)
  })

  it('isAbstract tells the brand apart from a concrete tensor', () => {
    expect(isAbstract(p)).toBe(true)
    expect(isAbstract(concrete)).toBe(false)
    // The key is Symbol.for, so another bundle or copy of this package agrees on it.
    expect(abstractValue).toBe(Symbol.for('@backfold/tensor.abstractValue'))
  })
})

describe('claimSingleCopy', () => {
  const unique = (name: string): string => `@backfold-test/${name}-${Math.random().toString(36).slice(2)}`

  it('lets the same module evaluate again (a test runner re-running it)', () => {
    const pkg = unique('same')
    claimSingleCopy(pkg, '1.0.0', 'file:///app/node_modules/pkg/dist/index.js')
    expect(() => claimSingleCopy(pkg, '1.0.0', 'file:///app/node_modules/pkg/dist/index.js')).not.toThrow()
    // A dev server's cache-busting query is still the same module.
    expect(() =>
      claimSingleCopy(pkg, '1.0.0', 'file:///app/node_modules/pkg/dist/index.js?v=42'),
    ).not.toThrow()
  })

  it('refuses another version, naming both versions and locations', () => {
    const pkg = unique('versions')
    claimSingleCopy(pkg, '0.1.0', 'file:///app/node_modules/pkg/dist/index.js')
    let thrown: unknown
    try {
      claimSingleCopy(pkg, '0.1.1', 'file:///app/node_modules/other/node_modules/pkg/dist/index.js')
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(DuplicatePackageError)
    const message = (thrown as DuplicatePackageError).message
    expect(message).toContain(`${pkg}: two copies loaded in one process`)
    expect(message).toContain('0.1.0 from file:///app/node_modules/pkg/dist/index.js')
    expect(message).toContain('0.1.1 from file:///app/node_modules/other/node_modules/pkg/dist/index.js')
    expect(message).toContain(`npm ls ${pkg}`)
    expect(message).toContain('npm dedupe')
  })

  it('refuses a second build of the same version (a CommonJS copy beside the ES module)', () => {
    const pkg = unique('builds')
    claimSingleCopy(pkg, '0.1.0', 'file:///app/node_modules/pkg/dist/index.js')
    expect(() => claimSingleCopy(pkg, '0.1.0', 'file:///app/node_modules/pkg/dist/index.cjs')).toThrow(
      DuplicatePackageError,
    )
  })

  it('refuses a second claim where the bundler hides the location', () => {
    const pkg = unique('unknown')
    claimSingleCopy(pkg, '0.1.0', undefined)
    expect(() => claimSingleCopy(pkg, '0.1.0', undefined)).toThrow(/0\.1\.0 from unknown is already loaded/)
  })

  it('records this package when it loads', () => {
    const record: unknown = Reflect.get(globalThis, Symbol.for('@backfold/tensor'))
    expect(record).toMatchObject({ location: expect.stringMatching(/tensor\.ts$/) })
  })
})
