// Releasing backfold. The three packages move in lockstep (one version, one CHANGELOG.md entry):
//
//   node scripts/release.mjs version 0.2.0   (`pnpm run version-packages 0.2.0`)
//       turns CHANGELOG.md's "## Unreleased" section into "## 0.2.0 (date)", opens a new empty
//       "## Unreleased", and sets the version of @backfold/tensor, @backfold/ops and @backfold/nn.
//   node scripts/release.mjs publish [--dry-run]   (`pnpm run release`)
//       checks the three versions agree and CHANGELOG.md has their entry, builds, runs the package
//       health check (pnpm pack: no `workspace:` range survives, publint, arethetypeswrong), then
//       `pnpm publish -r` over packages/: pnpm, not npm, so `workspace:^` peers become `^<version>`.
//       pnpm refuses to publish from a dirty tree or another branch than main.
//
// Not changesets: with sibling peer dependencies (`workspace:^`, which keep one copy of the library
// in a project), `changeset version` turns every 0.x minor bump into 1.0.0, since ^0.1.0 excludes
// 0.2.0 and it bumps peer dependents a major step when their range is left.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const PACKAGES = ['tensor', 'ops', 'nn']
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$/

const fail = (message) => {
  console.error(`release: ${message}`)
  process.exit(1)
}

// `--root <dir>` (for the test of this script) works on a copy of the repository.
// A literal `--` (from `pnpm run release -- --dry-run`) is not an argument.
const args = process.argv.slice(2).filter((arg) => arg !== '--')
const rootAt = args.indexOf('--root')
const root = rootAt >= 0 ? resolve(args[rootAt + 1]) : fileURLToPath(new URL('..', import.meta.url))
const [command, ...rest] = rootAt >= 0 ? args.filter((_, i) => i !== rootAt && i !== rootAt + 1) : args

const manifestPath = (name) => join(root, 'packages', name, 'package.json')
const readManifest = (name) => JSON.parse(readFileSync(manifestPath(name), 'utf8'))
const changelogPath = join(root, 'CHANGELOG.md')

/** The version the three packages share; fails naming each when they differ. */
const sharedVersion = () => {
  const versions = PACKAGES.map((name) => `${readManifest(name).name}@${readManifest(name).version}`)
  const distinct = new Set(PACKAGES.map((name) => readManifest(name).version))
  if (distinct.size !== 1) fail(`the packages must share one version, found ${versions.join(', ')}`)
  return [...distinct][0]
}

/** [major, minor, patch] compared in order; a pre-release sorts before its release. */
const compareVersions = (a, b) => {
  const pa = SEMVER.exec(a)
  const pb = SEMVER.exec(b)
  for (let i = 1; i <= 3; i++) if (Number(pa[i]) !== Number(pb[i])) return Number(pa[i]) - Number(pb[i])
  if (pa[4] === pb[4]) return 0
  return pa[4] === undefined ? 1 : pb[4] === undefined ? -1 : pa[4] < pb[4] ? -1 : 1
}

const UNRELEASED = /^## Unreleased[^\n]*\n([\s\S]*?)(?=^## |(?![\s\S]))/m

const version = (next) => {
  if (next === undefined || !SEMVER.test(next)) fail(`usage: version <major.minor.patch>, got ${next}`)
  const current = sharedVersion()
  if (compareVersions(next, current) <= 0) fail(`${next} is not after the current version ${current}`)
  const changelog = readFileSync(changelogPath, 'utf8')
  const unreleased = UNRELEASED.exec(changelog)
  if (unreleased === null) fail('CHANGELOG.md has no "## Unreleased" section to release')
  if (unreleased[1].trim() === '')
    fail('the "## Unreleased" section of CHANGELOG.md is empty: say what changed')
  if (new RegExp(`^## ${next.replaceAll('.', '\\.')}(\\s|$)`, 'm').test(changelog))
    fail(`CHANGELOG.md already has a section for ${next}`)
  const date = new Date().toISOString().slice(0, 10)
  writeFileSync(
    changelogPath,
    changelog.replace(UNRELEASED, `## Unreleased\n\n## ${next} (${date})\n${unreleased[1]}`),
  )
  for (const name of PACKAGES) {
    // Rewrites the one "version" line, so the file keeps its formatting.
    const text = readFileSync(manifestPath(name), 'utf8')
    writeFileSync(manifestPath(name), text.replace(/^(\s*"version":\s*)"[^"]*"/m, `$1"${next}"`))
    if (readManifest(name).version !== next) fail(`could not set the version in ${manifestPath(name)}`)
  }
  console.log(`release: ${current} -> ${next} in ${PACKAGES.map((n) => `@backfold/${n}`).join(', ')}`)
  console.log('release: review CHANGELOG.md, commit, then `pnpm run release`')
}

const publish = (flags) => {
  const unknown = flags.filter((flag) => flag !== '--dry-run')
  if (unknown.length > 0) fail(`publish takes only --dry-run, got ${unknown.join(' ')}`)
  const current = sharedVersion()
  const changelog = readFileSync(changelogPath, 'utf8')
  if (!new RegExp(`^## ${current.replaceAll('.', '\\.')}(\\s|$)`, 'm').test(changelog))
    fail(`CHANGELOG.md has no "## ${current}" section; run \`pnpm run version-packages <version>\` first`)
  // Under `pnpm run`, npm_execpath is the running pnpm; elsewhere use pnpm 10 through npx.
  const execPath = process.env.npm_execpath ?? ''
  const pnpm = /pnpm/.test(execPath) ? [process.execPath, execPath] : ['npx', '-y', 'pnpm@10']
  const run = (cmd, cmdArgs) => execFileSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' })
  run(pnpm[0], [...pnpm.slice(1), 'run', 'build'])
  run(process.execPath, [join(root, 'scripts', 'package-health.mjs')])
  run(pnpm[0], [
    ...pnpm.slice(1),
    'publish',
    '-r',
    '--filter',
    './packages/**',
    '--access',
    'public',
    ...flags,
  ])
  if (!flags.includes('--dry-run')) console.log(`release: published ${current}; tag it: git tag v${current}`)
}

if (command === 'version') version(rest[0])
else if (command === 'publish') publish(rest)
else fail(`usage: node scripts/release.mjs version <x.y.z> | publish [--dry-run] (got ${command})`)
