// A child process that runs ONNX models in onnxruntime-node for test/onnx/harness.ts. The native
// module registers in one thread per process, so loading it in a vitest worker thread fails when
// another test file (packages/nn/test/onnx.test.ts) has loaded it in another thread; here it loads
// in a process of its own. Messages (structured clones: NaN, ±Infinity and −0 survive):
//   in  { id, model: Uint8Array, feeds: { name: { type, data: TypedArray, dims } } }
//   out { id, outputs: { name: { type, dims, data: number[] } } } or { id, error: string }
import { createRequire } from 'node:module'

const require = createRequire(new URL('../../../nn/package.json', import.meta.url))
const ort = require('onnxruntime-node')

process.on('message', async ({ id, model, feeds }) => {
  let session
  try {
    session = await ort.InferenceSession.create(model)
    const inputs = {}
    for (const [name, { type, data, dims }] of Object.entries(feeds))
      inputs[name] = new ort.Tensor(type, data, dims)
    const results = await session.run(inputs)
    const outputs = {}
    for (const [name, t] of Object.entries(results))
      outputs[name] = { type: t.type, dims: [...t.dims], data: Array.from(t.data, Number) }
    process.send({ id, outputs })
  } catch (error) {
    process.send({ id, error: error instanceof Error ? error.message : String(error) })
  } finally {
    await session?.release()
  }
})
// The test file's process went away: so does this one.
process.on('disconnect', () => process.exit(0))
