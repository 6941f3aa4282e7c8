// `pnpm run web`: serves the web example (examples/web) on http://127.0.0.1:8080/ (PORT to change
// it) until interrupted. The root script builds the packages first; the page trains in the browser.
import { startWebServer } from './web-server.mjs'

const port = process.env.PORT === undefined ? 8080 : Number(process.env.PORT)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`web: PORT must be an integer 0..65535, got '${process.env.PORT}'`)
  process.exit(1)
}
let server
try {
  server = await startWebServer({ port })
} catch (error) {
  console.error(
    error.code === 'EADDRINUSE'
      ? `web: port ${port} is in use; run with another, e.g. PORT=8081 pnpm run web`
      : `web: ${error.message}`,
  )
  process.exit(1)
}
console.log(`web: the digits example trains in your browser at ${server.url} (Ctrl-C to stop)`)
process.on('SIGINT', () => server.close().then(() => process.exit(0)))
