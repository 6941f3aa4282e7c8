// One pre-norm transformer block training step (issue 15): batch 32, sequence 64, width 128, 4 heads,
// MLP ratio 4 (exact GELU), causal self-attention, layer norms of eps 1e-5, mean squared error against
// a target, Adam (lr 1e-3, β 0.9/0.999, ε 1e-8, bias-corrected, ε outside the square root as PyTorch).
// node bench/cases/transformer.mjs <framework>
// backfold runs `layers.transformerBlock({ heads: 4, causal: true })` of @backfold/nn with `adam`; every
// peer has the same block written by hand (PyTorch's TransformerEncoderLayer with norm_first, GELU and
// batch_first), and every configuration starts from the same parameter arrays (PyTorch's names and
// layouts), input and target, so their losses must agree.
import {
  frameworkArg,
  jaxBackendName,
  executorReport,
  loadBackfold,
  loadJax,
  loadTfjs,
  normalData,
  timeTrainingStep,
  unsupported,
} from './common.mjs'
import { isExternal, runExternal } from './external.mjs'
import { profileJitted } from './profile.mjs'

const framework = frameworkArg()
const batch = 32
const seq = 64
const dim = 128
const heads = 4
const head = dim / heads
const hidden = 4 * dim
const adam = { lr: 1e-3, b1: 0.9, b2: 0.999, eps: 1e-8 }

/** The block's parameters: PyTorch's names and shapes, weights normal(0, 1/√fan_in), small biases. */
const shapes = {
  'self_attn.in_proj_weight': [3 * dim, dim],
  'self_attn.in_proj_bias': [3 * dim],
  'self_attn.out_proj.weight': [dim, dim],
  'self_attn.out_proj.bias': [dim],
  'linear1.weight': [hidden, dim],
  'linear1.bias': [hidden],
  'linear2.weight': [dim, hidden],
  'linear2.bias': [dim],
  'norm1.weight': [dim],
  'norm1.bias': [dim],
  'norm2.weight': [dim],
  'norm2.bias': [dim],
}
const names = Object.keys(shapes)
const init = Object.fromEntries(
  names.map((name, i) => {
    const shape = shapes[name]
    const size = shape.reduce((a, b) => a * b, 1)
    if (name.startsWith('norm')) {
      // γ near 1, β near 0: not exactly 1 and 0, so a transposed or swapped norm parameter shows.
      const noise = normalData(60 + i, size, 0.05)
      return [name, name.endsWith('weight') ? noise.map((v) => 1 + v) : noise]
    }
    const scale = shape.length === 2 ? 1 / Math.sqrt(shape[1]) : 0.02
    return [name, normalData(60 + i, size, scale)]
  }),
)
const xData = normalData(7, batch * seq * dim)
const targetData = normalData(8, batch * seq * dim)
/** The additive causal mask [seq, seq]: 0 on and below the diagonal, a large negative number above. */
const maskData = new Float32Array(seq * seq).map((_, i) => (i % seq > Math.floor(i / seq) ? -1e9 : 0))

let step // one Adam step, returns the loss before the update
let backend
let extras // () => fields added to the result (the profile of backfold's jitted step)

if (isExternal(framework)) {
  if (!framework.startsWith('pytorch'))
    unsupported(
      'transformer',
      framework,
      'no C + OpenBLAS version of the transformer block (PyTorch runs it)',
    )
  const inputs = {
    x: { data: xData, shape: [batch, seq, dim] },
    target: { data: targetData, shape: [batch, seq, dim] },
  }
  for (const name of names) inputs[name] = { data: init[name], shape: shapes[name] }
  runExternal('transformer', framework, inputs, { batch, seq, dim, heads, paramOrder: names, ...adam })
  process.exit(0)
} else if (framework.startsWith('backfold')) {
  const { O, T, fromData, stage, checkExecutor, backend: name } = await loadBackfold(framework, 'transformer')
  const nn = await import('@backfold/nn')
  backend = name
  const p = (key) => fromData(init[key], shapes[key])
  let params = {
    self_attn: {
      in_proj_weight: p('self_attn.in_proj_weight'),
      in_proj_bias: p('self_attn.in_proj_bias'),
      out_proj: { weight: p('self_attn.out_proj.weight'), bias: p('self_attn.out_proj.bias') },
    },
    linear1: { weight: p('linear1.weight'), bias: p('linear1.bias') },
    linear2: { weight: p('linear2.weight'), bias: p('linear2.bias') },
    norm1: { weight: p('norm1.weight'), bias: p('norm1.bias') },
    norm2: { weight: p('norm2.weight'), bias: p('norm2.bias') },
  }
  const block = nn.layers.transformerBlock({ heads, causal: true })
  const optimizer = nn.adam(adam.lr, { b1: adam.b1, b2: adam.b2, eps: adam.eps })
  const x = fromData(xData, [batch, seq, dim])
  const target = fromData(targetData, [batch, seq, dim])
  const loss = (ps, inputs, targets) =>
    nn.meanSquaredError(block.apply(ps, {}, inputs, { training: false })[0], targets)
  const valueAndGrad = O.valueAndGrad(loss)
  const adamStep = stage(
    (ps, state, inputs, targets) => {
      const [value, grads] = valueAndGrad(ps, inputs, targets)
      const [next, nextState] = nn.applyGradients(optimizer, grads, state, ps)
      return [value, next, nextState]
    },
    { donate: [0, 1] },
  )
  let state = optimizer.init(params)
  let checked = false
  step = () => {
    const [value, next, nextState] = adamStep(params, state, x, target)
    params = next
    state = nextState
    if (!checked) {
      checkExecutor(adamStep)
      checked = true
    }
    return value.data[0]
  }
  extras = () => ({
    profile: profileJitted(T, framework, adamStep, [params, state, x, target]),
    executorStatus: executorReport(O, adamStep).status,
  })
} else if (framework.startsWith('tfjs')) {
  const tf = await loadTfjs(framework)
  backend = tf.getBackend()
  const vars = Object.fromEntries(names.map((n) => [n, tf.variable(tf.tensor(init[n], shapes[n]), true, n)]))
  const moments = Object.fromEntries(
    names.map((n) => [n, { m: tf.variable(tf.zeros(shapes[n])), v: tf.variable(tf.zeros(shapes[n])) }]),
  )
  const x = tf.tensor(xData, [batch * seq, dim])
  const target = tf.tensor(targetData, [batch * seq, dim])
  const mask = tf.tensor(maskData, [seq, seq])
  const linear = (a, w, b) => tf.add(tf.matMul(a, vars[w], false, true), vars[b])
  const layerNorm = (a, w, b) => {
    const { mean, variance } = tf.moments(a, -1, true)
    return tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, 1e-5))), vars[w]), vars[b])
  }
  const splitHeads = (a) =>
    tf.reshape(tf.transpose(tf.reshape(a, [batch, seq, heads, head]), [0, 2, 1, 3]), [
      batch * heads,
      seq,
      head,
    ])
  const lossFn = () => {
    const n1 = layerNorm(x, 'norm1.weight', 'norm1.bias')
    const [q, k, v] = tf
      .split(linear(n1, 'self_attn.in_proj_weight', 'self_attn.in_proj_bias'), 3, -1)
      .map(splitHeads)
    const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(head)), mask)
    const attended = tf.matMul(tf.softmax(scores, -1), v)
    const merged = tf.reshape(tf.transpose(tf.reshape(attended, [batch, heads, seq, head]), [0, 2, 1, 3]), [
      batch * seq,
      dim,
    ])
    const h = tf.add(x, linear(merged, 'self_attn.out_proj.weight', 'self_attn.out_proj.bias'))
    const z = linear(layerNorm(h, 'norm2.weight', 'norm2.bias'), 'linear1.weight', 'linear1.bias')
    const gelu = tf.mul(tf.mul(z, 0.5), tf.add(1, tf.erf(tf.div(z, Math.SQRT2))))
    const y = tf.add(h, linear(gelu, 'linear2.weight', 'linear2.bias'))
    // Row means first: one float32 mean over all 262,144 values drifts by ~7e-5 in the wasm
    // frameworks (a running float32 sum), beyond the agreement check's tolerance.
    return tf.mean(tf.mean(tf.square(tf.sub(y, target)), -1))
  }
  let count = 0
  step = async () => {
    count++
    const c1 = 1 - adam.b1 ** count
    const c2 = 1 - adam.b2 ** count
    const { value, grads } = tf.variableGrads(lossFn)
    tf.tidy(() => {
      for (const n of names) {
        const g = grads[n]
        const { m, v } = moments[n]
        m.assign(tf.add(tf.mul(m, adam.b1), tf.mul(g, 1 - adam.b1)))
        v.assign(tf.add(tf.mul(v, adam.b2), tf.mul(tf.square(g), 1 - adam.b2)))
        const update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), adam.eps))
        vars[n].assign(tf.sub(vars[n], tf.mul(update, adam.lr)))
      }
    })
    tf.dispose(grads)
    const [loss] = await value.data()
    value.dispose()
    return loss
  }
} else {
  const jax = await loadJax(framework)
  const { numpy: np, nn } = jax
  backend = jaxBackendName(framework)
  let params = Object.fromEntries(names.map((n) => [n, np.array(init[n]).reshape(shapes[n])]))
  let m = Object.fromEntries(names.map((n) => [n, np.zeros(shapes[n])]))
  let v = Object.fromEntries(names.map((n) => [n, np.zeros(shapes[n])]))
  const x = np.array(xData).reshape([batch * seq, dim])
  const target = np.array(targetData).reshape([batch * seq, dim])
  const mask = np.array(maskData).reshape([seq, seq])
  // jax-js functions take ownership of their arguments: every value read twice is read once through `.ref`.
  const linear = (a, w, b) => np.matmul(a, np.matrixTranspose(w)).add(b)
  const layerNorm = (a, w, b) => {
    const centred = a.ref.sub(np.mean(a, -1, { keepdims: true }))
    const variance = np.mean(np.square(centred.ref), -1, { keepdims: true })
    return centred
      .div(np.sqrt(variance.add(1e-5)))
      .mul(w)
      .add(b)
  }
  const splitHeads = (a) => a.reshape([batch, seq, heads, head]).transpose([0, 2, 1, 3])
  const loss = (p, inputs, targets, causal) => {
    const n1 = layerNorm(inputs.ref, p['norm1.weight'], p['norm1.bias'])
    const [q, k, vv] = np
      .split(linear(n1, p['self_attn.in_proj_weight'], p['self_attn.in_proj_bias']), 3, -1)
      .map(splitHeads)
    const scores = np
      .matmul(q, k.transpose([0, 1, 3, 2]))
      .div(Math.sqrt(head))
      .add(causal)
    const attended = np
      .matmul(nn.softmax(scores, -1), vv)
      .transpose([0, 2, 1, 3])
      .reshape([batch * seq, dim])
    const h = inputs.add(linear(attended, p['self_attn.out_proj.weight'], p['self_attn.out_proj.bias']))
    const z = linear(
      layerNorm(h.ref, p['norm2.weight'], p['norm2.bias']),
      p['linear1.weight'],
      p['linear1.bias'],
    )
    const y = h.add(linear(nn.gelu(z, { approximate: false }), p['linear2.weight'], p['linear2.bias']))
    // Row means first (see the TF.js loss above: a float32 running sum over 262,144 values drifts).
    return np.mean(np.mean(np.square(y.sub(targets)), -1))
  }
  const valueAndGrad = jax.valueAndGrad(loss)
  const update = (p, mp, vp, c1, c2, inputs, targets, causal) => {
    const [value, grads] = valueAndGrad(jax.tree.ref(p), inputs, targets, causal)
    const next = {}
    const nextM = {}
    const nextV = {}
    for (const n of names) {
      const g = grads[n]
      const m1 = mp[n].mul(adam.b1).add(g.ref.mul(1 - adam.b1))
      const v1 = vp[n].mul(adam.b2).add(np.square(g).mul(1 - adam.b2))
      const u = m1.ref.div(c1.ref).div(np.sqrt(v1.ref.div(c2.ref)).add(adam.eps))
      next[n] = p[n].sub(u.mul(adam.lr))
      nextM[n] = m1
      nextV[n] = v1
    }
    c1.dispose()
    c2.dispose()
    return [value, next, nextM, nextV]
  }
  const compiled = framework.startsWith('jax-jit') ? jax.jit(update) : update
  let count = 0
  step = async () => {
    count++
    const c1 = np.array([1 - adam.b1 ** count])
    const c2 = np.array([1 - adam.b2 ** count])
    const [value, next, nextM, nextV] = compiled(params, m, v, c1, c2, x.ref, target.ref, mask.ref)
    params = next
    m = nextM
    v = nextV
    await jax.blockUntilReady([params, m, v])
    const [loss0] = await value.data()
    return loss0
  }
}

await timeTrainingStep('transformer', framework, backend, batch, step, extras)
