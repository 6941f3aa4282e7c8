// The packaging test: npm-installed projects built from the packed packages (run after
// `pnpm run build`; `pnpm run test:packaging`). It shows that
//   1. when npm nests a second, different @backfold/ops under @backfold/nn (as an exact pin in nn's
//      dependencies used to make it do), loading both throws a DuplicatePackageError naming both
//      versions and paths, where the two copies used to run side by side and give zero gradients;
//   2. with the packages as published (siblings are peer dependencies with ^ ranges), npm installs
//      one copy even when the project holds another ops version than nn was built with, and
//      gradients flow; import and require reach that one copy.
// Offline apart from fp-ts and io-ts, which npm may fetch from the registry. About 20-40 s.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = fileURLToPath(new URL('..', import.meta.url))
const work = mkdtempSync(join(tmpdir(), 'backfold-two-copies-'))
const failures = []
const started = Date.now()

const run = (command, args, cwd) =>
  execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'))
const writeJson = (path, value) => writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`)
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
  if (!ok) failures.push(what)
}
/** Unpacks a tarball into `dir` (npm tarballs hold one `package/` folder) and returns that folder. */
const unpack = (tarball, dir) => {
  mkdirSync(dir, { recursive: true })
  run('tar', ['-xzf', tarball, '-C', dir])
  return join(dir, 'package')
}
const npmPack = (dir, destination) => {
  mkdirSync(destination, { recursive: true })
  const name = run('npm', ['pack', '--silent', '--pack-destination', destination], dir)
    .trim()
    .split('\n')
    .pop()
  return join(destination, name)
}
/** Runs `program` (an ES module) in `project`; returns the exit status and both streams. */
const node = (project, program) => {
  const file = join(project, 'program.mjs')
  writeFileSync(file, program)
  try {
    return { status: 0, out: run(process.execPath, [file], project), err: '' }
  } catch (error) {
    return { status: error.status ?? 1, out: String(error.stdout), err: String(error.stderr) }
  }
}
// Squared norms of the gradient of a small network's output, one per parameter: all nonzero
// when the gradient flows (two copies of ops used to give zeros here).
const GRADIENT_NORMS = `const net = N.layers.sequential(N.layers.dense(3), N.layers.tanh(), N.layers.dense(1))
const { params } = net.init(T.random.key(0), [2]).right
const x = T.tensor([[1, 2], [3, -1]])
const g = O.grad((p) => O.sum(net.apply(p, {}, x, { training: true })[0]))(params)
const norms = T.flatten(g).leaves.map((leaf) => T.toArray(leaf).reduce((s, v) => s + v * v, 0))
console.log(norms.every((n) => n > 0) ? 'nonzero' : 'zero: ' + JSON.stringify(norms))
`
const install = (project, dependencies) => {
  mkdirSync(project, { recursive: true })
  writeJson(join(project, 'package.json'), {
    name: 'app',
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies,
  })
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], project)
}

try {
  for (const pkg of ['tensor', 'ops', 'nn']) {
    if (!existsSync(join(root, 'packages', pkg, 'dist', 'index.js')))
      throw new Error(`packages/${pkg}/dist is missing: run \`pnpm run build\` first`)
  }

  // The packages as published: pnpm pack turns workspace:^ into ^<version>.
  const packed = join(work, 'packed')
  for (const pkg of ['tensor', 'ops', 'nn']) {
    run('npx', ['-y', 'pnpm@10', 'pack', '--pack-destination', packed], join(root, 'packages', pkg))
  }
  const tarball = (name) =>
    join(
      packed,
      readdirSync(packed).find((f) => f.startsWith(`backfold-${name}-`)),
    )
  const nnManifest = readJson(join(unpack(tarball('nn'), join(work, 'peek')), 'package.json'))
  check(
    nnManifest.peerDependencies?.['@backfold/ops']?.startsWith('^') &&
      nnManifest.dependencies?.['@backfold/ops'] === undefined,
    `the packed nn takes @backfold/ops as a peer dependency with a range (${JSON.stringify(nnManifest.peerDependencies)})`,
  )
  const opsVersion = readJson(join(root, 'packages/ops/package.json')).version
  const [major, minor, patch] = opsVersion.split('.').map(Number)
  const otherVersion = `${major}.${minor}.${patch + 1}`

  // A second ops release: the same sources built with the next patch version.
  const other = unpack(tarball('ops'), join(work, 'ops-other'))
  writeJson(join(other, 'package.json'), { ...readJson(join(other, 'package.json')), version: otherVersion })
  await build({
    entryPoints: [join(root, 'packages/ops/src/index.ts')],
    outfile: join(other, 'dist/index.js'),
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    packages: 'external',
    define: { __BACKFOLD_VERSION__: JSON.stringify(otherVersion) },
    logLevel: 'error',
  })
  const otherOps = npmPack(other, join(work, 'other'))

  // 1. nn pinning the other ops version in its dependencies: npm must nest it under nn.
  const pinned = unpack(tarball('nn'), join(work, 'nn-pinned'))
  const pinnedManifest = readJson(join(pinned, 'package.json'))
  if (pinnedManifest.peerDependencies !== undefined) delete pinnedManifest.peerDependencies['@backfold/ops']
  pinnedManifest.dependencies = { ...pinnedManifest.dependencies, '@backfold/ops': `file:${otherOps}` }
  writeJson(join(pinned, 'package.json'), pinnedManifest)
  const pinnedNn = npmPack(pinned, join(work, 'pinned'))
  const nested = join(work, 'nested')
  install(nested, {
    '@backfold/tensor': `file:${tarball('tensor')}`,
    '@backfold/ops': `file:${tarball('ops')}`,
    '@backfold/nn': `file:${pinnedNn}`,
  })
  const nestedOps = join(nested, 'node_modules/@backfold/nn/node_modules/@backfold/ops')
  check(
    existsSync(join(nestedOps, 'package.json')) &&
      readJson(join(nestedOps, 'package.json')).version === otherVersion,
    `npm nested @backfold/ops ${otherVersion} under @backfold/nn beside the project's ${opsVersion}`,
  )
  const loaded = node(
    nested,
    `import * as T from '@backfold/tensor'
import * as O from '@backfold/ops'
import * as N from '@backfold/nn'
${GRADIENT_NORMS}`,
  )
  const topUrl = `node_modules/@backfold/ops/dist/index.js`
  const nestedUrl = `node_modules/@backfold/nn/node_modules/@backfold/ops/dist/index.js`
  check(loaded.status !== 0, 'loading the project with two copies fails')
  check(
    /DuplicatePackageError: @backfold\/ops: two copies loaded in one process/.test(loaded.err),
    'with a DuplicatePackageError',
  )
  check(
    loaded.err.includes(`${opsVersion} from file://`) && loaded.err.includes(`${otherVersion} from file://`),
    `naming both versions (${opsVersion}, ${otherVersion})`,
  )
  check(loaded.err.includes(topUrl) && loaded.err.includes(nestedUrl), 'naming both paths')
  if (loaded.status === 0) console.log(`  the program ran; it printed ${loaded.out.trim()}`)

  // 2. As published: nn accepts ops ^${opsVersion}; the project's other version is used, once.
  const deduped = join(work, 'deduped')
  install(deduped, {
    '@backfold/tensor': `file:${tarball('tensor')}`,
    '@backfold/ops': `file:${otherOps}`,
    '@backfold/nn': `file:${tarball('nn')}`,
  })
  check(
    !existsSync(join(deduped, 'node_modules/@backfold/nn/node_modules')),
    'with peer dependencies npm installs one copy of each',
  )
  const works = node(
    deduped,
    `import { createRequire } from 'node:module'
import * as T from '@backfold/tensor'
import * as O from '@backfold/ops'
import * as N from '@backfold/nn'
const require = createRequire(import.meta.url)
if (require('@backfold/ops') !== O || require('@backfold/tensor') !== T) throw new Error('require loaded a second copy')
${GRADIENT_NORMS}`,
  )
  check(
    works.status === 0 && works.out.trim() === 'nonzero',
    `gradients flow through the one copy (${works.out.trim() || works.err.trim().split('\n')[0]})`,
  )
} catch (error) {
  failures.push(String(error?.stack ?? error))
  console.error(error)
} finally {
  rmSync(work, { recursive: true, force: true })
}

const seconds = ((Date.now() - started) / 1000).toFixed(1)
if (failures.length > 0) {
  console.error(`two-copies: ${failures.length} check(s) failed (${seconds} s)`)
  console.log('0 passed, 1 failed')
  process.exit(1)
}
console.log(
  `two-copies: a second copy of @backfold/ops refuses to load; peer ranges give one copy (${seconds} s)`,
)
