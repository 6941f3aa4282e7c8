import { isTensor, type Tensor } from './tensor'
import { ValueError } from './errors'

/**
 * A tree of tensors: a tensor, or a readonly array or record of trees. Parameters, gradients,
 * optimizer state and the arguments of transformed functions are all trees.
 * Values that are not tensors (numbers, strings, `null`) may sit in a tree as fixed data:
 * they are carried through unchanged and never differentiated.
 * @since 0.1.0
 */
export type Tree = Tensor | ReadonlyArray<Tree> | { readonly [key: string]: Tree } | TreeConstant

/** A non-tensor value carried through a tree unchanged. @since 0.1.0 */
export type TreeConstant = number | string | boolean | null | undefined

/** The structure of a tree with its tensors taken out; `unflatten` puts tensors back. @since 0.1.0 */
export type TreeDef =
  | { readonly kind: 'leaf' }
  | { readonly kind: 'constant'; readonly value: unknown }
  | { readonly kind: 'array'; readonly children: ReadonlyArray<TreeDef> }
  | {
      readonly kind: 'record'
      readonly keys: ReadonlyArray<string>
      readonly children: ReadonlyArray<TreeDef>
    }

const isRecord = (x: unknown): x is { readonly [key: string]: unknown } =>
  typeof x === 'object' && x !== null && !Array.isArray(x) && !isTensor(x)

/**
 * Leaves in depth-first order (array index order, record key insertion order) and the structure.
 * This is THE tree flatten of backfold: `@backfold/nn`'s `tree.flatten` is this function, and
 * leaves by dotted name are nn's `tree.flattenNamed` / `tree.toNamed`.
 * @example
 * const { leaves, def } = flatten({ w: zeros([2, 2]), b: zeros([2]) }) // leaves: [w, b]
 * @since 0.1.0
 */
export const flatten = (tree: unknown): { readonly leaves: Tensor[]; readonly def: TreeDef } => {
  const leaves: Tensor[] = []
  const walk = (node: unknown): TreeDef => {
    if (isTensor(node)) {
      leaves.push(node)
      return LEAF
    }
    if (Array.isArray(node)) return { kind: 'array', children: node.map(walk) }
    if (isRecord(node)) {
      const keys = Object.keys(node)
      return { kind: 'record', keys, children: keys.map((k) => walk(node[k])) }
    }
    return { kind: 'constant', value: node }
  }
  const def = walk(tree)
  return { leaves, def }
}

const LEAF: TreeDef = { kind: 'leaf' }

/**
 * Number of tensors a tree def holds.
 * @example
 * leafCount(flatten({ w: zeros([2]), b: [zeros([1]), 3] }).def) // 2 (the number 3 is a constant)
 * @since 0.1.0
 */
export const leafCount = (def: TreeDef): number => {
  switch (def.kind) {
    case 'leaf':
      return 1
    case 'constant':
      return 0
    default: {
      // A def is immutable: count a shared one (a jitted function's output structure) once.
      const known = leafCounts.get(def)
      if (known !== undefined) return known
      let n = 0
      for (const c of def.children) n += leafCount(c)
      leafCounts.set(def, n)
      return n
    }
  }
}
const leafCounts = /* @__PURE__ */ new WeakMap<TreeDef, number>()

/**
 * Rebuilds a tree from its structure and leaves (the inverse of `flatten`). Throws a `ValueError`
 * when the number of leaves differs from the structure's.
 * @example
 * const { leaves, def } = flatten({ w: zeros([2]), b: zeros([1]) })
 * const rebuilt = unflatten<{ w: Tensor; b: Tensor }>(def, leaves.map((x) => fullLike(x, 1)))
 * @since 0.1.0
 */
export const unflatten = <T = Tree>(def: TreeDef, leaves: ReadonlyArray<Tensor>): T => {
  const expected = leafCount(def)
  if (expected !== leaves.length)
    throw new ValueError(
      'tree.unflatten',
      `structure holds ${expected} tensors but ${leaves.length} were given`,
    )
  let i = 0
  const build = (d: TreeDef): unknown => {
    switch (d.kind) {
      case 'leaf':
        return leaves[i++]
      case 'constant':
        return d.value
      case 'array':
        return d.children.map(build)
      case 'record': {
        const record: Record<string, unknown> = {}
        d.keys.forEach((k, j) => {
          const value = build(d.children[j]!)
          // defineProperty keeps a key such as '__proto__' an own key (assignment would set the prototype).
          if (k === '__proto__')
            Object.defineProperty(record, k, { value, enumerable: true, writable: true, configurable: true })
          else record[k] = value
        })
        return record
      }
    }
  }
  // The def was produced from a value of type T, so the rebuilt value has T's structure.
  return build(def) as T
}

/**
 * Applies `f` to every tensor, keeping the structure (and its static type).
 * @example
 * const halved = mapTree(params, (p) => mul(p, 0.5))
 * @since 0.1.0
 */
export const mapTree = <T>(tree: T, f: (x: Tensor, index: number) => Tensor): T => {
  const { leaves, def } = flatten(tree)
  return unflatten<T>(def, leaves.map(f))
}

/**
 * True when two structures are the same (same keys, same lengths, same constants).
 * @example
 * sameStructure(flatten({ a: zeros([1]) }).def, flatten({ a: ones([5]) }).def) // true: shapes are not structure
 * @since 0.1.0
 */
export const sameStructure = (a: TreeDef, b: TreeDef): boolean => {
  if (a.kind !== b.kind) return false
  switch (a.kind) {
    case 'leaf':
      return true
    case 'constant':
      return b.kind === 'constant' && Object.is(a.value, b.value)
    case 'array':
      return (
        b.kind === 'array' &&
        a.children.length === b.children.length &&
        a.children.every((c, i) => sameStructure(c, b.children[i]!))
      )
    case 'record':
      return (
        b.kind === 'record' &&
        a.keys.length === b.keys.length &&
        a.keys.every((k, i) => k === b.keys[i] && sameStructure(a.children[i]!, b.children[i]!))
      )
  }
}
