import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import type { Tensor } from '@backfold/tensor'
import * as L from '../src/layers/index'
import { adam, chain, clipByGlobalNorm, exponentialDecay, momentum, sgd } from '../src/optim/index'
import { crossEntropy } from '../src/losses/index'
import { fit } from '../src/train/fit'
import type { Layer } from '../src/layer'
import { encodeModel } from '../src/config/index'
import {
  CHECKPOINT_DATA_FILES,
  CHECKPOINT_FILES,
  TreeSkeletonCodec,
  decodeCheckpoint,
  encodeCheckpoint,
  skeletonOf,
  treeFromSkeleton,
  type CheckpointContents,
  type CheckpointFileName,
} from '../src/checkpoint/directory'
import { formatCheckpointError, type CheckpointError } from '../src/checkpoint/safetensors'
import {
  fitWithCheckpoints,
  loadCheckpoint,
  resumeFit,
  saveCheckpoint,
  type CheckpointFileSystem,
} from '../src/node/checkpoint'
import { flattenNamed } from '../src/tree'

// ---------------------------------------------------------------------------------------------
// helpers (naive references written here, not taken from the code under test)
// ---------------------------------------------------------------------------------------------

const right = <A>(e: E.Either<CheckpointError | { readonly message: string }, A>): A => {
  if (E.isLeft(e))
    throw new Error(
      `expected Right, got ${'source' in e.left ? formatCheckpointError(e.left) : e.left.message}`,
    )
  return e.right
}
const leftOf = <A>(e: E.Either<CheckpointError, A>): string => {
  if (E.isRight(e)) throw new Error('expected a Left')
  return formatCheckpointError(e.left)
}

/** The raw bytes of a tensor's data, to compare bit patterns (NaN payloads and -0 included). */
const bytesOf = (x: Tensor): Uint8Array => new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength)

/** Every tensor of `a` and `b` has the same name, dtype, shape and bits; constants are equal. */
const expectBitwiseEqual = (a: unknown, b: unknown): void => {
  const fa = flattenNamed(a)
  const fb = flattenNamed(b)
  expect(fb.map(([n]) => n)).toEqual(fa.map(([n]) => n))
  fa.forEach(([name, x], i) => {
    const y = fb[i]![1]
    expect({ name, dtype: y.dtype, shape: [...y.shape] }).toEqual({
      name,
      dtype: x.dtype,
      shape: [...x.shape],
    })
    expect(Buffer.compare(bytesOf(x), bytesOf(y)), `tensor ${name} differs`).toBe(0)
  })
  const constants = (tree: unknown): unknown =>
    JSON.parse(JSON.stringify(tree, (_k, v: unknown) => (T.isTensor(v) ? 'tensor' : v)))
  expect(constants(b)).toEqual(constants(a))
}

const model = L.sequential(L.dense(12), L.batchNorm({ momentum: 0.3 }), L.relu(), L.dropout(0.25), L.dense(3))
const inShape = [5]
const samples = 40
const data = {
  x: T.random.normal(T.random.key(11), [samples, 5]),
  y: T.random.randint(T.random.key(12), [samples], 0, 3),
}
// A schedule makes the step count part of the result; the chain makes the state a nested record.
const makeOptimizer = () =>
  chain({
    clip: clipByGlobalNorm(1),
    adam: adam(exponentialDecay({ init: 0.05, decayRate: 0.5, transitionSteps: 4 })),
  })
const built = right(model.init(T.random.key(1), inShape))
const fitKey = T.random.key(2)
const baseOptions = {
  model,
  loss: crossEntropy,
  optimizer: makeOptimizer(),
  data,
  batchSize: 16,
}
const config = right(encodeModel(model as unknown as Layer))

/**
 * Rewrites `manifest.sha256` for the files as they now are, with node:crypto's SHA-256 (not the
 * code under test): what someone editing a checkpoint on purpose would do, so the content checks
 * behind the checksums can be tested.
 */
const reseal = (dir: string): void => {
  if (!CHECKPOINT_DATA_FILES.every((f) => existsSync(join(dir, f)))) return
  const hex = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex')
  const body =
    '# backfold checkpoint manifest, format 2\n' +
    CHECKPOINT_DATA_FILES.map((f) => `${hex(readFileSync(join(dir, f)))}  ${f}\n`).join('')
  writeFileSync(join(dir, 'manifest.sha256'), `${body}# sha256 of the lines above: ${hex(body)}\n`)
}

let root = ''
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'backfold-checkpoint-'))
})
afterEach(() => {
  rmSync(root, { recursive: true, force: true })
})

/** A checkpoint after `epochs` epochs of plain `fit`, as contents to save. */
const trainedContents = (epochs: number): CheckpointContents => {
  const result = fit({ ...baseOptions, params: built.params, state: built.state, epochs, key: fitKey })
  return {
    config,
    inShape,
    params: result.params,
    state: result.state,
    optState: result.optState,
    step: epochs * Math.ceil(samples / 16),
    epoch: epochs,
    key: fitKey,
    history: result.history,
  }
}

// ---------------------------------------------------------------------------------------------
// exact resume
// ---------------------------------------------------------------------------------------------

describe('resume', () => {
  it('6 epochs straight equal 3 epochs, a checkpoint, and 3 resumed epochs, bitwise', () => {
    const straight = fit({ ...baseOptions, params: built.params, state: built.state, epochs: 6, key: fitKey })

    const dir = join(root, 'run')
    const first = right(
      fitWithCheckpoints({
        ...baseOptions,
        params: built.params,
        state: built.state,
        epochs: 3,
        key: fitKey,
        checkpoint: { dir, inShape },
      }),
    )
    expect(first.epoch).toBe(3)
    const saved = right(loadCheckpoint(dir, model, { optimizer: makeOptimizer() }))
    expect(saved.epoch).toBe(3)
    expect(saved.step).toBe(9) // 3 batches of 16, 16, 8 per epoch
    expect(saved.key.words).toEqual(fitKey.words)
    expect(saved.inShape).toEqual(inShape)
    expectBitwiseEqual(first.params, saved.params)
    expectBitwiseEqual(first.optState, saved.optState)

    // A fresh optimizer value, as a new process would build it.
    const resumed = right(resumeFit(dir, { ...baseOptions, optimizer: makeOptimizer(), epochs: 6 }))
    expectBitwiseEqual(straight.params, resumed.params)
    expectBitwiseEqual(straight.state, resumed.state)
    expectBitwiseEqual(straight.optState, resumed.optState)
    expect(resumed.history.map((r) => [r.epoch, r.loss, r.accuracy])).toEqual(
      straight.history.map((r) => [r.epoch, r.loss, r.accuracy]),
    )

    const last = right(loadCheckpoint(dir, model, { optimizer: makeOptimizer() }))
    expect([last.epoch, last.step, last.history.length]).toEqual([6, 18, 6])
    expectBitwiseEqual(straight.params, last.params)
  })

  it('resuming with the wrong key would differ (the test above can fail)', () => {
    const straight = fit({ ...baseOptions, params: built.params, state: built.state, epochs: 2, key: fitKey })
    const half = fit({ ...baseOptions, params: built.params, state: built.state, epochs: 1, key: fitKey })
    const wrong = fit({
      ...baseOptions,
      params: half.params,
      state: half.state,
      optState: half.optState,
      initialEpoch: 1,
      epochs: 2,
      key: T.random.key(3),
    })
    const a = flattenNamed(straight.params)[0]![1]
    const b = flattenNamed(wrong.params)[0]![1]
    expect(Buffer.compare(bytesOf(a), bytesOf(b))).not.toBe(0)
  })

  it('saves every n epochs and after the last one', () => {
    const dir = join(root, 'every')
    const epochsSeen: number[] = []
    const fileSystem: Partial<CheckpointFileSystem> = {
      writeFile: (path, bytes) => {
        if (path.endsWith('meta.json'))
          epochsSeen.push((JSON.parse(new TextDecoder().decode(bytes)) as { epoch: number }).epoch)
        writeFileSync(path, bytes)
      },
    }
    right(
      fitWithCheckpoints({
        ...baseOptions,
        params: built.params,
        state: built.state,
        epochs: 5,
        key: fitKey,
        checkpoint: { dir, inShape, every: 2, fileSystem },
      }),
    )
    expect(epochsSeen).toEqual([2, 4, 5])
  })

  it('refuses a model without a config, saying how to give it one', () => {
    const custom: Layer<unknown, unknown> = {
      kind: 'mine',
      init: (_k, s) => E.right({ params: {}, state: {}, outShape: s }),
      apply: (_p, s, x) => [x, s],
    }
    const result = fitWithCheckpoints({
      ...baseOptions,
      model: custom,
      params: {},
      state: {},
      epochs: 1,
      key: fitKey,
      checkpoint: { dir: join(root, 'custom'), inShape },
    })
    expect(leftOf(result)).toMatch(
      /config\.json: the layer 'mine' has no config.*define its kind with defineLayer.*pass the kinds as checkpoint\.layers/,
    )
  })
})

// ---------------------------------------------------------------------------------------------
// save / load
// ---------------------------------------------------------------------------------------------

describe('saveCheckpoint / loadCheckpoint', () => {
  it('writes the seven files and reads back every value bitwise, float64 included', () => {
    const model64 = L.sequential(L.dense(4, { dtype: 'float64' }), L.tanh(), L.dense(2, { dtype: 'float64' }))
    const init = right(model64.init(T.random.key(5), [3]))
    const optimizer = momentum(0.1)
    const optState = optimizer.init(init.params)
    const contents: CheckpointContents = {
      config: right(encodeModel(model64 as unknown as Layer)),
      inShape: [3],
      params: init.params,
      state: init.state,
      optState,
      step: 0,
      epoch: 0,
      key: T.random.foldIn(T.random.key(2 ** 40 + 7), 3),
      history: [{ epoch: 0, loss: NaN, seconds: 0.5, samples: 0 }],
    }
    const dir = join(root, 'f64')
    right(saveCheckpoint(dir, contents))
    expect(readdirSync(dir).sort()).toEqual([...CHECKPOINT_FILES].sort())
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>
    expect(meta['key']).toEqual([...contents.key.words])
    expect(meta['formatVersion']).toBe(2)
    const loaded = right(loadCheckpoint(dir, model64, { optimizer }))
    expectBitwiseEqual(contents.params, loaded.params)
    expectBitwiseEqual(contents.optState, loaded.optState)
    expect(loaded.key.words).toEqual(contents.key.words)
    expect(T.random.isKey(loaded.key)).toBe(true)
    expect(loaded.history[0]!.loss).toBeNaN()
    expect(loaded.config).toEqual(contents.config)
  })

  it('loads without an optimizer, rebuilding the optimizer state from optimizer.json', () => {
    const contents = trainedContents(1)
    const dir = join(root, 'plain')
    right(saveCheckpoint(dir, contents))
    const loaded = right(loadCheckpoint(dir, model))
    expectBitwiseEqual(contents.optState, loaded.optState)
  })

  it('saves the int32 count as a tensor; a count saved as a number (backfold 0.2) loads as one', () => {
    const contents = trainedContents(1)
    const optState = contents.optState as { clip: object; adam: { count: Tensor } }
    expect([optState.adam.count.dtype, T.item(optState.adam.count)]).toEqual(['int32', 3])
    // What 0.2 wrote: the count as a constant of optimizer.json.
    const legacy = { ...contents, optState: { ...optState, adam: { ...optState.adam, count: 3 } } }
    const dir = join(root, 'legacy')
    right(saveCheckpoint(dir, legacy))
    expect(readFileSync(join(dir, 'optimizer.json'), 'utf8')).toContain('"constant"')
    const loaded = right(loadCheckpoint(dir, model, { optimizer: makeOptimizer() }))
    expectBitwiseEqual(contents.optState, loaded.optState)
    // A count that is no count is refused, naming it.
    right(
      saveCheckpoint(dir, { ...legacy, optState: { ...optState, adam: { ...optState.adam, count: -1 } } }),
    )
    expect(leftOf(loadCheckpoint(dir, model, { optimizer: makeOptimizer() }))).toMatch(
      /adam\.count.* is a number, expected a int32 tensor/,
    )
  })

  it('pure encode/decode round trip without a file system', () => {
    const contents = trainedContents(1)
    const files = new Map(right(encodeCheckpoint(contents)))
    expect([...files.keys()]).toEqual([...CHECKPOINT_FILES])
    const read = (file: CheckpointFileName) => E.right(files.get(file)!)
    const loaded = right(decodeCheckpoint(read, model, { optimizer: makeOptimizer() }))
    expectBitwiseEqual(contents.params, loaded.params)
    expectBitwiseEqual(contents.state, loaded.state)
    expectBitwiseEqual(contents.optState, loaded.optState)
  })

  it('refuses to write params that do not fit the config, writing nothing', () => {
    const contents = trainedContents(1)
    const other = right(L.sequential(L.dense(7), L.dense(3)).init(T.random.key(0), inShape))
    const dir = join(root, 'bad')
    const result = saveCheckpoint(dir, { ...contents, params: other.params })
    expect(leftOf(result)).toMatch(/params\.safetensors: the params do not fit the config/)
    expect(existsSync(dir)).toBe(false)
    expect(readdirSync(root)).toEqual([])
  })

  it('refuses to replace a directory that is not a checkpoint', () => {
    const dir = join(root, 'mine')
    right(saveCheckpoint(dir, trainedContents(1)))
    unlinkSync(join(dir, 'meta.json'))
    unlinkSync(join(dir, 'manifest.sha256'))
    writeFileSync(join(dir, 'notes.txt'), 'precious')
    expect(leftOf(saveCheckpoint(dir, trainedContents(1)))).toMatch(/not a backfold checkpoint/)
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('precious')
  })
})

// ---------------------------------------------------------------------------------------------
// crash safety
// ---------------------------------------------------------------------------------------------

describe('crash safety', () => {
  it('a write failing midway leaves the previous checkpoint intact and loadable', () => {
    const dir = join(root, 'run')
    const good = trainedContents(1)
    right(saveCheckpoint(dir, good))
    const before = new Map(CHECKPOINT_FILES.map((f) => [f, readFileSync(join(dir, f))]))

    let writes = 0
    const failing: Partial<CheckpointFileSystem> = {
      writeFile: (path, bytes) => {
        writes++
        if (path.endsWith('optimizer.safetensors')) throw new Error('ENOSPC: no space left on device')
        writeFileSync(path, bytes)
      },
    }
    const result = saveCheckpoint(dir, trainedContents(2), { fileSystem: failing })
    expect(leftOf(result)).toMatch(
      /optimizer\.safetensors: could not write optimizer\.safetensors: ENOSPC.*unchanged/,
    )
    expect(writes).toBe(4) // config, params, state, then the failing one

    // Byte for byte what was there, and no temporary directory left behind.
    for (const [file, bytes] of before) expect(Buffer.compare(readFileSync(join(dir, file)), bytes)).toBe(0)
    expect(readdirSync(root)).toEqual(['run'])
    const loaded = right(loadCheckpoint(dir, model, { optimizer: makeOptimizer() }))
    expect(loaded.epoch).toBe(1)
    expectBitwiseEqual(good.params, loaded.params)
  })

  it('a failing save inside fitWithCheckpoints stops training with a Left; resuming continues from the last good one', () => {
    const dir = join(root, 'run')
    let saves = 0
    const failing: Partial<CheckpointFileSystem> = {
      writeFile: (path, bytes) => {
        if (path.endsWith('meta.json') && ++saves === 3) throw new Error('EIO: i/o error')
        writeFileSync(path, bytes)
      },
    }
    let epochsRun = 0
    const result = fitWithCheckpoints({
      ...baseOptions,
      params: built.params,
      state: built.state,
      epochs: 6,
      key: fitKey,
      callbacks: [{ onEpochEnd: () => void epochsRun++ }],
      checkpoint: { dir, inShape, fileSystem: failing },
    })
    expect(leftOf(result)).toMatch(/meta\.json: could not write meta\.json: EIO/)
    expect(epochsRun).toBe(3)
    expect(right(loadCheckpoint(dir, model)).epoch).toBe(2)

    const straight = fit({ ...baseOptions, params: built.params, state: built.state, epochs: 6, key: fitKey })
    const resumed = right(resumeFit(dir, { ...baseOptions, optimizer: makeOptimizer(), epochs: 6 }))
    expectBitwiseEqual(straight.params, resumed.params)
  })

  it('a crash between the two renames leaves the previous checkpoint loadable; the next save cleans up', () => {
    const dir = join(root, 'run')
    const good = trainedContents(1)
    right(saveCheckpoint(dir, good))

    // The process "dies" when it tries to move the new directory into place: nothing after runs.
    let dead = false
    const die = (): never => {
      dead = true
      throw new Error('killed')
    }
    const renames: Array<[string, string]> = []
    const crashing: Partial<CheckpointFileSystem> = {
      rename: (from, to) => {
        if (dead) die()
        renames.push([from, to])
        if (from.includes('.tmp-')) die()
        renameSync(from, to)
      },
      remove: (path) => {
        if (dead) die()
        rmSync(path, { recursive: true, force: true })
      },
    }
    expect(leftOf(saveCheckpoint(dir, trainedContents(2), { fileSystem: crashing }))).toMatch(
      /could not move/,
    )
    expect(renames.map(([from, to]) => [from.slice(root.length + 1), to.slice(root.length + 1)])).toEqual([
      ['run', expect.stringMatching(/^run\.old-[0-9a-f]{8}-[0-9]+-[0-9a-f]{12}$/)],
      [expect.stringMatching(/^run\.tmp-[0-9a-f]{8}-[0-9]+-[0-9a-f]{12}$/), 'run'],
    ])
    expect(existsSync(dir)).toBe(false)

    const recovered = right(loadCheckpoint(dir, model, { optimizer: makeOptimizer() }))
    expect(recovered.epoch).toBe(1)
    expectBitwiseEqual(good.params, recovered.params)

    const next = trainedContents(2)
    right(saveCheckpoint(dir, next))
    expect(readdirSync(root)).toEqual(['run'])
    const loaded = right(loadCheckpoint(dir, model))
    expect(loaded.epoch).toBe(2)
    expectBitwiseEqual(next.params, loaded.params)
  })
})

// ---------------------------------------------------------------------------------------------
// validation: every bad file gives a Left naming it
// ---------------------------------------------------------------------------------------------

describe('validation', () => {
  const saveGood = (): string => {
    const dir = join(root, 'ck')
    right(saveCheckpoint(dir, trainedContents(1)))
    return dir
  }
  const editJson = (dir: string, file: string, edit: (json: Record<string, unknown>) => unknown): void => {
    const json = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>
    writeFileSync(join(dir, file), JSON.stringify(edit(json)))
  }

  it.each<[string, (dir: string) => void, RegExp]>([
    [
      'a missing file',
      (dir) => unlinkSync(join(dir, 'params.safetensors')),
      /params\.safetensors: could not read/,
    ],
    [
      'a truncated safetensors file',
      (dir) => {
        const bytes = readFileSync(join(dir, 'state.safetensors'))
        writeFileSync(join(dir, 'state.safetensors'), bytes.subarray(0, bytes.length - 3))
      },
      /state\.safetensors: .*(trailing|run past|needs)/,
    ],
    [
      'a negative step',
      (dir) => editJson(dir, 'meta.json', (m) => ({ ...m, step: -1 })),
      /meta\.json: step: expected a non-negative integer, got -1$/,
    ],
    [
      'a bad history record',
      (dir) =>
        editJson(dir, 'meta.json', (m) => ({
          ...m,
          history: [{ epoch: 0, loss: true, seconds: 1, samples: 3 }],
        })),
      /meta\.json: history\.0\.loss: expected a number .*got true$/,
    ],
    [
      'a key word out of range',
      (dir) => editJson(dir, 'meta.json', (m) => ({ ...m, key: [0, 2 ** 32] })),
      /meta\.json: key\.1: expected a uint32 word, got 4294967296$/,
    ],
    [
      'a newer format version',
      (dir) => editJson(dir, 'meta.json', (m) => ({ ...m, formatVersion: 3 })),
      /meta\.json: format version 3 does not match manifest\.sha256's format 2 \(is not supported/,
    ],
    [
      'meta.json that is not JSON',
      (dir) => writeFileSync(join(dir, 'meta.json'), '{"step": '),
      /meta\.json: is not valid JSON/,
    ],
    [
      'a config with a bad field',
      (dir) =>
        editJson(dir, 'config.json', (c) => ({
          ...c,
          layers: [{ kind: 'dense', units: -3 }],
        })),
      /config\.json: layers\.0\.units: expected a positive integer, got -3$/,
    ],
    [
      'a config of another model',
      (dir) =>
        editJson(dir, 'config.json', (c) => {
          const layers = [...(c['layers'] as unknown[])]
          layers[0] = { kind: 'dense', units: 13 }
          return { ...c, layers }
        }),
      /config\.json: describes a different model .*layers\.0\.units: the checkpoint has 13, the model has 12/,
    ],
    [
      'an optimizer tree naming a tensor that is not there',
      (dir) =>
        editJson(dir, 'optimizer.json', (o) => ({
          ...o,
          tree: { kind: 'record', entries: [['extra', { kind: 'tensor', name: 'nope' }]] },
        })),
      /optimizer\.safetensors: does not match optimizer\.json: missing tensor 'nope'; unexpected tensor/,
    ],
    [
      'an optimizer tree with a bad node',
      (dir) =>
        editJson(dir, 'optimizer.json', (o) => ({
          ...o,
          tree: { kind: 'record', entries: [['count', { kind: 'constant', value: [1] }]] },
        })),
      /optimizer\.json: tree\.entries\.0\.1\.value: expected a finite number, string, boolean or null, got \[1\]$/,
    ],
  ])('%s', (_what, corrupt, pattern) => {
    const dir = saveGood()
    corrupt(dir)
    reseal(dir)
    expect(leftOf(loadCheckpoint(dir, model, { optimizer: makeOptimizer() }))).toMatch(pattern)
  })

  it('names every parameter mismatch when the config check is skipped', () => {
    const dir = saveGood()
    const wider = L.sequential(
      L.dense(13),
      L.batchNorm({ momentum: 0.3 }),
      L.relu(),
      L.dropout(0.25),
      L.dense(3),
    )
    const message = leftOf(loadCheckpoint(dir, wider, { ignoreConfigMismatch: true }))
    expect(message).toMatch(
      /params\.safetensors: .*'0\.weight' has shape \[12, ?5\], the model expects \[13, ?5\]/,
    )
    // The naive count: dense 0 (weight, bias), batch norm 1 (weight, bias), dense 4 (weight).
    for (const name of ['0.weight', '0.bias', '1.weight', '1.bias', '4.weight'])
      expect(message).toContain(`'${name}'`)
    expect(message).not.toContain("'4.bias'")
  })

  it('checks the optimizer state against the given optimizer', () => {
    const dir = saveGood()
    const message = leftOf(loadCheckpoint(dir, model, { optimizer: sgd(0.1) }))
    expect(message).toMatch(
      /optimizer\.json: the optimizer state does not fit the given optimizer: .*unexpected 'clip'/,
    )
  })

  it('no checkpoint at all', () => {
    expect(leftOf(loadCheckpoint(join(root, 'none'), model))).toMatch(/none: no checkpoint here/)
  })
})

// ---------------------------------------------------------------------------------------------
// integrity: damage is named, never loaded
// ---------------------------------------------------------------------------------------------

describe('integrity', () => {
  const saveGood = (): string => {
    const dir = join(root, 'ck')
    right(saveCheckpoint(dir, trainedContents(1)))
    return dir
  }

  it("one flipped bit in a weight file's data is a Left naming the file", () => {
    const dir = saveGood()
    const bytes = readFileSync(join(dir, 'params.safetensors'))
    bytes[bytes.length - 5]! ^= 0x01 // the low mantissa bit of a float: any value still parses
    writeFileSync(join(dir, 'params.safetensors'), bytes)
    expect(leftOf(loadCheckpoint(dir, model, { optimizer: makeOptimizer() }))).toMatch(
      /ck\/params\.safetensors: is corrupt: its SHA-256 is [0-9a-f]{64}, but manifest\.sha256 records [0-9a-f]{64}/,
    )
  })

  it('an edited step in meta.json is a Left naming meta.json', () => {
    const dir = saveGood()
    const text = readFileSync(join(dir, 'meta.json'), 'utf8')
    writeFileSync(join(dir, 'meta.json'), text.replace('"step": 3', '"step": 4'))
    expect(text).toContain('"step": 3')
    expect(leftOf(loadCheckpoint(dir, model))).toMatch(/ck\/meta\.json: is corrupt/)
  })

  it('a checkpoint of format 2 without its manifest is a Left naming the manifest', () => {
    const dir = saveGood()
    unlinkSync(join(dir, 'manifest.sha256'))
    expect(leftOf(loadCheckpoint(dir, model, { allowUnverified: true }))).toMatch(
      /ck\/manifest\.sha256: could not read/,
    )
  })

  /** 10,000 nested arrays (JSON text: JSON.stringify itself overflows the stack on such a value). */
  const deepArrays = `${'['.repeat(10_000)}${']'.repeat(10_000)}`
  /** `json` with `deepText` spliced in where `json` holds the string '__DEEP__'. */
  const splice = (json: unknown, deepText: string): string =>
    JSON.stringify(json).replace('"__DEEP__"', deepText)
  const readJson = (dir: string, file: string): Record<string, unknown> =>
    JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>
  // Each where its decoder looks: a history record, a child layer config, an optimizer tree node.
  it.each<[CheckpointFileName, (dir: string) => string]>([
    ['meta.json', (dir) => splice({ ...readJson(dir, 'meta.json'), history: '__DEEP__' }, deepArrays)],
    [
      'config.json',
      () => `${'{"kind": "sequential", "layers": ['.repeat(10_000)}{"kind": "relu"}${']}'.repeat(10_000)}`,
    ],
    [
      'optimizer.json',
      (dir) =>
        splice(
          { ...readJson(dir, 'optimizer.json'), tree: '__DEEP__' },
          `${'{"kind": "array", "items": ['.repeat(10_000)}${']}'.repeat(10_000)}`,
        ),
    ],
  ])('10,000-deep nesting in %s is a Left, not a RangeError', (file, deepText) => {
    const dir = saveGood()
    writeFileSync(join(dir, file), deepText(dir))
    reseal(dir)
    const pattern = new RegExp(`${file.replace('.', '\\.')}: is JSON nested deeper than [0-9]+ levels`)
    expect(
      leftOf(loadCheckpoint(dir, model, { optimizer: makeOptimizer(), ignoreConfigMismatch: true })),
    ).toMatch(pattern)
    // And the same through the pure decoder.
    const read = (f: CheckpointFileName) => E.right(new Uint8Array(readFileSync(join(dir, f))))
    expect(E.isLeft(decodeCheckpoint(read, model))).toBe(true)
  })

  it('10,000-deep nesting in a safetensors header is a Left, not a RangeError', () => {
    const dir = saveGood()
    const header = new TextEncoder().encode(`{"deep": ${deepArrays}}`)
    const bytes = new Uint8Array(8 + header.length)
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true)
    bytes.set(header, 8)
    writeFileSync(join(dir, 'params.safetensors'), bytes)
    reseal(dir)
    expect(leftOf(loadCheckpoint(dir, model))).toMatch(/params\.safetensors: .*nested deeper/)
  })

  it('an edited inShape of [2097152] is a Left before the model is initialised with it', () => {
    const dir = saveGood()
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ ...meta, inShape: [2097152] }))
    reseal(dir)
    // The model as given, with its init watched: [2097152] inputs would make a 12 x 2097152 weight.
    const initShapes: number[][] = []
    const watched: Layer<unknown, unknown> = {
      ...(model as unknown as Layer<unknown, unknown>),
      init: (key, shape) => {
        initShapes.push([...shape])
        return model.init(key, shape)
      },
    }
    const message = leftOf(loadCheckpoint(dir, watched))
    expect(message).toMatch(
      /meta\.json: the saved inShape \[2097152\] makes the model need at least 25165836 parameter and state values, but params\.safetensors and state\.safetensors hold 159: the inShape does not belong to these files/,
    )
    expect(initShapes).toEqual([])
  })

  // Models of every parameterised kind and combinator, whose sizes the loader works out before init.
  // The last number: the values counted up to the first layer past the budget, worked out by hand.
  it.each<[string, Layer<unknown, unknown>, number[], number[], number]>([
    [
      'a CNN (conv2d, batchNorm, pooling, layerNorm, flatten, dense)',
      L.sequential(
        L.conv2d(4, [3, 2], { padding: 'same', stride: 2 }),
        L.batchNorm(),
        L.relu(),
        L.maxPool2d({ kernelSize: 2 }),
        L.layerNorm({ axes: 2 }),
        L.conv2d(3, 1, { useBias: false, dilation: 1, padding: [1, 0] }),
        L.flatten(),
        L.dense(3),
      ) as unknown as Layer<unknown, unknown>,
      [2, 9, 9],
      [2, 4096, 4096],
      // conv 4*2*3*2 + 4, to [4, 2048, 2048]; batch norm 4*4; pool to [4, 1024, 1024]; layer norm
      // 2*1024*1024; conv 3*4 to [3, 1026, 1024]; flatten; dense 3*3151872 + 3
      52 + 16 + 2097152 + 12 + 9455619,
    ],
    [
      'residual and parallel blocks',
      L.sequential(
        L.dense(6),
        L.residual(L.sequential(L.dense(6), L.tanh())),
        L.parallel(L.dense(2), L.dense(3, { useBias: false })),
        L.layerNorm({ affine: false }),
        L.dense(2),
      ) as unknown as Layer<unknown, unknown>,
      [4],
      [5_000_000],
      6 * 5_000_000 + 6,
    ],
    [
      'an embedding',
      L.sequential(L.embedding(10, 4), L.flatten(), L.dense(2)) as unknown as Layer<unknown, unknown>,
      [3],
      [3_000_000],
      10 * 4 + 2 * 4 * 3_000_000 + 2,
    ],
  ])(
    '%s: saved and loaded as is; an edited huge inShape refused before init',
    (_what, net, shape, huge, count) => {
      const init = net.init(T.random.key(4), shape)
      if (E.isLeft(init)) throw new Error(init.left.message)
      const dir = join(root, 'net')
      right(
        saveCheckpoint(dir, {
          config: right(encodeModel(net)),
          inShape: shape,
          params: init.right.params,
          state: init.right.state,
          optState: sgd(0.1).init(init.right.params),
          step: 0,
          epoch: 0,
          key: T.random.key(0),
        }),
      )
      expectBitwiseEqual(init.right.params, right(loadCheckpoint(dir, net)).params)

      const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>
      writeFileSync(join(dir, 'meta.json'), JSON.stringify({ ...meta, inShape: huge }))
      reseal(dir)
      const initShapes: number[][] = []
      const watched: Layer<unknown, unknown> = {
        ...net,
        init: (key, inShape) => {
          initShapes.push([...inShape])
          return net.init(key, inShape)
        },
      }
      expect(leftOf(loadCheckpoint(dir, watched))).toMatch(
        new RegExp(
          `net/meta\\.json: the saved inShape \\[.*\\] makes the model need at least ${count} parameter and state values`,
        ),
      )
      expect(initShapes).toEqual([])
    },
  )

  it('an inShape that fits the files within the budget still gets the exact mismatch list from init', () => {
    const dir = saveGood()
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Record<string, unknown>
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ ...meta, inShape: [6] }))
    reseal(dir)
    expect(leftOf(loadCheckpoint(dir, model))).toMatch(
      /params\.safetensors: .*'0\.weight' has shape \[12, ?5\], the model expects \[12, ?6\]/,
    )
  })
})

// ---------------------------------------------------------------------------------------------
// checkpoints of backfold 0.1 (format 1, no manifest)
// ---------------------------------------------------------------------------------------------

describe('format 1 (backfold 0.1)', () => {
  /** A checkpoint as backfold 0.1 wrote it: the same files, version 1, no manifest. */
  const saveVersion1 = (): string => {
    const dir = join(root, 'old')
    right(saveCheckpoint(dir, trainedContents(1)))
    unlinkSync(join(dir, 'manifest.sha256'))
    for (const file of ['meta.json', 'optimizer.json']) {
      const text = readFileSync(join(dir, file), 'utf8')
      writeFileSync(join(dir, file), text.replace('"formatVersion": 2', '"formatVersion": 1'))
    }
    return dir
  }

  it('is refused by default, with how to upgrade it', () => {
    const dir = saveVersion1()
    expect(leftOf(loadCheckpoint(dir, model))).toMatch(
      /old\/meta\.json: is a checkpoint of format 1 \(backfold 0\.1\), which has no manifest\.sha256.*load it once with \{ allowUnverified: true \} and save it again/,
    )
  })

  it('loads with allowUnverified, and resuming from it writes format 2 with checksums', () => {
    const dir = saveVersion1()
    const contents = trainedContents(1)
    const loaded = right(loadCheckpoint(dir, model, { optimizer: makeOptimizer(), allowUnverified: true }))
    expectBitwiseEqual(contents.params, loaded.params)

    right(resumeFit(dir, { ...baseOptions, optimizer: makeOptimizer(), epochs: 2, allowUnverified: true }))
    expect(existsSync(join(dir, 'manifest.sha256'))).toBe(true)
    const upgraded = right(loadCheckpoint(dir, model))
    expect(upgraded.epoch).toBe(2)
    const straight = fit({ ...baseOptions, params: built.params, state: built.state, epochs: 2, key: fitKey })
    expectBitwiseEqual(straight.params, upgraded.params)
  })
})

// ---------------------------------------------------------------------------------------------
// optimizer trees: property test of the skeleton codec
// ---------------------------------------------------------------------------------------------

describe('optimizer.json trees', () => {
  const tensorArb = fc
    .tuple(
      fc.constantFrom<T.DType>('float32', 'float64', 'int32'),
      fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 4 }),
    )
    .map(([dtype, values]) => T.tensor(values, dtype))
  const constantArb = fc.oneof(
    fc.double(),
    fc.constantFrom(NaN, Infinity, -Infinity, -0, 0),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
  )
  const keyArb = fc.oneof(
    fc.constantFrom('0', '10', '2', 'mu', 'nu', 'count'),
    fc.string({ minLength: 1 }).filter((k) => !k.includes('.')),
  )
  const { tree: treeArb } = fc.letrec<{ tree: unknown }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      tensorArb,
      constantArb,
      fc.array(tie('tree'), { maxLength: 3 }),
      fc
        .uniqueArray(fc.tuple(keyArb, tie('tree')), { maxLength: 3, selector: ([k]) => k })
        .map((entries) => Object.fromEntries(entries)),
    ),
  }))

  it('round-trips any tree of tensors and constants through JSON text (key order, NaN, -0, undefined)', () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        const { skeleton, tensors } = right(E.mapLeft((message: string) => ({ message }))(skeletonOf(tree)))
        const text = JSON.stringify(TreeSkeletonCodec.encode(skeleton))
        const decoded = right(
          E.mapLeft(() => ({ message: 'decode failed' }))(TreeSkeletonCodec.decode(JSON.parse(text))),
        )
        const back = right(
          E.mapLeft((message: string) => ({ message }))(
            treeFromSkeleton(decoded, Object.fromEntries(tensors)),
          ),
        )
        // Naive reference: walk both trees together.
        const same = (a: unknown, b: unknown): boolean => {
          if (T.isTensor(a)) return T.isTensor(b) && b === a
          if (Array.isArray(a))
            return Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]))
          if (typeof a === 'object' && a !== null) {
            if (typeof b !== 'object' || b === null || Array.isArray(b)) return false
            const ka = Object.keys(a)
            const kb = Object.keys(b)
            return (
              ka.length === kb.length &&
              ka.every(
                (k, i) =>
                  k === kb[i] && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
              )
            )
          }
          return Object.is(a, b)
        }
        expect(same(tree, back)).toBe(true)
      }),
      { numRuns: 200 },
    )
  })

  it('rejects a function leaf', () => {
    expect(E.isLeft(skeletonOf({ f: () => 1 }))).toBe(true)
  })
})
