import { fmtShape, shapesEqual, zeros, type Tensor } from '@backfold/tensor'
import { add } from '../binary/add'
import { astype } from '../elementwise/astype'
import { Tracer, TraceError, type Trace } from './trace'

/**
 * Reverse mode: folds the VJPs of every node of `trace` reachable from `outputs`, in reverse
 * topological order, accumulating cotangents per traced value. Returns one cotangent per input
 * (zeros for inputs the outputs do not depend on).
 *
 * The VJPs run on primals (values one level down) with ordinary ops, so when this fold runs inside
 * an enclosing transformation its own arithmetic is recorded there: that is all `grad(grad(f))` needs.
 * The map is local to one call; nothing reachable from outside is mutated, so folding twice gives the same result.
 *
 * `extras` are values of other traces that this trace's nodes read (what `scan`'s and `remat`'s
 * bodies closed over): their cotangents are accumulated too and returned after the inputs'.
 * @internal
 */
export const backward = (
  trace: Trace,
  outputs: ReadonlyArray<Tensor>,
  cotangents: ReadonlyArray<Tensor>,
  inputs: ReadonlyArray<Tracer>,
  extras: ReadonlyArray<Tensor> = [],
): Tensor[] => {
  const order = topologicalOrder(trace, outputs)
  const acc = new Map<Tensor, Tensor>()
  const extra = new Set(extras)
  const accumulate = (t: Tensor, ct: Tensor): void => {
    const prev = acc.get(t)
    acc.set(t, prev === undefined ? ct : add(prev, ct))
  }
  outputs.forEach((o, i) => {
    if (o instanceof Tracer && o.trace === trace) accumulate(o, cotangents[i]!)
  })
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i]!
    const node = t.node
    const ct = acc.get(t)
    if (node === undefined || ct === undefined) continue
    // Inputs of the transformation keep their cotangent; intermediates are done with once folded.
    acc.delete(t)
    // Only tracers of this trace carry a derivative back; int32 values (indices, masks) never do.
    const isNeeded = (x: Tensor): boolean =>
      ((x instanceof Tracer && x.trace === trace) || extra.has(x)) && x.dtype !== 'int32'
    const inputCts = node.vjp(ct, t.primal, isNeeded)
    node.inputs.forEach((x, j) => {
      if (!isNeeded(x)) return
      const c = inputCts[j]
      if (c === undefined)
        throw new TraceError(node.op.name, `VJP skipped the cotangent of input ${j}, which is differentiated`)
      if (!shapesEqual(c.shape, x.shape))
        throw new TraceError(
          node.op.name,
          `VJP returned a cotangent of shape ${fmtShape(c.shape)} for input ${j} of shape ${fmtShape(x.shape)}`,
        )
      // Promotion can widen a cotangent (float32 input times float64 constant); it flows back in the input's dtype.
      accumulate(x, c.dtype === x.dtype ? c : astype(c, x.dtype))
    })
  }
  return [...inputs, ...extras].map((x) => acc.get(x) ?? zeros(x.shape, x.dtype))
}

/** Tracers of `trace` reachable from `outputs`, every value after the values it was computed from. */
const topologicalOrder = (trace: Trace, outputs: ReadonlyArray<Tensor>): Tracer[] => {
  const order: Tracer[] = []
  const visited = new Set<Tracer>()
  // Iterative post-order DFS: deep networks must not overflow the call stack.
  const stack: Array<{ t: Tracer; next: number }> = []
  const visit = (x: Tensor): void => {
    if (x instanceof Tracer && x.trace === trace && !visited.has(x)) {
      visited.add(x)
      stack.push({ t: x, next: 0 })
    }
  }
  for (const o of outputs) {
    visit(o)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const inputs = top.t.node?.inputs ?? []
      if (top.next < inputs.length) visit(inputs[top.next++]!)
      else {
        stack.pop()
        order.push(top.t)
      }
    }
  }
  return order
}
