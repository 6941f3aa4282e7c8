import { spawnSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'

// scripts/release.mjs on a copy of the repository's manifests and CHANGELOG.md (`--root`): the
// version step, and the checks `publish` makes before it builds anything. That the packed packages
// hold no `workspace:` range is checked on real `pnpm pack` tarballs by scripts/package-health.mjs.
const root = fileURLToPath(new URL('..', import.meta.url))
const script = join(root, 'scripts', 'release.mjs')
const PACKAGES = ['tensor', 'ops', 'nn'] as const

const copies: string[] = []
afterEach(() => {
  for (const dir of copies.splice(0)) rmSync(dir, { recursive: true, force: true })
})

const copyRepo = (changelog?: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'backfold-release-'))
  copies.push(dir)
  for (const name of PACKAGES) {
    mkdirSync(join(dir, 'packages', name), { recursive: true })
    cpSync(join(root, 'packages', name, 'package.json'), join(dir, 'packages', name, 'package.json'))
  }
  writeFileSync(join(dir, 'CHANGELOG.md'), changelog ?? readFileSync(join(root, 'CHANGELOG.md'), 'utf8'))
  return dir
}

const release = (dir: string, ...args: string[]) => {
  const result = spawnSync(process.execPath, [script, '--root', dir, ...args], { encoding: 'utf8' })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

const versionOf = (dir: string, name: string): unknown =>
  (JSON.parse(readFileSync(join(dir, 'packages', name, 'package.json'), 'utf8')) as { version: unknown })
    .version

const setVersion = (dir: string, name: string, version: string): void => {
  const path = join(dir, 'packages', name, 'package.json')
  writeFileSync(path, readFileSync(path, 'utf8').replace(/"version": "[^"]*"/, `"version": "${version}"`))
}

const current = versionOf(root, 'tensor') as string
const [major, minor] = current.split('.').map(Number) as [number, number]
const next = `${major}.${minor + 1}.0`

describe('scripts/release.mjs', () => {
  it('the repository: three packages on one version, and an Unreleased entry to release', () => {
    for (const name of PACKAGES) expect(versionOf(root, name)).toBe(current)
    expect(readFileSync(join(root, 'CHANGELOG.md'), 'utf8')).toMatch(/^## Unreleased\n\n\S/m)
  })

  it('version: moves Unreleased under the new version and sets it in every package', () => {
    const dir = copyRepo()
    const before = readFileSync(join(dir, 'CHANGELOG.md'), 'utf8')
    const entry = before.slice(
      before.indexOf('## Unreleased') + '## Unreleased'.length,
      before.indexOf(`## ${current}`),
    )
    const result = release(dir, 'version', next)
    expect(result.output).toContain(`${current} -> ${next}`)
    expect(result.status).toBe(0)
    for (const name of PACKAGES) expect(versionOf(dir, name)).toBe(next)
    const after = readFileSync(join(dir, 'CHANGELOG.md'), 'utf8')
    const date = new Date().toISOString().slice(0, 10)
    // A new, empty Unreleased section, then the released entry with its text unchanged.
    expect(after).toContain(`## Unreleased\n\n## ${next} (${date})\n${entry.replace(/^\n/, '')}`)
    expect(after.indexOf('## Unreleased')).toBeLessThan(after.indexOf(`## ${next}`))
    // Only the version line of each manifest changed.
    const manifest = readFileSync(join(dir, 'packages', 'nn', 'package.json'), 'utf8')
    expect(manifest).toBe(
      readFileSync(join(root, 'packages', 'nn', 'package.json'), 'utf8').replace(
        `"version": "${current}"`,
        `"version": "${next}"`,
      ),
    )
    // Released once: the same version again is refused.
    expect(release(dir, 'version', next).output).toContain(`is not after the current version ${next}`)
  })

  it('version: refuses an empty Unreleased section, a version not after the current one, a bad version', () => {
    const empty = copyRepo(`# Changelog\n\n## Unreleased\n\n## ${current}\n\nfirst\n`)
    expect(release(empty, 'version', next)).toMatchObject({ status: 1 })
    expect(release(empty, 'version', next).output).toContain(
      '"## Unreleased" section of CHANGELOG.md is empty',
    )
    expect(versionOf(empty, 'ops')).toBe(current)

    const dir = copyRepo()
    expect(release(dir, 'version', current).output).toContain(`is not after the current version ${current}`)
    expect(release(dir, 'version', 'next').output).toContain('usage: version <major.minor.patch>')
    for (const name of PACKAGES) expect(versionOf(dir, name)).toBe(current)
  })

  it('version and publish: refuse packages whose versions differ, naming them', () => {
    const dir = copyRepo()
    setVersion(dir, 'ops', `${major}.${minor}.9`)
    for (const args of [
      ['version', next],
      ['publish', '--dry-run'],
    ]) {
      const result = release(dir, ...args)
      expect(result.status).toBe(1)
      expect(result.output).toContain(`@backfold/ops@${major}.${minor}.9`)
    }
  })

  it('publish: refuses a version without its CHANGELOG entry, and unknown flags, before building', () => {
    const dir = copyRepo(`# Changelog\n\n## Unreleased\n\n- something\n`)
    const result = release(dir, 'publish', '--dry-run')
    expect(result.status).toBe(1)
    expect(result.output).toContain(`CHANGELOG.md has no "## ${current}" section`)
    expect(release(dir, 'publish', '--tag', 'next').output).toContain('publish takes only --dry-run')
  })
})
