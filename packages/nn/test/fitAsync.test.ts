import { describe, it, expect } from 'vitest'
import * as T from '@backfold/tensor'
import { dense, dropout, relu, sequential } from '../src/layers/index'
import { crossEntropy } from '../src/losses/index'
import { adam } from '../src/optim/index'
import { earlyStopping, fit, fitAsync, TrainingDivergedError } from '../src/train/index'
import type { AsyncCallback, EpochRecord } from '../src/train/index'
import { bitsOf, blobs, init } from './helpers'

/** A record without its wall-clock time, the one field two runs may differ in. */
const numbers = ({ seconds: _seconds, ...rest }: EpochRecord) => rest

// Dropout makes the per-batch keys matter; 70 examples at batch 16 leave a short last batch.
const model = sequential(dense(8), relu(), dropout(0.2), dense(3))
const options = () => {
  const { params, state } = init(model, T.random.key(0), [2])
  return {
    model,
    loss: crossEntropy,
    optimizer: adam(0.05),
    params,
    state,
    data: blobs(70, 1),
    validationData: blobs(30, 9),
    epochs: 4,
    batchSize: 16,
    key: T.random.key(7),
  }
}
const BATCHES = 4 * Math.ceil(70 / 16)
type Options = ReturnType<typeof options>
/** A callback for these options (a bare `AsyncCallback` would type the state it returns as unknown). */
type Hook = AsyncCallback<Options['params'], Options['state'], ReturnType<Options['optimizer']['init']>>

/** Counts turns of Node's event loop (one per check phase) until stopped. */
const ticker = () => {
  let ticks = 0
  let running = true
  const tick = () => {
    if (!running) return
    ticks++
    setImmediate(tick)
  }
  setImmediate(tick)
  return {
    stop: () => {
      running = false
      return ticks
    },
  }
}

describe('fitAsync', () => {
  it('gives bitwise the same parameters, optimizer state and history as fit', async () => {
    const sync = fit(options())
    const async = await fitAsync(options())
    expect(bitsOf(async.params)).toEqual(bitsOf(sync.params))
    expect(bitsOf(async.optState)).toEqual(bitsOf(sync.optState))
    expect(async.history.map(numbers)).toEqual(sync.history.map(numbers))
    expect(async.history).toHaveLength(4)
    expect(async.history[3]!.valAccuracy).toBeGreaterThan(0.8)
    expect([async.epoch, async.stopped]).toEqual([sync.epoch, sync.stopped])
    // and the runs differ under another key, so the comparison can fail
    const other = await fitAsync({ ...options(), key: T.random.key(8) })
    expect(bitsOf(other.params)).not.toEqual(bitsOf(sync.params))
  })

  it('gives the event loop a turn every yieldEvery batches, and none between them', async () => {
    for (const [yieldEvery, turns] of [
      [1, BATCHES],
      [5, Math.floor(BATCHES / 5)],
    ] as const) {
      const count = ticker()
      await fitAsync({ ...options(), yieldEvery })
      const ticks = count.stop()
      // the first tick may come before training starts, and one after its last turn
      expect(ticks).toBeGreaterThanOrEqual(turns)
      expect(ticks).toBeLessThanOrEqual(turns + 2)
    }
    const count = ticker()
    await fitAsync({ ...options(), yieldEvery: 10 ** 9 })
    expect(count.stop()).toBeLessThanOrEqual(1)
  })

  it('awaits asynchronous hooks in order, each before training goes on', async () => {
    const events: string[] = []
    const later = (event: string) =>
      new Promise<void>((resolve) =>
        setTimeout(() => {
          events.push(event)
          resolve()
        }, 2),
      )
    const slow: Hook = {
      onTrainBegin: () => later('begin'),
      onBatchEnd: async ({ epoch, batch }) => {
        if (epoch === 0 && batch < 2) await later(`batch ${batch}`)
      },
      onEpochEnd: ({ epoch }) => later(`epoch ${epoch}`),
      onTrainEnd: async () => {
        await later('end')
      },
    }
    const next: Hook = {
      onTrainBegin: () => void events.push('next begin'),
      onBatchEnd: ({ epoch, batch }) => void (epoch === 0 && batch < 2 && events.push(`next batch ${batch}`)),
      onEpochEnd: ({ epoch }) => void events.push(`next epoch ${epoch}`),
    }
    await fitAsync({ ...options(), epochs: 2, callbacks: [slow, next] })
    expect(events).toEqual([
      'begin',
      'next begin',
      'batch 0',
      'next batch 0',
      'batch 1',
      'next batch 1',
      'epoch 1', // onEpochEnd's epoch counts the epochs completed
      'next epoch 1',
      'epoch 2',
      'next epoch 2',
      'end',
    ])
  })

  it("stops on an asynchronous 'stop', and takes the state an asynchronous onTrainEnd returns", async () => {
    const stopAtBatch: Hook = {
      onBatchEnd: async ({ epoch, batch }) => (epoch === 1 && batch === 1 ? 'stop' : undefined),
    }
    const result = await fitAsync({ ...options(), callbacks: [stopAtBatch] })
    expect(result.stopped).toBe(true)
    expect(result.history.map((r) => r.samples)).toEqual([70, 32])

    const stopAfterEpoch: Hook = { onEpochEnd: async ({ epoch }) => (epoch === 2 ? 'stop' : undefined) }
    expect((await fitAsync({ ...options(), callbacks: [stopAfterEpoch] })).epoch).toBe(2)

    const start = options()
    const restore: Hook = {
      onTrainEnd: async (final) => ({ ...final, params: start.params, epoch: 99 }),
    }
    const restored = await fitAsync({ ...start, callbacks: [restore] })
    expect(restored.epoch).toBe(99)
    expect(bitsOf(restored.params)).toEqual(bitsOf(start.params))
  })

  it('runs synchronous callbacks as fit does (earlyStopping restores the best epoch)', async () => {
    const withStopping = () => ({
      ...options(),
      epochs: 6,
      callbacks: [earlyStopping({ monitor: 'valLoss', patience: 0, restoreBest: true })],
    })
    const sync = fit(withStopping())
    const async = await fitAsync(withStopping())
    expect(bitsOf(async.params)).toEqual(bitsOf(sync.params))
    expect([async.epoch, async.stopped]).toEqual([sync.epoch, sync.stopped])
  })

  it('rejects with the error of a failing hook and with TrainingDivergedError', async () => {
    const failing: Hook = {
      onEpochEnd: async () => {
        throw new Error('disk full')
      },
    }
    await expect(fitAsync({ ...options(), callbacks: [failing] })).rejects.toThrow('disk full')
    await expect(fitAsync({ ...options(), optimizer: adam(1e30) })).rejects.toBeInstanceOf(
      TrainingDivergedError,
    )
  })

  it('checks its options as fit does, naming fitAsync', async () => {
    await expect(fitAsync({ ...options(), yieldEvry: 2 } as never)).rejects.toThrow(
      /fitAsync: unknown option 'yieldEvry'.*yieldEvery/,
    )
    await expect(fitAsync({ ...options(), yieldEvery: 0 })).rejects.toThrow(
      /fitAsync: yieldEvery must be an integer >= 1, got 0/,
    )
    await expect(fitAsync({ ...options(), yieldEvery: 1.5 })).rejects.toThrow(/yieldEvery.*an integer/)
    await expect(fitAsync({ ...options(), epochs: -1 })).rejects.toThrow(
      /fitAsync: epochs must be an integer >= 0/,
    )
    await expect(
      fitAsync({ ...options(), data: { x: T.zeros([4, 2]), y: T.zeros([3], 'int32') } }),
    ).rejects.toThrow(/fitAsync: data.x has shape/)
    // fit still refuses the new option
    expect(() => fit({ ...options(), yieldEvery: 2 } as never)).toThrow(/fit: unknown option 'yieldEvery'/)
  })
})

describe('fit with an asynchronous callback', () => {
  it('throws, naming fitAsync, instead of dropping the Promise', () => {
    const asyncHook = { onEpochEnd: async () => 'stop' as const }
    expect(() => fit({ ...options(), callbacks: [asyncHook as never] })).toThrow(
      /fit: a callback returned a Promise, which fit cannot wait for.*use fitAsync/,
    )
  })
})
