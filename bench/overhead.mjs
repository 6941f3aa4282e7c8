// Per-op overhead on tiny tensors: the cost of dispatch, validation, allocation and (inside grad)
// tracing plus the backward fold, which dominates small models. Prints one JSON line.
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'

const OPS_PER_CALL = 64
const x = T.tensor([1, 2, 3, 4])

const chain = (v) => {
  let y = v
  for (let i = 0; i < OPS_PER_CALL / 4; i++) y = O.tanh(O.add(O.mul(y, 0.5), O.sin(y)))
  return y
}
const eager = () => chain(x)
const withGrad = O.grad((v) => O.sum(chain(v)))
const gradCall = () => withGrad(x)

const measure = (fn, opsPerCall) => {
  for (let i = 0; i < 200; i++) fn() // warm-up (JIT)
  const runs = []
  for (let r = 0; r < 7; r++) {
    const n = 300
    const t0 = performance.now()
    for (let i = 0; i < n; i++) fn()
    runs.push(((performance.now() - t0) * 1000) / (n * opsPerCall))
  }
  runs.sort((a, b) => a - b)
  return runs[3]
}

console.log(
  JSON.stringify({
    bench: 'overhead',
    eagerMicrosPerOp: measure(eager, OPS_PER_CALL),
    // forward ops recorded + their VJPs (each VJP is itself ~1-3 ops) + the final sum
    gradMicrosPerForwardOp: measure(gradCall, OPS_PER_CALL + 1),
  }),
)
