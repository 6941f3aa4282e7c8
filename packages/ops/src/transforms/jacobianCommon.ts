// What jacrev, jacfwd and hessian share: their options and result type, the standard basis they
// map over, the guards, and the assembly of a tree whose leaves are trees.
import {
  allocate,
  flatten,
  fmtShape,
  sizeOf,
  unsafeTensor,
  type Tensor,
  type TreeConstant,
  type TreeDef,
} from '@backfold/tensor'
import { TraceError } from '../core/trace'
import { optionSchema } from '../core/options'
import type { Argnums } from './args'

/** Options of `jacrev`, `jacfwd` and `hessian`. @since 0.2.0 */
export interface JacobianOptions<N extends Argnums> {
  /**
   * Arguments to differentiate, as in `grad`: an index (each block is that argument's type) or a
   * list (each block is a tuple of them). Default 0.
   */
  readonly argnums?: N
}

/**
 * The Jacobian's type: the output's tree with every tensor replaced by a block `G` (a tree shaped
 * like the differentiated argument(s)) whose leaves have shape `[...outLeafShape, ...inLeafShape]`.
 * @since 0.2.0
 */
export type JacobianOf<Out, G> = Out extends Tensor
  ? G
  : Out extends TreeConstant
    ? Out
    : { -readonly [K in keyof Out]: JacobianOf<Out[K], G> }

export const JACOBIAN_OPTIONS = optionSchema(
  {
    argnums: {
      expected: 'an argument index or an array of them',
      check: (v: unknown) => typeof v === 'number' || Array.isArray(v),
    },
  },
  { argnum: 'argnums' },
)

/** Jacobian entries above which forming it is refused: 2²⁴ (64 MiB of float32). */
const MAX_ENTRIES = 1 << 24

/** Refuses an int32 output leaf: it has no derivative (and its zero cotangent no VJP). */
export const refuseInt32Outputs = (transform: string, outLeaves: ReadonlyArray<Tensor>): void =>
  outLeaves.forEach((y, j) => {
    if (y.dtype === 'int32')
      throw new TraceError(
        transform,
        `output leaf ${j} (shape ${fmtShape(y.shape)}) is int32, which has no derivative; ` +
          `cast it with astype(y, 'float32') or leave it out of the output`,
      )
  })

/**
 * Refuses what has no Jacobian or is too large to form, before any work: an int32 leaf (no
 * derivative), or more than `MAX_ENTRIES` entries in all.
 */
export const checkJacobian = (
  transform: string,
  outLeaves: ReadonlyArray<Tensor>,
  inLeaves: ReadonlyArray<Tensor>,
): void => {
  refuseInt32Outputs(transform, outLeaves)
  inLeaves.forEach((x, i) => {
    if (x.dtype === 'int32')
      throw new TraceError(
        transform,
        `differentiated leaf ${i} (shape ${fmtShape(x.shape)}) is int32 and cannot be differentiated; ` +
          `cast it with astype(x, 'float32') or leave its argument out of argnums`,
      )
  })
  const outSize = outLeaves.reduce((s, y) => s + sizeOf(y.shape), 0)
  const inSize = inLeaves.reduce((s, x) => s + sizeOf(x.shape), 0)
  if (outSize * inSize > MAX_ENTRIES)
    throw new TraceError(
      transform,
      `the Jacobian would have ${outSize} × ${inSize} entries (outputs ${outLeaves.map((y) => fmtShape(y.shape)).join(', ')}; ` +
        `inputs ${inLeaves.map((x) => fmtShape(x.shape)).join(', ')}), more than ${MAX_ENTRIES}: ` +
        'use vjp, jvp or hvp, which never form it',
    )
}

/**
 * The standard basis of the space of `like`: `[n, ...like.shape]` (n = its size), example `k`
 * being 1 at flat position `k` and 0 elsewhere. Mapped over by `vmap`, one example per entry.
 */
export const basisOf = (like: Tensor): Tensor => {
  const n = sizeOf(like.shape)
  const data = allocate(like.dtype, n * n)
  for (let k = 0; k < n; k++) data[k * n + k] = 1
  return unsafeTensor(like.dtype, [n, ...like.shape], data)
}

/** The flattened leaves and structure of each differentiated argument. */
export const flattenArgs = (
  args: ReadonlyArray<unknown>,
  argnums: ReadonlyArray<number>,
): ReadonlyArray<{ readonly leaves: Tensor[]; readonly def: TreeDef }> => argnums.map((n) => flatten(args[n]))

/**
 * Rebuilds the output's tree with a block (any value, here a tree of tensors) in place of each
 * tensor: `unflatten` for trees whose leaves are trees. Untyped: the public overloads of `jacrev`
 * and `jacfwd` give the result its type (`JacobianOf`).
 */
export const buildTree = (def: TreeDef, blocks: ReadonlyArray<unknown>): unknown => {
  let i = 0
  const build = (d: TreeDef): unknown => {
    switch (d.kind) {
      case 'leaf':
        return blocks[i++]
      case 'constant':
        return d.value
      case 'array':
        return d.children.map(build)
      case 'record':
        // fromEntries defines own properties, so a key such as '__proto__' stays a key.
        return Object.fromEntries(d.keys.map((k, j) => [k, build(d.children[j]!)]))
    }
  }
  return build(def)
}
