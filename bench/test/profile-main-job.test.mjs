// node --test bench/test/
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CATEGORIES, summariseProfile } from '../profile-main-job.mjs'

const MAIN = 'file:///r/examples/digits/main.mjs'
const TENSOR = 'file:///r/packages/tensor/dist/index.js'
const OPS = 'file:///r/packages/ops/dist/index.js'
const NN = 'file:///r/packages/nn/dist/chunk-X.js'
const NODE = 'file:///r/packages/nn/dist/node.js'

/**
 * A tiny .cpuprofile: `tree` is [name, url, children] with an optional 4th element `{ line, column }`
 * (default 10, 5); `samples` are [name, milliseconds] by the node's unique name. The first sample
 * comes 0.5 ms after the start.
 */
const makeProfile = (tree, samples) => {
  const nodes = []
  const ids = new Map()
  const add = ([name, url, children = [], at = {}]) => {
    const id = nodes.length + 1
    const node = {
      id,
      callFrame: {
        functionName: name.replace(/#.*/, ''), // 'jitted#2': a second frame named jitted
        scriptId: '1',
        url,
        lineNumber: at.line ?? 10,
        columnNumber: at.column ?? 5,
      },
      hitCount: 0,
      children: [],
    }
    nodes.push(node)
    assert.equal(ids.has(name), false, `duplicate node name ${name}`)
    ids.set(name, id)
    node.children = children.map(add)
    return id
  }
  add(tree)
  const timeDeltas = []
  let previous = 500 // µs before the first sample
  for (const [, ms] of samples) {
    timeDeltas.push(previous)
    previous = ms * 1000
  }
  const endTime = timeDeltas.reduce((a, b) => a + b, 0) + previous
  return {
    nodes,
    startTime: 0,
    endTime,
    samples: samples.map(([name]) => {
      assert.ok(ids.has(name), `no node ${name}`)
      return ids.get(name)
    }),
    timeDeltas,
  }
}

const top = { line: 0, column: 0 }
const tree = [
  '(root)',
  '',
  [
    ['(program)', ''],
    ['(garbage collector)', ''],
    ['(idle)', ''],
    [
      'loadAndTranslate',
      'node:internal/modules/esm/loader',
      [['compileSourceTextModule', 'node:internal/modules/esm/utils']],
    ],
    [
      'run',
      'node:internal/modules/esm/module_job',
      [
        [
          'evaluate',
          '',
          [
            ['#tensor', TENSOR, [], top],
            ['#main', MAIN, [], top],
          ],
        ],
      ],
    ],
    [
      'processTicksAndRejections',
      'node:internal/process/task_queues',
      [
        [
          'runMicrotasks',
          '',
          [
            ['loadCsv', NODE, [['parseCsvBytes', NN]]],
            [
              '#main2',
              MAIN,
              [
                [
                  'fit',
                  NN,
                  [
                    [
                      'fitLoop',
                      NN,
                      [
                        [
                          'step',
                          NN,
                          [
                            [
                              'jitted',
                              OPS,
                              [
                                [
                                  'run2',
                                  OPS,
                                  [
                                    [
                                      'gemm2',
                                      TENSOR,
                                      [['blockedGemm', TENSOR, [['wasm-function[0]', 'wasm://wasm/ab']]]],
                                    ],
                                    ['callSpread', TENSOR, [['wasm-function[0]#2', 'wasm://wasm/cd']]],
                                  ],
                                ],
                                // A first call's trace runs the user's step function and its layers.
                                ['#makeGraph', OPS, [['named', OPS, [['trainStep', NN, [['dense', NN]]]]]]],
                              ],
                            ],
                          ],
                        ],
                        ['gatherRows', NN],
                        [
                          'evaluateWithPass',
                          NN,
                          [
                            [
                              'jitted#2',
                              OPS,
                              [['gemm2#2', TENSOR, [['wasm-function[0]#3', 'wasm://wasm/ab']]]],
                            ],
                          ],
                        ],
                        // The pre-issue build: eager ops, the GEMM behind wasmMatmulFloat32.
                        [
                          '#eager',
                          NN,
                          [
                            [
                              'run#2',
                              OPS,
                              [
                                [
                                  'applyOp',
                                  OPS,
                                  [
                                    ['wasmMatmulFloat32', TENSOR, [['wasm-function[2]', 'wasm://wasm/ef']]],
                                    ['wasmAdamUpdate', TENSOR, [['wasm-function[3]', 'wasm://wasm/ef']]],
                                    ['copyOut', TENSOR],
                                  ],
                                ],
                              ],
                            ],
                            ['takeBatch', NN, [['gather', TENSOR]]],
                          ],
                        ],
                      ],
                    ],
                  ],
                ],
              ],
            ],
          ],
        ],
      ],
    ],
    // An async continuation of main.mjs writing the ONNX file, which stages the model again.
    ['#main3', MAIN, [['saveOnnx', NODE, [['exportOnnx', NN, [['jitted#3', OPS]]]]]]],
    ['processCallback', 'node:zlib'],
  ],
]

test('the main job profile is split by call-stack ancestry and the categories sum to the total', () => {
  const profile = makeProfile(tree, [
    ['compileSourceTextModule', 2], // start-up (also the 0.5 ms before the first sample)
    ['(garbage collector)', 1],
    ['(program)', 1], // before main.mjs runs: start-up
    ['#tensor', 1], // a package's top-level code: start-up
    ['#main', 1], // main.mjs's own code: set-up
    ['parseCsvBytes', 2],
    ['(program)', 1], // after main.mjs started: other
    ['wasm-function[0]', 4], // under blockedGemm: GEMM
    ['blockedGemm', 1], // the GEMM driver's JavaScript: the step's bookkeeping
    ['wasm-function[0]#2', 3], // under callSpread: another wasm program
    ['run2', 2],
    ['dense', 2], // under the trace (trainStep is not the step's bookkeeping): compile
    ['gatherRows', 1],
    ['fitLoop', 1],
    ['wasm-function[0]#3', 2], // a GEMM, but under evaluateWithPass: validation
    ['jitted#2', 1],
    ['(garbage collector)', 1],
    ['(idle)', 1],
    ['jitted#3', 2], // under saveOnnx: outputs
    ['wasm-function[2]', 1], // under wasmMatmulFloat32: GEMM
    ['wasm-function[3]', 1], // under wasmAdamUpdate: another wasm program
    ['copyOut', 1], // eager dispatch's copies: the step's JavaScript
    ['gather', 1], // under takeBatch: fit's loop
    ['compileSourceTextModule', 1], // a later import: module loading
    ['processCallback', 1], // Node internals outside any phase
  ])
  const s = summariseProfile(profile)
  const expected = {
    startup: 5.5,
    setup: 3,
    gemm: 5,
    wasm: 4,
    compile: 2,
    step: 4,
    fit: 3,
    validation: 3,
    outputs: 2,
    gc: 2,
    idle: 1,
    other: 2,
  }
  assert.deepEqual(Object.keys(s.ms), Object.keys(expected))
  assert.deepEqual(
    CATEGORIES.map(({ key }) => key),
    Object.keys(expected),
  )
  for (const [key, ms] of Object.entries(expected))
    assert.ok(Math.abs(s.ms[key] - ms) < 1e-9, `${key}: ${s.ms[key]}`)
  assert.equal(s.totalMs, 36.5)
  assert.ok(Math.abs(Object.values(s.ms).reduce((a, b) => a + b, 0) - s.totalMs) < 1e-9)
  // The wasm part of each category: all of GEMM and the other programs, 2 ms of validation.
  assert.equal(s.wasmMs.gemm, 5)
  assert.equal(s.wasmMs.wasm, 4)
  assert.equal(s.wasmMs.validation, 2)
  assert.equal(s.wasmMs.step, 0)
  assert.deepEqual(
    s.leaves.other.map((l) => l.frame),
    ['(program)', 'processCallback node:zlib'],
  )
})

test('a profile in which the entry never ran is all start-up (but the collector)', () => {
  const profile = makeProfile(tree, [
    ['compileSourceTextModule', 2],
    ['(garbage collector)', 1],
    ['(idle)', 1],
  ])
  const s = summariseProfile(profile)
  assert.equal(s.ms.startup, 3.5)
  assert.equal(s.ms.gc, 1)
  assert.equal(s.ms.idle, 0)
})
