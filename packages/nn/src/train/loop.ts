// The training loop is written once, as a generator (`fitLoop` in fit.ts) that suspends wherever a
// callback's result is needed and after every batch. Two drivers run it: `runSync` (`fit`) hands
// every result straight back and refuses a Promise; `runAsync` (`fitAsync`) awaits each result and
// gives the event loop a turn every few batches. So both compute the same numbers by construction.
import * as T from '@backfold/tensor'
import type { BatchEndInfo, CallbackSignal, EpochEndInfo, TrainBeginInfo, TrainingState } from './callbacks'

/**
 * A callback whose hooks may be asynchronous: `fitAsync` awaits each hook's Promise before it goes
 * on (a checkpoint written to IndexedDB, a chart redrawn on the next animation frame). Every
 * synchronous `Callback` is one. Hooks run in the order given, each awaited before the next.
 * @example
 * import { fitAsync } from '@backfold/nn'
 * // after every epoch, training waits until the page has drawn a frame
 * const waitForFrame = () => new Promise<void>((resolve) => requestAnimationFrame(() => resolve()))
 * const result = await fitAsync({ ...options, callbacks: [{ onEpochEnd: waitForFrame }] })
 * @since 0.2.0
 */
export interface AsyncCallback<P = unknown, S = unknown, O = unknown> {
  /** Called once before the first batch, which waits for a returned Promise. */
  readonly onTrainBegin?: (info: TrainBeginInfo) => void | Promise<void>
  /** Called after every batch; return (or resolve to) `'stop'` to end training after it. */
  readonly onBatchEnd?: (info: BatchEndInfo) => CallbackSignal | Promise<CallbackSignal>
  /**
   * Called after every epoch with its metrics and the training state; return (or resolve to)
   * `'stop'` to end training.
   */
  readonly onEpochEnd?: (info: EpochEndInfo<P, S, O>) => CallbackSignal | Promise<CallbackSignal>
  /** Called once at the end; may return (or resolve to) a different final state (e.g. the best epoch's). */
  readonly onTrainEnd?: (
    final: TrainingState<P, S, O>,
  ) => TrainingState<P, S, O> | void | Promise<TrainingState<P, S, O> | void>
}

/**
 * Where the loop suspends: `settle` hands a hook's result to the driver, which sends back its
 * settled value; `batch` marks the end of a batch, where an asynchronous driver may yield.
 * @internal
 */
export type Suspension = { readonly kind: 'settle'; readonly value: unknown } | { readonly kind: 'batch' }

/** The training loop as the drivers see it. @internal */
export type Loop<R> = Generator<Suspension, R, unknown>

const BATCH: Suspension = { kind: 'batch' }

/** Suspends at the end of a batch. @internal */
export function* batchEnd(): Generator<Suspension, void, unknown> {
  yield BATCH
}

/**
 * The settled value of a hook's result: `yield* settle(hook())`. The drivers send back exactly the
 * value (`runSync`) or what it resolves to (`runAsync`), so the one cast here is the Promise's type.
 * @internal
 */
export function* settle<V>(value: V | Promise<V>): Generator<Suspension, V, unknown> {
  return (yield { kind: 'settle', value }) as V
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  (typeof value === 'object' || typeof value === 'function') &&
  value !== null &&
  typeof (value as { then?: unknown }).then === 'function'

/**
 * Runs a loop to its end on this turn of the event loop. A hook that returns a Promise cannot be
 * waited for here, and ignoring it would drop its `'stop'` (or its error): that is an error naming
 * `fitAsync`.
 * @internal
 */
export const runSync = <R>(op: string, loop: Loop<R>): R => {
  let next = loop.next()
  while (next.done !== true) {
    const suspension = next.value
    if (suspension.kind === 'settle' && isThenable(suspension.value))
      throw new T.ValueError(
        op,
        `a callback returned a Promise, which ${op} cannot wait for (it runs synchronously); ` +
          'use fitAsync, which awaits asynchronous callbacks',
      )
    next = loop.next(suspension.kind === 'settle' ? suspension.value : undefined)
  }
  return next.value
}

type Scheduler = {
  readonly setImmediate?: (callback: () => void) => unknown
  readonly MessageChannel?: new () => {
    port1: { onmessage: (() => void) | null; close(): void }
    port2: { postMessage(message: unknown): void }
  }
}

/**
 * Resolves on a later task of the event loop, so timers, input and rendering run in between. In
 * Node: `setImmediate` (after the loop's timers and I/O). In a browser: a `MessageChannel` message
 * whose handler sets a zero timeout. The timeout queues the continuation behind the page's own due
 * timers (with messages alone, Chromium let a page's 20 ms interval wait over a second between
 * ticks), and set from a message rather than from the previous continuation it escapes the 4 ms
 * clamp on nested timeouts, which would cost seconds over a run of a thousand batches. Elsewhere
 * `setTimeout(0)`.
 */
export const nextTask = (): Promise<void> =>
  new Promise((resolve) => {
    const scope = globalThis as Scheduler
    if (typeof scope.setImmediate === 'function') {
      scope.setImmediate(resolve)
    } else if (typeof scope.MessageChannel === 'function') {
      const channel = new scope.MessageChannel()
      channel.port1.onmessage = () => {
        channel.port1.close()
        globalThis.setTimeout(resolve, 0)
      }
      channel.port2.postMessage(undefined)
    } else {
      globalThis.setTimeout(resolve, 0)
    }
  })

/**
 * Runs a loop, awaiting every hook's result and giving the event loop a task's turn after every
 * `yieldEvery` batches.
 * @internal
 */
export const runAsync = async <R>(loop: Loop<R>, yieldEvery: number): Promise<R> => {
  let batches = 0
  let next = loop.next()
  while (next.done !== true) {
    const suspension = next.value
    let sent: unknown = undefined
    if (suspension.kind === 'settle') sent = await suspension.value
    else if (++batches % yieldEvery === 0) await nextTask()
    next = loop.next(sent)
  }
  return next.value
}
