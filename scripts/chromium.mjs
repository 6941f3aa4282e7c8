// Where Chromium is and the flags every headless run here uses (no GPU, no sandbox inside the VM,
// nothing that reaches for the network), shared by the browser tests and scripts/ensure-chromium.mjs.
import { existsSync } from 'node:fs'

const DEBIAN_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser']

/**
 * The Chromium executable and where it was found: CHROMIUM_PATH when set (and present), else
 * Debian's package; undefined when there is none (looked up anew on every call).
 */
export const chromiumLocation = () => {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv !== undefined && fromEnv !== '') {
    return existsSync(fromEnv) ? { path: fromEnv, from: 'CHROMIUM_PATH' } : undefined
  }
  const path = DEBIAN_PATHS.find((p) => existsSync(p))
  return path === undefined ? undefined : { path, from: "Debian's chromium package" }
}

/** The Chromium executable, or undefined when it is not installed. */
export const chromiumPath = chromiumLocation()?.path

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
]
