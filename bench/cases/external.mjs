// Runs a case in a configuration outside Node: PyTorch on the CPU (`pytorch`, `pytorch-2-threads`,
// through /usr/bin/python3 and bench/external/torch_cases.py) or a C program calling OpenBLAS
// (`c-openblas`, bench/external/openblas.c, compiled with gcc on first use). Both come from Debian's
// packages, installed by `node bench/setup.mjs`. The case's inputs (the same seeded arrays every
// framework gets, from common.mjs) are written as raw float32 files beside a manifest, so every
// configuration starts from the same numbers; the program times the case with the same protocol as
// common.mjs (warm-up, median of timed calls, sustained mean) and prints one JSON line, which is
// emitted as this configuration's result.
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { emit, here, threadsOf, unsupported } from './common.mjs'

/** The system Python (Debian's python3-torch is installed for it, not for a pyenv shim). */
export const PYTHON = '/usr/bin/python3'
const TORCH_SCRIPT = join(here, '..', 'external', 'torch_cases.py')
const C_SOURCE = join(here, '..', 'external', 'openblas.c')
const EXTERNAL_TIMEOUT_MS = 170_000

export const isExternal = (framework) => framework.startsWith('pytorch') || framework === 'c-openblas'

/**
 * Compiles openblas.c once per source version into the temporary directory; returns the binary's
 * path, or throws with gcc's first error line.
 */
export const compileOpenblas = () => {
  const source = readFileSync(C_SOURCE)
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12)
  const dir = join(os.tmpdir(), 'backfold-bench-native')
  const binary = join(dir, `openblas-${hash}`)
  if (existsSync(binary)) return binary
  mkdirSync(dir, { recursive: true })
  try {
    execFileSync('gcc', ['-O3', '-march=native', '-o', binary, C_SOURCE, '-lopenblas', '-lm'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
  } catch (error) {
    const line = (error.stderr?.toString() ?? '').split('\n').find((l) => /error/.test(l))
    throw new Error(`gcc could not build bench/external/openblas.c: ${line ?? error.message}`)
  }
  return binary
}

/** Whether the system Python has torch (and numpy): `undefined` if so, else the reason. */
export const torchProblem = () => {
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' })
  if (r.error !== undefined) return `${PYTHON} not found (${r.error.code})`
  if (r.status !== 0)
    return `${PYTHON} cannot import torch/numpy (${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 120)}); run node bench/setup.mjs`
  return undefined
}

/**
 * Runs `bench` in an external configuration: `inputs` maps names to `{ data: Float32Array, shape }`,
 * `params` are the case's plain settings (batch, learning rate, ...). Emits the program's JSON line
 * with the bench, framework and backend, or the configuration as unsupported with the reason.
 */
export const runExternal = (bench, framework, inputs, params = {}) => {
  const threads = threadsOf(framework)
  let command
  let args
  if (framework.startsWith('pytorch')) {
    const problem = torchProblem()
    if (problem !== undefined) unsupported(bench, framework, problem)
    command = PYTHON
    args = [TORCH_SCRIPT]
  } else {
    try {
      command = compileOpenblas()
    } catch (error) {
      unsupported(bench, framework, error)
    }
    args = []
  }
  const dir = mkdtempSync(join(os.tmpdir(), `backfold-bench-${bench}-`))
  // The outcome is settled inside, reported after the temporary directory is gone (unsupported exits).
  let outcome
  try {
    const manifest = { bench, threads, params, inputs: {} }
    for (const [name, { data, shape }] of Object.entries(inputs)) {
      if (data.length !== shape.reduce((a, b) => a * b, 1))
        throw new Error(`input ${name}: ${data.length} values for shape [${shape}]`)
      writeFileSync(join(dir, `${name}.f32`), new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
      manifest.inputs[name] = shape
    }
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest))
    const threadEnv = String(threads)
    const child = spawnSync(command, [...args, bench, dir], {
      encoding: 'utf8',
      timeout: EXTERNAL_TIMEOUT_MS,
      maxBuffer: 16 * 2 ** 20,
      // The BLAS and OpenMP pools get the configuration's thread count too (torch.set_num_threads
      // does not size OpenBLAS's own pool).
      env: {
        ...process.env,
        OMP_NUM_THREADS: threadEnv,
        OPENBLAS_NUM_THREADS: threadEnv,
        MKL_NUM_THREADS: threadEnv,
      },
    })
    const line = (child.stdout ?? '')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('{'))
      .pop()
    if (child.status !== 0 || line === undefined)
      outcome = {
        error:
          child.error?.code === 'ETIMEDOUT'
            ? `timed out after ${EXTERNAL_TIMEOUT_MS / 1000} s`
            : ((child.stderr ?? '').trim().split('\n').filter(Boolean).pop() ?? `exit code ${child.status}`),
      }
    else outcome = JSON.parse(line)
  } catch (error) {
    outcome = { error: String(error?.message ?? error) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  if (outcome.error !== undefined) unsupported(bench, framework, outcome.error)
  emit({ bench, framework, ...outcome })
}
