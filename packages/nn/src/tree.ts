import * as T from '@backfold/tensor'
import type { Tensor, TreeDef } from '@backfold/tensor'

/**
 * Trees of tensors: parameters, layer state, gradients and optimizer state. This namespace is THE
 * tree API of backfold; each name has one meaning:
 *
 * - `flatten(tree)` → `{ leaves, def }` and `unflatten(def, leaves)`, `leafCount`, `sameStructure`:
 *   the structural functions of `@backfold/tensor`, re-exported unchanged (the transformations of
 *   `@backfold/ops` use the same ones).
 * - `flattenNamed(tree)` → `[name, tensor]` pairs, `toNamed(tree)` → `{ name: tensor }` and its
 *   inverse `fromNamed(like, named)`: leaves by dotted path (`layers.0.weight`), the names of
 *   safetensors files and checkpoints.
 * - `map`, `map2` (alias `zip`), `size`, `zerosLike`, `leaves`: conveniences over both.
 * - `mapWith`, `map2With`, `unflattenWith`, `fromNamedWith`: data-last variants for fp-ts `pipe`
 *   (the one-argument functions, `flatten`, `toNamed`, `leaves`, `size`, `zerosLike`, already are).
 *
 * Every function keeps the static type of the tree it is given, so `map(params, f)` is typed like `params`.
 * @since 0.1.0
 */

export { flatten, unflatten, leafCount, sameStructure, type Tree, type TreeDef } from '@backfold/tensor'

/**
 * Applies `f` to every tensor; `f` also receives the tensor's dotted name (`flattenNamed`'s).
 * @example
 * import * as O from '@backfold/ops'
 * import { tree } from '@backfold/nn'
 * const halved = tree.map(params, (p) => O.mul(p, 0.5))
 * @since 0.1.0
 */
export const map = <P>(tree: P, f: (x: Tensor, name: string) => Tensor): P => {
  const names = flattenNamed(tree).map(([n]) => n)
  return T.mapTree(tree, (x, i) => f(x, names[i]!))
}

/**
 * Combines two trees of the same structure leaf by leaf (e.g. params and grads). Throws a
 * `ValueError` when the structures differ.
 * @example
 * import * as O from '@backfold/ops'
 * import { tree } from '@backfold/nn'
 * const next = tree.map2(params, grads, (p, g) => O.sub(p, O.mul(g, 0.1)))
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
 * Leaves with stable dotted names (`layers.0.weight`), depth first in key/index order, as
 * `[name, tensor]` pairs (the order of `flatten`'s leaves).
 * @example
 * tree.flattenNamed({ fc: { weight: w, bias: b } }) // [['fc.weight', w], ['fc.bias', b]]
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

/**
 * `flattenNamed` as a record, `{ 'layers.0.weight': Tensor, ... }`: what a safetensors file holds.
 * The inverse is `fromNamed`.
 * @example
 * const named = tree.toNamed(params) // { '0.weight': ..., '0.bias': ..., '2.weight': ..., '2.bias': ... }
 * @since 0.2.0
 */
export const toNamed = (tree: unknown): Record<string, Tensor> => Object.fromEntries(flattenNamed(tree))

/**
 * Rebuilds a tree shaped like `like` from named tensors (the inverse of `toNamed`).
 * Missing names throw a `ValueError` listing them; extra names are reported too.
 * @example
 * const same = tree.fromNamed(params, tree.toNamed(params))
 * @since 0.2.0
 */
export const fromNamed = <P>(like: P, named: Readonly<Record<string, Tensor>>): P => {
  const names = flattenNamed(like).map(([n]) => n)
  // Own properties only: a missing leaf named `constructor` must not find Object.prototype's.
  const missing = names.filter((n) => !Object.prototype.hasOwnProperty.call(named, n))
  const known = new Set(names)
  const extra = Object.keys(named).filter((n) => !known.has(n))
  if (missing.length > 0 || extra.length > 0)
    throw new T.ValueError(
      'tree.fromNamed',
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

/**
 * Total number of elements over all tensors (a model's parameter count).
 * @example
 * tree.size({ weight: T.zeros([10, 64]), bias: T.zeros([10]) }) // 650
 * @since 0.1.0
 */
export const size = (tree: unknown): number =>
  T.flatten(tree).leaves.reduce((n, x) => n + T.sizeOf(x.shape), 0)

/**
 * Zeros with the structure, shapes and dtypes of `tree`.
 * @example
 * const velocity = tree.zerosLike(params)
 * @since 0.1.0
 */
export const zerosLike = <P>(tree: P): P => T.mapTree(tree, (x) => T.zeros(x.shape, x.dtype))

/**
 * The tensors of a tree, in `flattenNamed` order (`flatten(tree).leaves`).
 * @example
 * tree.leaves({ w: T.zeros([2]), b: T.zeros([1]) }).length // 2
 * @since 0.1.0
 */
export const leaves = (tree: unknown): Tensor[] => T.flatten(tree).leaves

// -------------------------------------------------------------------------------------
// pipeable (data-last) variants, for fp-ts `pipe`
// -------------------------------------------------------------------------------------

/**
 * `map` with the tree last: `mapWith(f)(tree) = map(tree, f)`.
 * @example
 * import { pipe } from 'fp-ts/lib/function.js'
 * import * as O from '@backfold/ops'
 * import { tree } from '@backfold/nn'
 * const step = pipe(grads, tree.mapWith((g) => O.mul(g, -0.1)))
 * @since 0.2.0
 */
export const mapWith =
  (f: (x: Tensor, name: string) => Tensor) =>
  <P>(tree: P): P =>
    map(tree, f)

/**
 * `map2` with the first tree last: `map2With(b, f)(a) = map2(a, b, f)`, so `f` still receives the
 * leaf of `a` first.
 * @example
 * import { pipe } from 'fp-ts/lib/function.js'
 * import * as O from '@backfold/ops'
 * import { tree } from '@backfold/nn'
 * const next = pipe(params, tree.map2With(grads, (p, g) => O.sub(p, O.mul(g, 0.1))))
 * @since 0.2.0
 */
export const map2With =
  <P>(b: P, f: (x: Tensor, y: Tensor, name: string) => Tensor) =>
  (a: P): P =>
    map2(a, b, f)

/**
 * `unflatten` with the leaves last: `unflattenWith(def)(leaves) = unflatten(def, leaves)`.
 * @example
 * import { pipe } from 'fp-ts/lib/function.js'
 * import * as O from '@backfold/ops'
 * import { tree } from '@backfold/nn'
 * const { leaves, def } = tree.flatten(params)
 * const doubled = pipe(leaves.map((x) => O.mul(x, 2)), tree.unflattenWith<typeof params>(def))
 * @since 0.2.0
 */
export const unflattenWith =
  <P = T.Tree>(def: TreeDef) =>
  (leaves: ReadonlyArray<Tensor>): P =>
    T.unflatten<P>(def, leaves)

/**
 * `fromNamed` with the named tensors last: `fromNamedWith(like)(named) = fromNamed(like, named)`.
 * @example
 * import { pipe } from 'fp-ts/lib/function.js'
 * import { tree } from '@backfold/nn'
 * const restored = pipe(params, tree.toNamed, tree.fromNamedWith(params))
 * @since 0.2.0
 */
export const fromNamedWith =
  <P>(like: P) =>
  (named: Readonly<Record<string, Tensor>>): P =>
    fromNamed(like, named)
