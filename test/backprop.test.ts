/**
 * The backpropagation equations, proven. For z^l = W^l a^{l-1} + b^l, a^l = f(z^l):
 *
 *   δ^L = ∇_a C ⊙ f'(z^L)                    output error
 *   δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ f'(z^l)      error folded back one layer
 *   ∂C/∂b^l = δ^l                              bias gradient
 *   ∂C/∂W^l = δ^l (a^{l-1})ᵀ (+ λ W^l)         weight gradient (+ L2 penalty)
 *
 * Each network is built twice: once with backfold ops and `grad` (nobody writes a derivative), once
 * here with plain loops written from the equations alone (no backfold op). In float64 they agree to 1e-10.
 */
import { describe, expect, it } from 'vitest'
import { random, unsafeTensor, type Tensor } from '@backfold/tensor'
import {
  add,
  concat,
  grad,
  matmul,
  mean,
  mul,
  ones,
  sigmoid,
  slice,
  softmaxCrossEntropy,
  square,
  sub,
  sum,
  tanh,
} from '@backfold/ops'

type Matrix = number[][] // row-major, [rows][cols]

const sizes = [4, 6, 5, 3] as const // input, two hidden, output
const n = 7 // examples
const lambda = 0.03

const draw = (seed: number, rows: number, cols: number, scale = 1): Matrix => {
  const data = random.normal(random.key(seed), [rows, cols], { dtype: 'float64' }).data
  return Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => data[i * cols + j]! * scale),
  )
}
const toTensor = (m: Matrix): Tensor =>
  unsafeTensor('float64', [m.length, m[0]!.length], Float64Array.from(m.flat()))
const toVector = (v: number[]): Tensor => unsafeTensor('float64', [v.length], Float64Array.from(v))
const fromTensor = (t: Tensor): Matrix => {
  const cols = t.shape[t.shape.length - 1]!
  const rows = t.data.length / cols
  return Array.from({ length: rows }, (_, i) => Array.from(t.data.subarray(i * cols, (i + 1) * cols)))
}
const maxDiff = (a: Matrix, b: Matrix): number =>
  Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i]![j]!))))

const σ = (z: number): number => 1 / (1 + Math.exp(-z))

// Plain-loop reference: forward pass per example, then the four equations.
interface Layer {
  readonly W: Matrix // [out][in]
  readonly b: number[]
}
interface Network {
  /** Hidden activation f and its derivative f'. */
  readonly hidden: readonly [(z: number) => number, (z: number) => number]
  /** Output activation (identity when the loss takes logits). */
  readonly output: (z: number) => number
  /** δ^L for one example (already divided by n, since C is a mean over examples). */
  readonly outputError: (aL: number[], zL: number[], y: number[]) => number[]
}
const referenceGradients = (
  layers: ReadonlyArray<Layer>,
  X: Matrix,
  Y: Matrix,
  net: Network,
): Array<{ dW: Matrix; db: number[] }> => {
  const [f, fPrime] = net.hidden
  const last = layers.length - 1
  const grads = layers.map((L) => ({ dW: L.W.map((r) => r.map(() => 0)), db: L.b.map(() => 0) }))
  X.forEach((x, e) => {
    const as: number[][] = [x]
    const zs: number[][] = []
    layers.forEach((L, l) => {
      const a = as[l]!
      const z = L.W.map((row, j) => row.reduce((s, w, k) => s + w * a[k]!, L.b[j]!)) // z = W a + b
      zs.push(z)
      as.push(z.map(l === last ? net.output : f))
    })
    let delta = net.outputError(as[last + 1]!, zs[last]!, Y[e]!)
    for (let l = last; l >= 0; l--) {
      const a = as[l]!
      delta.forEach((d, j) => {
        grads[l]!.db[j]! += d // ∂C/∂b = δ
        a.forEach((ak, k) => {
          grads[l]!.dW[j]![k]! += d * ak // ∂C/∂W = δ aᵀ
        })
      })
      if (l > 0) {
        const W = layers[l]!.W
        // δ^{l-1} = (Wᵀ δ^l) ⊙ f'(z^{l-1})
        delta = zs[l - 1]!.map((z, k) => W.reduce((s, row, j) => s + row[k]! * delta[j]!, 0) * fPrime(z))
      }
    }
  })
  // + λ ∇Ω with Ω = ½ Σ ||W||² (weights only, never biases)
  layers.forEach((L, l) =>
    L.W.forEach((row, j) => row.forEach((w, k) => (grads[l]!.dW[j]![k]! += lambda * w))),
  )
  return grads
}

const sigmoidNetwork: Network = {
  hidden: [σ, (z) => σ(z) * (1 - σ(z))],
  output: σ,
  // δ^L = (a^L − y) ⊙ σ'(z^L)
  outputError: (aL, zL, y) => aL.map((a, j) => ((a - y[j]!) * σ(zL[j]!) * (1 - σ(zL[j]!))) / n),
}

const tanhSoftmaxNetwork: Network = {
  hidden: [Math.tanh, (z) => 1 - Math.tanh(z) ** 2],
  output: (z) => z,
  // δ^L = softmax(z^L) − y
  outputError: (_aL, zL, y) => {
    const m = Math.max(...zL)
    const exps = zL.map((z) => Math.exp(z - m))
    const total = exps.reduce((s, v) => s + v, 0)
    return exps.map((v, j) => (v / total - y[j]!) / n)
  },
}

const makeLayers = (seed: number): Layer[] =>
  sizes.slice(1).map((out, l) => ({
    W: draw(seed + 2 * l, out, sizes[l]!, 0.7),
    b: draw(seed + 2 * l + 1, 1, out, 0.3)[0]!,
  }))

const X = draw(100, n, sizes[0])
const Ytargets = draw(101, n, sizes[3]).map((r) => r.map((v) => σ(v))) // targets in (0,1)

describe('the four backpropagation equations come out of the fold', () => {
  it('sigmoid layers, quadratic cost C = 1/(2n) Σ ||y − a^L||², L2 penalty λ/2 Σ ||W||²', () => {
    const layers = makeLayers(1)
    type Params = ReadonlyArray<{ readonly W: Tensor; readonly b: Tensor }>
    const params: Params = layers.map((L) => ({ W: toTensor(L.W), b: toVector(L.b) }))
    const cost = (ps: Params, x: Tensor, y: Tensor): Tensor => {
      let a = x
      for (const p of ps) a = sigmoid(add(matmul(a, p.W, { transposeB: true }), p.b)) // z = W a + b, batch-major
      const quadratic = mul(sum(square(sub(y, a))), 1 / (2 * n))
      const penalty = ps.reduce<Tensor>(
        (acc, p) => add(acc, sum(square(p.W))),
        unsafeTensor('float64', [], Float64Array.of(0)),
      )
      return add(quadratic, mul(penalty, lambda / 2))
    }
    const g = grad(cost)(params, toTensor(X), toTensor(Ytargets))

    const expected = referenceGradients(layers, X, Ytargets, sigmoidNetwork)
    g.forEach((gl, l) => {
      expect(maxDiff(fromTensor(gl.W), expected[l]!.dW)).toBeLessThan(1e-10)
      expect(maxDiff([Array.from(gl.b.data)], [expected[l]!.db])).toBeLessThan(1e-10)
    })
  })

  it('the bias-column convention: Θ of size n × (m+1) acting on [1; a], penalty excluding the bias column', () => {
    const layers = makeLayers(11)
    // Θ = [b | W]
    const thetas = layers.map((L) => toTensor(L.W.map((row, j) => [L.b[j]!, ...row])))
    const cost = (Θs: ReadonlyArray<Tensor>, x: Tensor, y: Tensor): Tensor => {
      let a = x
      for (const Θ of Θs) {
        const withOne = concat([ones([n, 1], 'float64'), a], { axis: 1 }) // [1; a] per example
        a = sigmoid(matmul(withOne, Θ, { transposeB: true }))
      }
      const quadratic = mul(sum(square(sub(y, a))), 1 / (2 * n))
      const penalty = Θs.reduce<Tensor>(
        (acc, Θ) => add(acc, sum(square(slice(Θ, [undefined, { start: 1 }])))),
        unsafeTensor('float64', [], Float64Array.of(0)),
      )
      return add(quadratic, mul(penalty, lambda / 2))
    }
    const g = grad(cost)(thetas, toTensor(X), toTensor(Ytargets))
    const expected = referenceGradients(layers, X, Ytargets, sigmoidNetwork)
    g.forEach((gΘ, l) => {
      // ∂C/∂Θ = δ [1; a]ᵀ (+ λΘ off the bias column): column 0 is ∂C/∂b, the rest ∂C/∂W
      const expectedΘ = expected[l]!.dW.map((row, j) => [expected[l]!.db[j]!, ...row])
      expect(maxDiff(fromTensor(gΘ), expectedΘ)).toBeLessThan(1e-10)
    })
  })

  it('tanh hidden layers with a softmax cross-entropy output: δ^L = softmax(z^L) − y', () => {
    const layers = makeLayers(21)
    const labels = Array.from({ length: n }, (_, e) => e % sizes[3])
    const Y = labels.map((c) => Array.from({ length: sizes[3] }, (_, j) => (j === c ? 1 : 0)))
    type Params = ReadonlyArray<{ readonly W: Tensor; readonly b: Tensor }>
    const params: Params = layers.map((L) => ({ W: toTensor(L.W), b: toVector(L.b) }))
    const cost = (ps: Params, x: Tensor, y: Tensor): Tensor => {
      let a = x
      ps.forEach((p, l) => {
        const z = add(matmul(a, p.W, { transposeB: true }), p.b)
        a = l === ps.length - 1 ? z : tanh(z) // the output layer's logits go to the fused loss
      })
      const penalty = ps.reduce<Tensor>(
        (acc, p) => add(acc, sum(square(p.W))),
        unsafeTensor('float64', [], Float64Array.of(0)),
      )
      return add(mean(softmaxCrossEntropy(a, y)), mul(penalty, lambda / 2))
    }
    const g = grad(cost)(params, toTensor(X), toTensor(Y))
    const tanhLayersRef = referenceGradients(layers, X, Y, tanhSoftmaxNetwork)
    g.forEach((gl, l) => {
      expect(maxDiff(fromTensor(gl.W), tanhLayersRef[l]!.dW)).toBeLessThan(1e-10)
      expect(maxDiff([Array.from(gl.b.data)], [tanhLayersRef[l]!.db])).toBeLessThan(1e-10)
    })
  })
})
