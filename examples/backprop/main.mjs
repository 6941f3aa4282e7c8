// The classic backpropagation network: sigmoid layers z = W a + b, a' = σ(z), the quadratic cost
// C = 1/(2n) Σ ||y − a^L||² plus the L2 penalty λ/2 Σ ||W||², trained by plain gradient descent.
//
// Nobody writes a derivative here: `grad` folds the VJPs of matmul, add and sigmoid. To *show* the
// four equations we also differentiate with respect to ε^l, a zero added to z^l: ∂C/∂ε^l is δ^l by
// definition. On one sample we print δ for every layer and check ∂C/∂b^l = δ^l and
// ∂C/∂W^l = δ^l (a^{l-1})ᵀ + λ W^l.
//
// Run: npx -y pnpm@10 run build && node examples/backprop/main.mjs
import { add, grad, matmul, mul, sigmoid, square, sub, sum, tensor, zeros, toArray } from '@backfold/ops'
import { random } from '@backfold/tensor'

const sizes = [3, 8, 6, 2]
const lambda = 1e-3
const learningRate = 4

// Data: for binary inputs x, targets y = [x0 xor x1, x2].
const inputs = []
for (let i = 0; i < 8; i++) inputs.push([(i >> 2) & 1, (i >> 1) & 1, i & 1])
const targets = inputs.map(([a, b, c]) => [a !== b ? 1 : 0, c])
const X = tensor(inputs)
const Y = tensor(targets)

const keys = random.split(random.key(1), sizes.length - 1)
let params = sizes.slice(1).map((out, l) => ({
  W: random.normal(keys[l], [out, sizes[l]]),
  b: zeros([out]),
}))
const noShift = sizes.slice(1).map((out) => zeros([out]))

const forward = (ps, eps, xs) => {
  let a = xs
  const activations = [a]
  ps.forEach((p, l) => {
    a = sigmoid(add(add(matmul(a, p.W, { transposeB: true }), p.b), eps[l])) // a = σ(W a + b + ε)
    activations.push(a)
  })
  return activations
}
const cost = (ps, eps, xs, ys) => {
  const activations = forward(ps, eps, xs)
  const aL = activations[activations.length - 1]
  const quadratic = mul(sum(square(sub(ys, aL))), 1 / (2 * xs.shape[0]))
  const penalty = ps.reduce((acc, p) => add(acc, sum(square(p.W))), zeros([]))
  return add(quadratic, mul(penalty, lambda / 2))
}
const gradients = grad(cost, { argnums: [0, 1] })

const fmt = (values) => `[${values.map((v) => v.toFixed(5)).join(', ')}]`

for (let epoch = 0; epoch <= 3000; epoch++) {
  const [g] = gradients(params, noShift, X, Y)
  if (epoch % 500 === 0)
    console.log(
      `epoch ${String(epoch).padStart(4)}  cost ${toArray(cost(params, noShift, X, Y))[0].toFixed(6)}`,
    )
  params = params.map((p, l) => ({
    W: sub(p.W, mul(g[l].W, learningRate)),
    b: sub(p.b, mul(g[l].b, learningRate)),
  }))
}

// One sample: δ^l = ∂C/∂ε^l, and the equations it satisfies.
const x1 = tensor([inputs[5]])
const y1 = tensor([targets[5]])
const [gParams, deltas] = gradients(params, noShift, x1, y1)
const activations = forward(params, noShift, x1)
console.log(`\nsample x = ${JSON.stringify(inputs[5])}, y = ${JSON.stringify(targets[5])}`)
let worst = 0
for (let l = params.length - 1; l >= 0; l--) {
  const delta = toArray(deltas[l])
  const aPrev = toArray(activations[l])
  console.log(`δ^${l + 1} = ${fmt(delta)}`)
  // ∂C/∂b = δ
  toArray(gParams[l].b).forEach((v, j) => (worst = Math.max(worst, Math.abs(v - delta[j]))))
  // ∂C/∂W = δ aᵀ + λ W
  const W = toArray(params[l].W)
  toArray(gParams[l].W).forEach((v, i) => {
    const j = Math.floor(i / aPrev.length)
    const k = i % aPrev.length
    worst = Math.max(worst, Math.abs(v - (delta[j] * aPrev[k] + lambda * W[i])))
  })
}
console.log(`\nlargest disagreement with ∂C/∂b = δ and ∂C/∂W = δ aᵀ + λW: ${worst.toExponential(2)}`)
const predictions = toArray(forward(params, noShift, X, Y)[sizes.length - 1]).map((p) => (p > 0.5 ? 1 : 0))
const correct = predictions.filter((p, i) => p === targets.flat()[i]).length
console.log(`training outputs correct: ${correct}/${predictions.length}`)
if (worst > 1e-5) process.exit(1)
