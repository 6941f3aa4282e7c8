// Makes sure headless Chromium is here before the browser tests run, so that the README's test
// command passes on a fresh machine by itself. It looks for Chromium (CHROMIUM_PATH, else Debian's
// /usr/bin/chromium); when missing it installs Debian's `chromium` package with apt-get (running as
// root, as this project's machines and CI do); when it cannot, it fails naming what to install.
import { spawnSync } from 'node:child_process'
import { chromiumLocation } from './chromium.mjs'

/** apt-get may take a while on a slow mirror: ~100 MB of packages. */
const INSTALL_TIMEOUT_MS = 20 * 60_000

const fail = (message) => {
  console.error(`ensure-chromium: ${message}`)
  console.error(
    "ensure-chromium: the browser tests need headless Chromium: install Debian's `chromium` package " +
      '(as root: apt-get update && apt-get install -y chromium), or set CHROMIUM_PATH to a Chromium executable.',
  )
  process.exit(1)
}

/** `chromium --version`, or undefined when it does not run. */
const versionOf = (path) => {
  const run = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 60_000 })
  return run.status === 0 ? run.stdout.trim() : undefined
}

const found = chromiumLocation()
if (found !== undefined) {
  const version = versionOf(found.path)
  if (version === undefined)
    fail(`${found.path} (${found.from}) does not run (\`${found.path} --version\` failed)`)
  console.log(`ensure-chromium: ${version} at ${found.path} (${found.from})`)
  process.exit(0)
}
if (process.env.CHROMIUM_PATH !== undefined && process.env.CHROMIUM_PATH !== '') {
  fail(`CHROMIUM_PATH is set to ${process.env.CHROMIUM_PATH}, which does not exist`)
}

const hasAptGet = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0
if (!hasAptGet) fail('chromium is not installed and this machine has no apt-get to install it with')
if (typeof process.getuid === 'function' && process.getuid() !== 0) {
  fail('chromium is not installed, and installing it with apt-get needs root')
}

/** Runs apt-get quietly; on failure prints the tail of its output and stops. */
const aptGet = (args) => {
  console.log(`ensure-chromium: apt-get ${args.join(' ')}`)
  const run = spawnSync('apt-get', args, {
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
  })
  if (run.status !== 0) {
    const output = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n').slice(-20).join('\n')
    if (output !== '') console.error(output)
    fail(
      `\`apt-get ${args.join(' ')}\` failed (${run.error?.message ?? `exit status ${run.status}, signal ${run.signal}`})`,
    )
  }
}

console.log("ensure-chromium: chromium is not installed; installing Debian's chromium package")
aptGet(['update', '-q'])
aptGet(['install', '-y', '-q', 'chromium'])

const installed = chromiumLocation()
if (installed === undefined)
  fail('apt-get installed chromium, but no chromium executable was found afterwards')
const version = versionOf(installed.path)
if (version === undefined) fail(`the installed ${installed.path} does not run`)
console.log(`ensure-chromium: installed ${version} at ${installed.path}`)
