// Where a jitted step's time goes: its optimised graph (`jitted.stats().lastGraph`) replayed one
// equation at a time, each equation's op applied alone to the step's own arguments (the parameters
// as they are after the timed steps: random data of the recorded shapes would make activations and
// erf's slow tail unrepresentative; normal(0, 1) floats and zero integers only when no arguments are
// given; constants as staged) on the same backend and threads, several rounds, the
// median time per equation summed by op name. Replayed alone, an equation pays what the resident
// executor saves (its copies into and out of wasm memory, the allocation of its result), so the
// replay's total is above the jitted step's time; the split between op kinds is what it is for.
// Used by the training-step cases for the backfold configurations; bench/run.mjs turns it into the
// explanation printed under a missed target.
import { normalData } from './common.mjs'

const prod = (xs) => xs.reduce((a, b) => a * b, 1)

/** Multiply-adds ×2 of a matmul-like equation (matmul, matmulEpilogue), else undefined. */
const flopsOf = (eq) => {
  const name = eq.op.name
  if (name === 'matmul' || name === 'matmulEpilogue') {
    const a = eq.inputs[0].shape
    const transposeA = eq.params?.transposeA === true || eq.params?.matmul?.transposeA === true
    const k = transposeA ? a.at(-2) : a.at(-1)
    return 2 * prod(eq.output.shape) * k
  }
  if (name === 'conv2d') {
    const w = eq.inputs[1].shape // [out, in / groups, kh, kw]
    return 2 * prod(eq.output.shape) * w[1] * w[2] * w[3]
  }
  return undefined
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]
}

/**
 * Profiles `graph` on backend tensors: `{ equations, replayMs, byOp: [{ op, count, ms, share,
 * gflop?, gflops? }] }`, ops sorted by time. Up to `rounds` replays of the whole graph (after one
 * warm-up replay; at least 3, no more once 5 s are spent); each equation's figure is its median.
 */
export const profileGraph = (T, graph, { rounds = 7, args } = {}) => {
  const env = new Map()
  const leaves = args === undefined ? undefined : args.flatMap((a) => T.flatten(a).leaves)
  const real =
    leaves !== undefined &&
    leaves.length === graph.inputs.length &&
    leaves.every(
      (x, i) => x.dtype === graph.inputs[i].dtype && x.shape.join() === graph.inputs[i].shape.join(),
    )
  const random = (v, seed) =>
    v.dtype === 'int32'
      ? T.zeros(v.shape, 'int32')
      : T.unsafeTensor(
          v.dtype,
          v.shape,
          v.dtype === 'float64'
            ? Float64Array.from(normalData(seed, prod(v.shape)))
            : normalData(seed, prod(v.shape)),
        )
  graph.inputs.forEach((v, i) => env.set(v.id, real ? leaves[i] : random(v, 900 + i)))
  for (const c of graph.constants) env.set(c.variable.id, c.value)
  const times = graph.equations.map(() => [])
  const started = performance.now()
  // Two warm-up replays (past V8's baseline wasm tier), then up to `rounds` (at least 3, fewer once
  // 5 s are spent: a large graph).
  const warmup = 2
  for (
    let round = 0;
    round < warmup + rounds && (round < warmup + 3 || performance.now() - started < 5000);
    round++
  ) {
    graph.equations.forEach((eq, i) => {
      const xs = eq.inputs.map((v) => env.get(v.id))
      const t0 = performance.now()
      const y = eq.op.forward(xs, eq.params)
      // Reading the data makes a lazy result (if any) compute inside the timed region.
      void y.data
      const ms = performance.now() - t0
      env.set(eq.output.id, y)
      if (round >= warmup) times[i].push(ms)
    })
  }
  const byName = new Map()
  graph.equations.forEach((eq, i) => {
    const entry = byName.get(eq.op.name) ?? { op: eq.op.name, count: 0, ms: 0, flops: 0 }
    entry.count++
    entry.ms += median(times[i])
    entry.flops += flopsOf(eq) ?? 0
    byName.set(eq.op.name, entry)
  })
  const replayMs = [...byName.values()].reduce((a, e) => a + e.ms, 0)
  const byOp = [...byName.values()]
    .sort((a, b) => b.ms - a.ms)
    .map(({ op, count, ms, flops }) => ({
      op,
      count,
      ms,
      share: ms / replayMs,
      ...(flops > 0 ? { gflop: flops / 1e9, gflops: flops / (ms * 1e6) } : {}),
    }))
  return {
    equations: graph.equations.length,
    inputs: real ? 'the step arguments' : 'normal(0, 1) data',
    replayMs,
    byOp,
  }
}

/**
 * The profile of a jitted step for `backfold` and `backfold-2-threads`, or undefined (other
 * configurations, or no graph staged). `args`: the step's arguments (trees of tensors) to replay on.
 */
export const profileJitted = (T, framework, jitted, args) => {
  // The wasm-executor configurations the targets rest on (the reference backend's replay is slow).
  if (framework !== 'backfold' && framework !== 'backfold-2-threads') return undefined
  const graph = typeof jitted?.stats === 'function' ? jitted.stats().lastGraph : undefined
  if (graph === undefined) return undefined
  try {
    return profileGraph(T, graph, { args })
  } catch (error) {
    return { error: String(error?.message ?? error).split('\n')[0] }
  }
}
