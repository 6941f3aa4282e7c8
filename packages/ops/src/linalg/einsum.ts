// einsum: a spec such as 'bij,bjk->bik', planned as diagonals, sums, transposes, reshapes and
// batched matmuls of ops, so its VJP (and every other transformation) comes from those ops.
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import { mul } from '../binary/mul'
import { sum } from '../reduce/sum'
import { reshape } from '../shape/reshape'
import { transpose } from '../shape/transpose'
import { matmul } from './matmul'

type Labels = ReadonlyArray<string>

const fail = (spec: string, message: string): never => {
  throw new T.ValueError('einsum', `'${spec}': ${message}`)
}

const LETTER = /^[a-zA-Z]$/

/** One operand's labels, with '...' expanded to `ellipsis` fresh labels (digits never clash with letters). */
const parseTerm = (spec: string, term: string, rank: number, which: string, maxWidth = 0): string[] => {
  const dots = term.indexOf('...')
  if (term.indexOf('...', dots + 1) !== -1 && dots !== -1) fail(spec, `${which} has more than one '...'`)
  const named = dots === -1 ? term : term.slice(0, dots) + term.slice(dots + 3)
  for (let i = 0; i < named.length; i++)
    if (!LETTER.test(named[i]!))
      fail(spec, `${which} has '${named[i]!}'; index labels are single letters a-z, A-Z (and '...')`)
  if (dots === -1) return [...term]
  const width = rank - named.length
  if (width < 0) fail(spec, `${which} names ${named.length} axes but has rank ${rank}`)
  // Aligned from the right, as NumPy broadcasts: a narrower '...' takes the last labels.
  const fresh = Array.from({ length: width }, (_, i) => String(Math.max(maxWidth, width) - width + i))
  return [...term.slice(0, dots), ...fresh, ...term.slice(dots + 3)]
}

interface Plan {
  readonly inputs: ReadonlyArray<string[]>
  readonly output: string[]
  readonly sizes: ReadonlyMap<string, number>
}

const plan = (spec: string, shapes: ReadonlyArray<ReadonlyArray<number>>): Plan => {
  const compact = spec.replace(/\s+/g, '')
  const arrow = compact.indexOf('->')
  if (arrow !== compact.lastIndexOf('->')) fail(spec, `more than one '->'`)
  const left = arrow === -1 ? compact : compact.slice(0, arrow)
  const terms = left.split(',')
  if (terms.length !== shapes.length)
    fail(
      spec,
      `names ${terms.length} operand${terms.length === 1 ? '' : 's'} but ${shapes.length} were given`,
    )
  const widthOf = (term: string, rank: number): number =>
    term.includes('...') ? rank - term.replace('...', '').length : 0
  const maxWidth = Math.max(0, ...terms.map((term, i) => widthOf(term, shapes[i]!.length)))
  const inputs = terms.map((term, i) =>
    parseTerm(spec, term, shapes[i]!.length, `operand ${i} ('${term}')`, maxWidth),
  )
  const sizes = new Map<string, number>()
  inputs.forEach((labels, i) => {
    const shape = shapes[i]!
    if (labels.length !== shape.length)
      fail(
        spec,
        `operand ${i} ('${terms[i]!}') names ${labels.length} axes but has shape ${T.fmtShape(shape)}`,
      )
    labels.forEach((label, axis) => {
      const size = shape[axis]!
      const known = sizes.get(label)
      if (known !== undefined && known !== size)
        throw new T.ShapeError(
          'einsum',
          `'${spec}': index '${/\d/.test(label) ? '...' : label}' has size ${known} and ${size} (operand ${i}, ` +
            `shape ${T.fmtShape(shape)}); an index must have one size (size-1 broadcasting is not supported)`,
        )
      sizes.set(label, size)
    })
  })
  const ellipsis = Array.from({ length: maxWidth }, (_, i) => String(i))
  let output: string[]
  if (arrow === -1) {
    // Implicit output: '...' first, then every letter that appears exactly once, alphabetically.
    const counts = new Map<string, number>()
    for (const labels of inputs)
      for (const l of labels) if (!/\d/.test(l)) counts.set(l, (counts.get(l) ?? 0) + 1)
    output = [
      ...ellipsis,
      ...[...counts]
        .filter(([, n]) => n === 1)
        .map(([l]) => l)
        .sort(),
    ]
  } else {
    const right = compact.slice(arrow + 2)
    output = parseTerm(
      spec,
      right,
      right.replace('...', '').length + maxWidth,
      `the output ('${right}')`,
      maxWidth,
    )
    const seen = new Set<string>()
    for (const l of output) {
      if (seen.has(l)) fail(spec, `the output repeats index '${l}'`)
      seen.add(l)
      if (!sizes.has(l)) fail(spec, `the output index '${l}' appears in no operand`)
    }
  }
  return { inputs, output, sizes }
}

/** `x` with the repeated labels of one operand reduced to their diagonal (labels become distinct). */
const takeDiagonals = (
  x: Tensor,
  labels: string[],
  sizes: ReadonlyMap<string, number>,
): [Tensor, string[]] => {
  let current = x
  let names = [...labels]
  for (;;) {
    const first = names.findIndex((l, i) => names.indexOf(l) !== i)
    if (first === -1) return [current, names]
    const label = names[first]!
    const a = names.indexOf(label)
    const n = sizes.get(label) ?? 0
    // Multiply by the identity on axes (a, first), then sum axis `first` away: the diagonal.
    const eyeShape = names.map((_, i) => (i === a || i === first ? n : 1))
    current = sum(mul(current, reshape(T.eye(n, n, x.dtype), eyeShape)), {
      axis: first,
    })
    names = names.filter((_, i) => i !== first)
  }
}

/** Sums away the labels of `x` that are in `keep` nowhere. */
const sumUnused = (x: Tensor, labels: string[], keep: ReadonlySet<string>): [Tensor, string[]] => {
  const drop = labels.flatMap((l, i) => (keep.has(l) ? [] : [i]))
  if (drop.length === 0) return [x, labels]
  return [sum(x, { axis: drop }), labels.filter((l) => keep.has(l))]
}

const permuted = (x: Tensor, from: Labels, to: Labels): Tensor =>
  transpose(
    x,
    to.map((l) => from.indexOf(l)),
  )

const product = (dims: ReadonlyArray<number>): number => dims.reduce((p, d) => p * d, 1)

/**
 * Einstein summation over the operands, as NumPy's `einsum`: `'ij,jk->ik'` is a matrix product,
 * `'bij,bjk->bik'` a batched one, `'ii->i'` a diagonal, `'ij->'` a total, `'...ij,...jk'` works on
 * leading axes. Without `->` the output is every index that appears once, alphabetically (after
 * `...`). Planned left to right as pairwise contractions: each pair becomes one batched `matmul`
 * after transposes and reshapes, and indices used nowhere later are summed first, so the
 * gradient is those ops' own. Index sizes must agree exactly (no size-1 broadcasting).
 * The result's rank is known at run time only: tensors do not carry their rank in their type.
 * @example
 * einsum('ij,jk->ik', a, b)      // matmul(a, b)
 * einsum('bhqd,bhkd->bhqk', x, y) // attention scores of queries x and keys y
 * einsum('i,i->', x, y)           // dot product
 * @throws ValueError for a malformed spec (naming it and the operand); ShapeError when an index has two sizes.
 * @since 0.2.0
 */
export const einsum = (spec: string, ...operands: ReadonlyArray<Tensor>): Tensor => {
  if (typeof spec !== 'string') throw new T.ValueError('einsum', `spec must be a string, got ${String(spec)}`)
  if (operands.length === 0) fail(spec, 'needs at least one operand')
  const { inputs, output, sizes } = plan(
    spec,
    operands.map((x) => x.shape),
  )
  const laterUses = (from: number): Set<string> => new Set([...output, ...inputs.slice(from).flat()])
  // Each operand alone: diagonals, then indices nobody else uses.
  const prepared = operands.map((x, i) => {
    const [diag, labels] = takeDiagonals(x, inputs[i]!, sizes)
    const others = new Set([...output, ...inputs.filter((_, j) => j !== i).flat()])
    return sumUnused(diag, labels, others)
  })
  let [acc, accLabels] = prepared[0]!
  for (let i = 1; i < prepared.length; i++) {
    const [b, bLabels] = prepared[i]!
    const later = laterUses(i + 1)
    const inB = new Set(bLabels)
    const inA = new Set(accLabels)
    const batch = accLabels.filter((l) => inB.has(l) && later.has(l))
    const contracted = accLabels.filter((l) => inB.has(l) && !later.has(l))
    const leftOnly = accLabels.filter((l) => !inB.has(l))
    const rightOnly = bLabels.filter((l) => !inA.has(l))
    const dims = (ls: Labels): number[] => ls.map((l) => sizes.get(l) ?? 0)
    const a3 = reshape(permuted(acc, accLabels, [...batch, ...leftOnly, ...contracted]), [
      product(dims(batch)),
      product(dims(leftOnly)),
      product(dims(contracted)),
    ])
    const b3 = reshape(permuted(b, bLabels, [...batch, ...contracted, ...rightOnly]), [
      product(dims(batch)),
      product(dims(contracted)),
      product(dims(rightOnly)),
    ])
    accLabels = [...batch, ...leftOnly, ...rightOnly]
    acc = reshape(matmul(a3, b3), dims(accLabels))
    ;[acc, accLabels] = sumUnused(acc, accLabels, later)
  }
  ;[acc, accLabels] = sumUnused(acc, accLabels, new Set(output))
  return permuted(acc, accLabels, output)
}
