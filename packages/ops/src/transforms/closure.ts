// Shared machinery of `scan` and `remat`: finding the traced values a body closed over, and a node
// of several outputs on a trace (the fold knows single-output nodes only).
import { flatten, isAbstract, zeros, type DType, type Tensor } from '@backfold/tensor'
import { concat } from '../indexing/concat'
import { slice } from '../indexing/slice'
import { astype } from '../elementwise/astype'
import { reshape } from '../shape/reshape'
import { openTrace, primalOf, Tracer, type Trace } from '../core/trace'

/**
 * Runs `body` once on the leaves `args` wrapped as tracers of a fresh probe trace and returns the
 * traced values of enclosing transformations that its ops read without receiving them as
 * arguments (closed-over weights, say), in first-use order. The probe's results are discarded.
 * @internal
 */
export const closedOverValues = (
  args: ReadonlyArray<Tensor>,
  body: (leaves: Tensor[]) => unknown,
): Tensor[] => {
  const probe = openTrace()
  let out: unknown
  try {
    out = body(args.map((a) => new Tracer(probe, a, undefined)))
  } finally {
    probe.close()
  }
  const found: Tensor[] = []
  const seen = new Set<Tensor>()
  const stack: Tensor[] = [...flatten(out).leaves]
  while (stack.length > 0) {
    const x = stack.pop()!
    if (seen.has(x)) continue
    seen.add(x)
    if (x instanceof Tracer && x.trace === probe) {
      if (x.node !== undefined) stack.push(...x.node.inputs)
    } else if (isAbstract(x)) found.push(x)
  }
  return found
}

/**
 * Records on `trace` one node with several outputs: `inputs` (values of `trace` or constants) to
 * `outputs` (their values one level down). The fold handles single-output nodes, so the node's
 * output is one flat float "bundle" (never read, only its cotangent) and each float output is a
 * projection of it whose VJP places its cotangent in its segment; the bundle's VJP receives the sum,
 * splits it and calls `vjp` once with every output's cotangent (int32 outputs are returned
 * untraced: they have no derivative). `vjp` returns one cotangent per input.
 * @internal
 */
export const multiOutputNode = (
  name: string,
  trace: Trace,
  inputs: ReadonlyArray<Tensor>,
  outputs: ReadonlyArray<Tensor>,
  vjp: (cotangents: Tensor[], needed: (input: Tensor) => boolean) => ReadonlyArray<Tensor | undefined>,
): Tensor[] => {
  const floats = outputs.filter((o) => o.dtype !== 'int32')
  const dtype: DType = floats.some((o) => o.dtype === 'float64') ? 'float64' : 'float32'
  const sizes = outputs.map((o) => (o.dtype === 'int32' ? 0 : o.shape.reduce((a, d) => a * d, 1)))
  const offsets = sizes.map((_, i) => sizes.slice(0, i).reduce((a, s) => a + s, 0))
  const total = sizes.reduce((a, s) => a + s, 0)
  const bundle = new Tracer(trace, zeros([total], dtype), {
    op: { name },
    inputs,
    params: undefined,
    vjp: (ct, _out, needed) =>
      vjp(
        outputs.map((o, i) =>
          o.dtype === 'int32'
            ? zeros(o.shape, 'int32')
            : astype(
                reshape(slice(ct, [{ start: offsets[i]!, stop: offsets[i]! + sizes[i]! }]), o.shape),
                o.dtype,
              ),
        ),
        needed,
      ),
  })
  return outputs.map((o, i) => {
    if (o.dtype === 'int32') return o
    const before = offsets[i]!
    const after = total - before - sizes[i]!
    return new Tracer(trace, o, {
      op: { name: `${name} output` },
      inputs: [bundle],
      params: undefined,
      vjp: (ct) => {
        const flat = astype(reshape(ct, [sizes[i]!]), dtype)
        const parts = [
          ...(before > 0 ? [zeros([before], dtype)] : []),
          flat,
          ...(after > 0 ? [zeros([after], dtype)] : []),
        ]
        return [parts.length === 1 ? flat : concat(parts)]
      },
    })
  })
}

/** The values one level below `trace` of `xs`. @internal */
export const primalsOf = (xs: ReadonlyArray<Tensor>, trace: Trace): Tensor[] =>
  xs.map((x) => primalOf(x, trace))
