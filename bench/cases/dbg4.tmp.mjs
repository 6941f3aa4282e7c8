import { readFileSync } from 'node:fs'
import { loadTfjs } from './common.mjs'
const tf = await loadTfjs(process.argv[2])
const shapes = JSON.parse(readFileSync('/tmp/tdbg/names.json'))
const rd = (n) => new Float32Array(Uint8Array.from(readFileSync(`/tmp/tdbg/${n}.f32`)).buffer)
const vars = Object.fromEntries(Object.keys(shapes).map((n) => [n, tf.tensor(rd(n), shapes[n])]))
const batch = 32,
  seq = 64,
  dim = 128,
  heads = 4,
  head = 32
const x = tf.tensor(rd('x'), [batch * seq, dim])
const target = tf.tensor(rd('target'), [batch * seq, dim])
const maskData = new Float32Array(seq * seq).map((_, i) => (i % seq > Math.floor(i / seq) ? -1e9 : 0))
const mask = tf.tensor(maskData, [seq, seq])
const linear = (a, w, b) => tf.add(tf.matMul(a, vars[w], false, true), vars[b])
const layerNorm = (a, w, b) => {
  const { mean, variance } = tf.moments(a, -1, true)
  return tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, 1e-5))), vars[w]), vars[b])
}
const splitHeads = (a) =>
  tf.reshape(tf.transpose(tf.reshape(a, [batch, seq, heads, head]), [0, 2, 1, 3]), [batch * heads, seq, head])
const s = (t) => tf.sum(tf.abs(t)).dataSync()[0]
const n1 = layerNorm(x, 'norm1.weight', 'norm1.bias')
const qkv = linear(n1, 'self_attn.in_proj_weight', 'self_attn.in_proj_bias')
const [q, k, v] = tf.split(qkv, 3, -1).map(splitHeads)
const scores = tf.add(tf.div(tf.matMul(q, k, false, true), Math.sqrt(head)), mask)
const attended = tf.matMul(tf.softmax(scores, -1), v)
const merged = tf.reshape(tf.transpose(tf.reshape(attended, [batch, heads, seq, head]), [0, 2, 1, 3]), [
  batch * seq,
  dim,
])
const h = tf.add(x, linear(merged, 'self_attn.out_proj.weight', 'self_attn.out_proj.bias'))
const z = linear(layerNorm(h, 'norm2.weight', 'norm2.bias'), 'linear1.weight', 'linear1.bias')
const ge = tf.mul(tf.mul(z, 0.5), tf.add(1, tf.erf(tf.div(z, Math.SQRT2))))
const y = tf.add(h, linear(ge, 'linear2.weight', 'linear2.bias'))
console.log('n1', s(n1), 'qkv', s(qkv), 'a', s(merged), 'h', s(h), 'z', s(z), 'gelu', s(ge))
console.log('loss', tf.mean(tf.square(tf.sub(y, target))).dataSync()[0])
