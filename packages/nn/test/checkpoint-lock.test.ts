import { spawn, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import * as E from 'fp-ts/lib/Either.js'
import * as T from '@backfold/tensor'
import * as L from '../src/layers/index'
import { sgd } from '../src/optim/index'
import { crossEntropy } from '../src/losses/index'
import type { Layer } from '../src/layer'
import { encodeModel } from '../src/config/index'
import type { CheckpointContents } from '../src/checkpoint/directory'
import { formatCheckpointError, type CheckpointError } from '../src/checkpoint/safetensors'
import {
  fitWithCheckpoints,
  loadCheckpoint,
  lockCheckpointDirectory,
  saveCheckpoint,
} from '../src/node/checkpoint'
import { bundleWriter, startWriter, type Writer } from './fixtures/writer-bundle'

// The model of fixtures/checkpoint-writer.ts, so both processes write the same kind of checkpoint.
const model = L.sequential(L.dense(2))
const inShape = [2]
const configOf = encodeModel(model as unknown as Layer)
if (E.isLeft(configOf)) throw new Error('no config')
const contents = (step: number): CheckpointContents => {
  const built = model.init(T.random.key(step), inShape)
  if (E.isLeft(built)) throw new Error('init failed')
  return {
    config: configOf.right,
    inShape,
    params: built.right.params,
    state: built.right.state,
    optState: sgd(0.1).init(built.right.params),
    step,
    epoch: step,
    key: T.random.key(0),
  }
}

const right = <A>(e: E.Either<CheckpointError, A>): A => {
  if (E.isLeft(e)) throw new Error(`expected Right, got ${formatCheckpointError(e.left)}`)
  return e.right
}
const leftOf = <A>(e: E.Either<CheckpointError, A>): string => {
  if (E.isRight(e)) throw new Error('expected a Left')
  return formatCheckpointError(e.left)
}

/** The pid of a process that has exited (so is not running on this host). */
const deadPid = (): number => {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  })
  return Number(child.stdout)
}
/** The host tag save puts in its temporary names, computed here independently. */
const hostTag = createHash('sha256').update(hostname()).digest('hex').slice(0, 8)
const lockFile = (pid: number, host = hostname()): string =>
  JSON.stringify({
    format: 'backfold.checkpoint.lock',
    pid,
    host,
    since: '2026-01-01T00:00:00.000Z',
    token: 'f'.repeat(32),
  })

let bundle = ''
let bundleDir = ''
beforeAll(async () => {
  bundleDir = mkdtempSync(join(tmpdir(), 'backfold-writer-'))
  bundle = await bundleWriter(bundleDir)
}, 60_000)
afterAll(() => {
  rmSync(bundleDir, { recursive: true, force: true })
})

let root = ''
const running: Writer[] = []
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'backfold-lock-'))
})
afterEach(() => {
  for (const writer of running.splice(0)) writer.child.kill('SIGKILL')
  rmSync(root, { recursive: true, force: true })
})
const start = (args: ReadonlyArray<string>): Writer => {
  const writer = startWriter(bundle, args)
  running.push(writer)
  return writer
}
interface Summary {
  readonly saved: number
  readonly lefts: ReadonlyArray<string>
}

describe('one writer per directory', () => {
  it('two processes saving in a loop never lose the last good checkpoint; the one refused gets a clear Left', async () => {
    const dir = join(root, 'run')
    right(saveCheckpoint(dir, contents(0)))
    const a = start(['loop', dir, '1', '40'])
    const b = start(['loop', dir, '2', '40'])
    // Meanwhile this process keeps loading: every load must find a complete, verified checkpoint.
    const failedLoads: string[] = []
    let loads = 0
    let done = false
    const both = Promise.all([a.nextLine(), b.nextLine()]).finally(() => {
      done = true
    })
    while (!done) {
      const loaded = loadCheckpoint(dir, model)
      loads++
      if (E.isLeft(loaded)) failedLoads.push(formatCheckpointError(loaded.left))
      await sleep(2)
    }
    const summaries = (await both).map((line) => JSON.parse(line) as Summary)
    expect(await a.exited).toBe(0)
    expect(await b.exited).toBe(0)
    expect(failedLoads).toEqual([])
    expect(loads).toBeGreaterThan(0)
    for (const { saved, lefts } of summaries) {
      expect(saved + lefts.length).toBe(40)
      for (const left of lefts)
        expect(left).toMatch(
          /run\.lock: .*run is being saved by another process \(pid [0-9]+ on this host, since .*\); one writer per checkpoint directory/,
        )
    }
    const last = right(loadCheckpoint(dir, model))
    expect([1039, 2039]).toContain(last.step)
    // Nothing left beside it: no lock, no temporary or old directory.
    expect(readdirSync(root)).toEqual(['run'])
  })

  it('a process holding the lock keeps a second one out for its whole run', async () => {
    const dir = join(root, 'run')
    right(saveCheckpoint(dir, contents(0)))
    const holder = start(['hold', dir, '1', '5'])
    expect(await holder.nextLine()).toBe('locked')
    const second = start(['loop', dir, '2', '3'])
    const refused = JSON.parse(await second.nextLine()) as Summary
    expect(refused.saved).toBe(0)
    expect(refused.lefts).toHaveLength(3)
    expect(refused.lefts[0]).toMatch(
      new RegExp(`run is being saved by another process \\(pid ${holder.child.pid} on this host`),
    )
    // This process too, and fitWithCheckpoints refuses before it trains.
    expect(leftOf(saveCheckpoint(dir, contents(9)))).toMatch(/being saved by another process/)
    let epochs = 0
    const built = E.getOrElseW(() => {
      throw new Error('init failed')
    })(model.init(T.random.key(0), inShape))
    const fitted = fitWithCheckpoints({
      model,
      loss: crossEntropy,
      optimizer: sgd(0.1),
      params: built.params,
      state: built.state,
      data: { x: T.zeros([4, 2]), y: T.zeros([4], 'int32') },
      epochs: 2,
      key: T.random.key(1),
      callbacks: [{ onEpochEnd: () => void epochs++ }],
      checkpoint: { dir, inShape },
    })
    expect(leftOf(fitted)).toMatch(/being saved by another process/)
    expect(epochs).toBe(0)

    holder.child.stdin.write('go\n')
    expect(JSON.parse(await holder.nextLine())).toEqual({ saved: 5, lefts: [] })
    expect(await holder.exited).toBe(0)
    expect(right(loadCheckpoint(dir, model)).step).toBe(1004)
    right(saveCheckpoint(dir, contents(7)))
    expect(right(loadCheckpoint(dir, model)).step).toBe(7)
  })

  it('a lock whose writer was killed (kill -9) is taken over', async () => {
    const dir = join(root, 'run')
    right(saveCheckpoint(dir, contents(0)))
    const hung = start(['hang', dir])
    expect(await hung.nextLine()).toBe('locked')
    expect(leftOf(saveCheckpoint(dir, contents(1)))).toMatch(/being saved by another process/)
    hung.child.kill('SIGKILL')
    await hung.exited
    const lock = JSON.parse(readFileSync(`${dir}.lock`, 'utf8')) as { pid: number }
    expect(lock.pid).toBe(hung.child.pid)
    right(saveCheckpoint(dir, contents(1)))
    expect(right(loadCheckpoint(dir, model)).step).toBe(1)
    expect(existsSync(`${dir}.lock`)).toBe(false)
  })

  it('a lock of a pid that is not running on this host is taken over', () => {
    const dir = join(root, 'run')
    writeFileSync(`${dir}.lock`, lockFile(deadPid()))
    right(saveCheckpoint(dir, contents(1)))
    expect(readdirSync(root)).toEqual(['run'])
  })

  it('a lock from another host is never taken over, and the Left says which file to delete', () => {
    const dir = join(root, 'run')
    writeFileSync(`${dir}.lock`, lockFile(deadPid(), 'elsewhere.example'))
    const message = leftOf(saveCheckpoint(dir, contents(1)))
    expect(message).toContain(
      `is locked by pid ${JSON.parse(readFileSync(`${dir}.lock`, 'utf8')).pid as number} on host elsewhere.example`,
    )
    expect(message).toContain(`once no process on elsewhere.example saves there, delete ${dir}.lock`)
    expect(existsSync(dir)).toBe(false)
    expect(existsSync(`${dir}.lock`)).toBe(true)
  })

  it('a lock held by a running process of this host is respected', async () => {
    const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
    try {
      const dir = join(root, 'run')
      writeFileSync(`${dir}.lock`, lockFile(sleeper.pid!))
      expect(leftOf(saveCheckpoint(dir, contents(1)))).toMatch(
        new RegExp(`being saved by another process \\(pid ${sleeper.pid} on this host`),
      )
    } finally {
      sleeper.kill('SIGKILL')
    }
  })

  it('a damaged lock file is a Left saying to delete it', () => {
    const dir = join(root, 'run')
    writeFileSync(`${dir}.lock`, '')
    expect(leftOf(saveCheckpoint(dir, contents(1)))).toMatch(
      /run\.lock: is not a backfold lock file .*; if no process is saving to .*run, delete .*run\.lock/,
    )
  })

  it('this process holding the lock: a save without it is refused, a save with it goes through', () => {
    const dir = join(root, 'run')
    const lock = right(lockCheckpointDirectory(dir))
    try {
      expect(leftOf(saveCheckpoint(dir, contents(1)))).toMatch(/is locked by this process/)
      right(saveCheckpoint(dir, contents(1), { lock }))
      expect(leftOf(saveCheckpoint(join(root, 'other'), contents(1), { lock }))).toMatch(
        /the lock given is .*run\.lock, not this directory's/,
      )
    } finally {
      lock.release()
    }
    expect(existsSync(`${dir}.lock`)).toBe(false)
  })

  it('a save whose lock was deleted while it ran replaces nothing', () => {
    const dir = join(root, 'run')
    right(saveCheckpoint(dir, contents(1)))
    const result = saveCheckpoint(dir, contents(2), {
      fileSystem: {
        writeFile: (path, bytes) => {
          if (path.endsWith('meta.json')) rmSync(`${dir}.lock`)
          writeFileSync(path, bytes)
        },
      },
    })
    expect(leftOf(result)).toMatch(/run\.lock: this save's lock of .*run is gone/)
    expect(right(loadCheckpoint(dir, model)).step).toBe(1)
    expect(readdirSync(root)).toEqual(['run'])
  })
})

describe('cleanup touches only what provably dead writers left', () => {
  it("removes dead writers' temporaries of this host, keeps live, foreign and unattributed ones", async () => {
    const dir = join(root, 'run')
    right(saveCheckpoint(dir, contents(1)))
    const sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'])
    try {
      const dead = deadPid()
      const names = {
        deadTmp: `run.tmp-${hostTag}-${dead}-aaaaaaaaaaaa`,
        deadOld: `run.old-${hostTag}-${dead}-bbbbbbbbbbbb`,
        liveTmp: `run.tmp-${hostTag}-${sleeper.pid!}-cccccccccccc`,
        foreignTmp: `run.tmp-00000000-${dead}-dddddddddddd`,
        legacyTmp: 'run.tmp-eeeeeeeeeeee',
        otherRun: `other.tmp-${hostTag}-${dead}-ffffffffffff`,
      }
      for (const name of Object.values(names)) mkdirSync(join(root, name))
      right(saveCheckpoint(dir, contents(2)))
      expect(readdirSync(root).sort()).toEqual(
        ['run', names.liveTmp, names.foreignTmp, names.legacyTmp, names.otherRun].sort(),
      )
    } finally {
      sleeper.kill('SIGKILL')
    }
    await sleep(0)
  })
})
