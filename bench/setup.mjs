// Installs what the native configurations of the benchmark need, from Debian's packages:
// PyTorch on the CPU for the system Python (`pytorch`, `pytorch-2-threads`), NumPy, OpenBLAS and gcc
// (the `c-openblas` program), then builds that program once. Run by `npx -y pnpm@10 run bench` before
// bench/run.mjs, or alone: `npx -y pnpm@10 run bench:setup` (`node bench/setup.mjs [--check]`).
// apt-get needs root (there is no sudo here); without it, or with --check, it only says what is
// missing. It never fails the benchmark: a configuration whose tools are missing reports itself
// unsupported, with the reason, in the report.
import { spawnSync } from 'node:child_process'
import { compileOpenblas, PYTHON, torchProblem } from './cases/external.mjs'

const PACKAGES = ['python3-torch', 'python3-numpy', 'libopenblas-dev', 'gcc']
const checkOnly = process.argv.includes('--check')

const has = (command, args) => {
  const r = spawnSync(command, args, { encoding: 'utf8' })
  return r.error === undefined && r.status === 0
}
/** What is missing, by Debian package. */
const missing = () => {
  const gone = []
  if (torchProblem() !== undefined) gone.push('python3-torch', 'python3-numpy')
  if (!has('gcc', ['--version'])) gone.push('gcc')
  // The C program's headers and library: compile a one-line program against them.
  const probe = spawnSync('gcc', ['-x', 'c', '-o', '/dev/null', '-', '-lopenblas'], {
    input: '#include <cblas.h>\nint main(void) { return openblas_get_num_threads() < 0; }\n',
    encoding: 'utf8',
  })
  if (probe.error !== undefined || probe.status !== 0) gone.push('libopenblas-dev')
  return [...new Set(gone)]
}

const run = (command, args) => {
  console.log(`bench setup: ${command} ${args.join(' ')}`)
  const r = spawnSync(command, args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  return r.error === undefined && r.status === 0
}

let gone = missing()
if (gone.length > 0 && !checkOnly) {
  const root = typeof process.getuid === 'function' && process.getuid() === 0
  if (!root || !has('apt-get', ['--version'])) {
    console.log(
      `bench setup: missing ${gone.join(', ')}; install them as root: apt-get install -y --no-install-recommends ${PACKAGES.join(' ')}`,
    )
  } else {
    const install = ['install', '-y', '--no-install-recommends', ...PACKAGES]
    if (!run('apt-get', install)) {
      // A stale or empty package index: refresh it once and retry.
      run('apt-get', ['update'])
      run('apt-get', install)
    }
    gone = missing()
  }
}
if (gone.length > 0)
  console.log(
    `bench setup: still missing ${gone.join(', ')}: those configurations will be reported unsupported`,
  )
else {
  const torch = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' })
  console.log(`bench setup: PyTorch ${torch.stdout.trim()} for ${PYTHON}, gcc and OpenBLAS present`)
  try {
    console.log(`bench setup: C + OpenBLAS program built: ${compileOpenblas()}`)
  } catch (error) {
    console.log(`bench setup: ${error.message}`)
  }
}
