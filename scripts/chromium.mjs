// Where Debian's Chromium is and the flags every headless run here uses (no GPU, no sandbox inside
// the VM, nothing that reaches for the network), shared by the browser tests.
import { existsSync } from 'node:fs'

/** The Chromium executable, or undefined when it is not installed. */
export const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p))

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
]
