// The package-health check (run after `pnpm run build`; `pnpm run test:package`): each package is
// packed with `pnpm pack`, exactly as `pnpm run release` publishes it, and the tarball is checked:
//   1. its package.json holds no `workspace:` range (pnpm rewrote `workspace:^` peers to `^<version>`)
//      and the metadata npm shows (repository with its directory, homepage, bugs, keywords, license,
//      public access) and a LICENSE file;
//   2. publint (strict: warnings fail too) finds nothing wrong with its exports and files;
//   3. arethetypeswrong finds every entry point's types under node10, node16 (CJS and ESM) and
//      bundler resolution (`@backfold/nn/node` under node10 needs `typesVersions`).
// Offline: the tarballs are local, and neither tool fetches anything (`--no-definitely-typed`).
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const PACKAGES = ['tensor', 'ops', 'nn']
const bin = (name) => join(root, 'node_modules', '.bin', name)

// Under `pnpm run`, npm_execpath is the running pnpm; elsewhere use pnpm 10 through npx.
const execPath = process.env.npm_execpath ?? ''
const pnpm = /pnpm/.test(execPath) ? [process.execPath, execPath] : ['npx', '-y', 'pnpm@10']

const failures = []
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
  if (!ok) failures.push(what)
}

for (const name of PACKAGES) {
  if (!existsSync(join(root, 'packages', name, 'dist', 'index.js'))) {
    console.error(`package-health: packages/${name}/dist is missing; run \`pnpm run build\` first`)
    process.exit(1)
  }
}

const work = mkdtempSync(join(tmpdir(), 'backfold-package-health-'))
try {
  for (const name of PACKAGES) {
    const dir = join(root, 'packages', name)
    const source = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    const out = execFileSync(pnpm[0], [...pnpm.slice(1), 'pack', '--pack-destination', work], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const tarball = out
      .trim()
      .split('\n')
      .map((line) => line.trim())
      .findLast((line) => line.endsWith('.tgz'))
    if (tarball === undefined || !existsSync(tarball))
      throw new Error(`pnpm pack printed no tarball:\n${out}`)
    const text = execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' })
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n')
    const packed = JSON.parse(text)
    const label = `${packed.name}@${packed.version}`

    check(!text.includes('workspace:'), `${label}: no workspace: range in the packed package.json`)
    for (const [dep, range] of Object.entries(source.peerDependencies ?? {})) {
      // Only the sibling packages have workspace ranges (onnxruntime-node is an optional npm peer).
      if (!dep.startsWith('@backfold/')) continue
      const sibling = JSON.parse(
        readFileSync(join(root, 'packages', dep.replace('@backfold/', ''), 'package.json'), 'utf8'),
      )
      check(
        range !== 'workspace:^' || packed.peerDependencies?.[dep] === `^${sibling.version}`,
        `${label}: peer ${dep} packed as ^${sibling.version} (${packed.peerDependencies?.[dep]})`,
      )
    }
    check(
      packed.repository?.url?.startsWith('git+https://') &&
        packed.repository?.directory === `packages/${name}`,
      `${label}: repository with directory packages/${name}`,
    )
    check(
      typeof packed.homepage === 'string' && typeof packed.bugs?.url === 'string',
      `${label}: homepage and bugs`,
    )
    check(Array.isArray(packed.keywords) && packed.keywords.length > 0, `${label}: keywords`)
    check(
      packed.license === 'MIT' && files.includes('package/LICENSE'),
      `${label}: license MIT with its LICENSE file`,
    )
    check(packed.publishConfig?.access === 'public', `${label}: publishConfig.access public`)

    const publint = spawnSync(bin('publint'), ['run', tarball, '--strict'], { encoding: 'utf8' })
    const publintOut = `${publint.stdout}${publint.stderr}`.trim()
    check(publint.status === 0, `${label}: publint --strict`)
    if (publint.status !== 0) console.log(publintOut)

    const attw = spawnSync(
      bin('attw'),
      [
        tarball,
        '--profile',
        'strict',
        '--no-definitely-typed',
        '--no-emoji',
        '--no-color',
        '--format',
        'ascii',
      ],
      { encoding: 'utf8' },
    )
    check(attw.status === 0, `${label}: arethetypeswrong (node10, node16 CJS/ESM, bundler)`)
    if (attw.status !== 0) console.log(`${attw.stdout}${attw.stderr}`.trim())
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}

if (failures.length > 0) {
  console.error(`package-health: ${failures.length} check(s) failed`)
  process.exit(1)
}
