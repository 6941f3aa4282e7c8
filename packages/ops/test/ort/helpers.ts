// Runs staged functions on ONNX Runtime directly (lowering + one session), for tests of op
// lowerings. Files under test/ort/ run in their own vitest project with pool 'forks' (see
// vitest.config.ts): onnxruntime-node's native module loads in one thread per process only.
import type { Tensor } from '@backfold/tensor'
import { makeGraph } from '../../src/staging/graph'
import { lowerGraph } from '../../src/staging/onnx/lower'
import { createSession, onnxRuntime } from '../../src/staging/onnx/runtime'

/** `f` staged on `args` (tensors), lowered to ONNX and run in a fresh ONNX Runtime session. */
export const runOnOrt = (f: (...xs: Tensor[]) => Tensor | Tensor[], ...args: Tensor[]): Tensor[] => {
  const graph = makeGraph(f)(...args)
  const runtime = onnxRuntime()
  if ('error' in runtime) throw new Error(runtime.error)
  const session = createSession(runtime.module, lowerGraph(graph), graph.outputs, 1)
  try {
    return session.run(args)
  } finally {
    session.dispose()
  }
}
