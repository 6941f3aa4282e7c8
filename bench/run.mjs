// Runs every benchmark configuration in its own process (so JIT state and heap never leak between
// them), then writes docs/benchmarks.md. Usage: node bench/run.mjs  (after building the packages)
import { execFileSync } from 'node:child_process'
import { writeFileSync, mkdirSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const run = (script) => {
  const out = execFileSync(process.execPath, [`${here}${script}`], { encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').pop())
}

const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}, ${os.platform()} ${os.arch()}`
console.log(`machine: ${machine}`)
const overhead = run('overhead.mjs')
console.log(overhead)

const fmt = (v) => v.toFixed(2)
const md = `# Benchmarks

Produced by \`npx -y pnpm@10 run bench\` (each configuration in its own process, warm-up, then the
median of 7 runs). Machine: ${machine}. Date: ${new Date().toISOString().slice(0, 10)}.

## Per-op overhead on tiny tensors (float32, 4 elements)

A chain of ${64} elementwise ops (mul, sin, add, tanh), outside any transformation and under \`grad\`.

| configuration | µs per op |
| --- | --- |
| eager (no transformation) | ${fmt(overhead.eagerMicrosPerOp)} |
| inside \`grad\` (forward + recorded node + its VJP in the fold), per forward op | ${fmt(overhead.gradMicrosPerForwardOp)} |
`
mkdirSync(`${here}../docs`, { recursive: true })
writeFileSync(`${here}../docs/benchmarks.md`, md)
console.log('wrote docs/benchmarks.md')
