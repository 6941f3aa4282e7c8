import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'

/**
 * Trees of tensors: parameters, layer state, gradients and optimizer state. Every function keeps
 * the static type of the tree it is given, so `map(params, f)` is typed like `params`.
 * @since 0.1.0
 */

/** Applies `f` to every tensor. @since 0.1.0 */
export const map = <P>(tree: P, f: (x: Tensor, name: string) => Tensor): P => {
  const names = flattenNamed(tree).map(([n]) => n)
  return T.mapTree(tree, (x, i) => f(x, names[i]!))
}

/**
 * Combines two trees of the same structure leaf by leaf (e.g. params and grads).
 * @example
 * const next = map2(params, grads, (p, g) => sub(p, mul(g, 0.1)))
 * @since 0.1.0
 */
export const map2 = <P>(a: P, b: P, f: (x: Tensor, y: Tensor, name: string) => Tensor): P => {
  const fa = T.flatten(a)
  const fb = T.flatten(b)
  if (!T.sameStructure(fa.def, fb.def))
    throw new T.ValueError(
      'tree.map2',
      'the two trees have different structures (keys, lengths or constants differ)',
    )
  const names = flattenNamed(a).map(([n]) => n)
  return T.unflatten<P>(
    fa.def,
    fa.leaves.map((x, i) => f(x, fb.leaves[i]!, names[i]!)),
  )
}

/** Alias of `map2`, for readers who know `zip`. @since 0.1.0 */
export const zip = map2

/**
 * Leaves with stable dotted names (`layers.0.weight`), depth first in key/index order.
 * @since 0.1.0
 */
export const flattenNamed = (tree: unknown): Array<[string, Tensor]> => {
  const out: Array<[string, Tensor]> = []
  const walk = (node: unknown, path: string): void => {
    if (T.isTensor(node)) out.push([path, node])
    else if (Array.isArray(node)) node.forEach((c, i) => walk(c, path === '' ? String(i) : `${path}.${i}`))
    else if (typeof node === 'object' && node !== null)
      for (const [k, c] of Object.entries(node)) walk(c, path === '' ? k : `${path}.${k}`)
  }
  walk(tree, '')
  return out
}

/** `flattenNamed` as a record: `{ 'layers.0.weight': Tensor, ... }`. @since 0.1.0 */
export const flatten = (tree: unknown): Record<string, Tensor> => Object.fromEntries(flattenNamed(tree))

/**
 * Rebuilds a tree shaped like `like` from named tensors (the inverse of `flatten`).
 * Missing names throw a `ValueError` listing them; extra names are reported too.
 * @since 0.1.0
 */
export const unflatten = <P>(like: P, named: Readonly<Record<string, Tensor>>): P => {
  const names = flattenNamed(like).map(([n]) => n)
  // Own properties only: a missing leaf named `constructor` must not find Object.prototype's.
  const missing = names.filter((n) => !Object.prototype.hasOwnProperty.call(named, n))
  const known = new Set(names)
  const extra = Object.keys(named).filter((n) => !known.has(n))
  if (missing.length > 0 || extra.length > 0)
    throw new T.ValueError(
      'tree.unflatten',
      [
        missing.length > 0 ? `missing ${missing.join(', ')}` : '',
        extra.length > 0 ? `unexpected ${extra.join(', ')}` : '',
      ]
        .filter((s) => s !== '')
        .join('; '),
    )
  return T.unflatten<P>(
    T.flatten(like).def,
    names.map((n) => named[n]!),
  )
}

/** Total number of elements over all tensors. @since 0.1.0 */
export const size = (tree: unknown): number =>
  T.flatten(tree).leaves.reduce((n, x) => n + T.sizeOf(x.shape), 0)

/** Zeros with the structure, shapes and dtypes of `tree`. @since 0.1.0 */
export const zerosLike = <P>(tree: P): P => T.mapTree(tree, (x) => T.zeros(x.shape, x.dtype))

/** The tensors of a tree, in `flattenNamed` order. @since 0.1.0 */
export const leaves = (tree: unknown): Tensor[] => T.flatten(tree).leaves
