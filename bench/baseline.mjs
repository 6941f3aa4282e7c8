// The main job as it was before the staged-execution work (issue 12): the repository at BASELINE_COMMIT,
// extracted with `git archive` into a temporary directory, installed offline-first and built once,
// then timed beside today's build. Reused across runs (keyed by the commit).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'

/**
 * The last commit before issue 12's work began (b53edc8, "docs: README shows vmap ..."; the next
 * commit on main, 04c47a9, is the first of the staging core): eager execution with the hand-written
 * fused kernels (dense+ReLU, softmax cross-entropy, Adam) that issue 12 retired. Issue 12's main-job
 * target ("at least 2x faster end to end than today") is measured against it.
 */
export const BASELINE_COMMIT = 'b53edc8'

const run = (command, args, cwd) =>
  execFileSync(command, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 })

/**
 * Returns `{ dir }` with the baseline checkout built under `dir`, or `{ error }` saying why it could
 * not be prepared (no git history in a shallow clone, no network for the install, ...).
 */
export const prepareBaseline = (root) => {
  const dir = join(os.tmpdir(), `backfold-baseline-${BASELINE_COMMIT}`)
  const built = join(dir, 'packages', 'nn', 'dist', 'index.js')
  if (existsSync(built)) return { dir }
  try {
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    const archive = join(dir, '..', `backfold-baseline-${BASELINE_COMMIT}.tar`)
    run('git', ['archive', '--format=tar', '-o', archive, BASELINE_COMMIT], root)
    run('tar', ['-xf', archive, '-C', dir], root)
    rmSync(archive, { force: true })
    run('npx', ['-y', 'pnpm@10', 'install', '--frozen-lockfile', '--prefer-offline'], dir)
    run('npx', ['-y', 'pnpm@10', '-r', '--filter', './packages/**', 'run', 'build'], dir)
    return existsSync(built) ? { dir } : { error: 'the baseline build produced no packages/nn/dist' }
  } catch (error) {
    const stderr = error?.stderr?.toString().trim().split('\n').at(-1)
    return { error: `could not prepare commit ${BASELINE_COMMIT}: ${stderr || error.message}` }
  }
}
