/**
 * The plumbing shared by the recurrent layers (`lstm`, `gru`, `lstmCell`, `gruCell`): PyTorch's
 * parameter names and initialisation, shape checks, the dtype the steps compute in, initial
 * states, the loop over time (`scan`), the cells' packed input, and the ONNX emitters. The gate
 * math is each kind's own: one step function in `lstm.ts` and one in `gru.ts`, which the sequence
 * layers run inside `scan` and the cells run once. Internal.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Either } from 'fp-ts/lib/Either.js'
import * as O from '@backfold/ops'
import * as T from '@backfold/tensor'
import type { DType, Key, Shape, Tensor } from '@backfold/tensor'
import * as t from 'io-ts/lib/index.js'
import type { Layer, NoState } from '../layer'
import * as F from '../config/fields'
import type { OnnxEmitContext, OnnxValue } from '../onnx/context'
import type { OnnxError } from '../onnx/error'
import { intAttribute, intsAttribute } from '../onnx/graph'
import { DataType } from '@backfold/ops/onnx'
import { badShape, checkLayerOptions, configOf, fail, notPositiveInteger, paramDType } from './common'
import type { LayerKind } from './define'

/** How a sequence layer's state starts: zeros (PyTorch's default), or learned `h0` (`c0`) parameters. @since 0.2.0 */
export type InitialState = 'zeros' | 'learned'

/** A recurrent layer's weights, read from its parameters by PyTorch name. */
export interface RecurrentWeights {
  readonly wIh: Tensor
  readonly wHh: Tensor
  readonly bIh: Tensor | undefined
  readonly bHh: Tensor | undefined
}

/**
 * One step of a recurrence: the next state from the previous one and this step's input projection
 * `gi = x W_ihᵀ + b_ih` (all gates). The state is a tuple whose first entry is the hidden state `h`.
 */
export type Step<C extends ReadonlyArray<Tensor>> = (w: RecurrentWeights, state: C, gi: Tensor) => C

/** What distinguishes one recurrence from another: its kind names, gate count, state and step. */
export interface Recurrence<C extends ReadonlyArray<Tensor>> {
  /** The sequence layer's kind (`'lstm'`), and the cell's (`'lstmCell'`). */
  readonly sequenceKind: string
  readonly cellKind: string
  /** Gates stacked in the weights' rows: 4 (LSTM), 3 (GRU). */
  readonly gates: number
  /** The state's entries, h first: `['h', 'c']` (LSTM), `['h']` (GRU). */
  readonly states: ReadonlyArray<string>
  readonly step: Step<C>
}

/** `x Wᵀ (+ b)` over the last axis (W stored `[out, in]` as PyTorch does). */
export const project = (x: Tensor, w: Tensor, b: Tensor | undefined): Tensor => {
  const y = O.matmul(x, w, { transposeB: true })
  return b === undefined ? y : O.add(y, b)
}

/** Gate `k` of `gates` equal blocks on the last axis of `x`. */
export const gateOf = (x: Tensor, k: number, hidden: number): Tensor =>
  O.slice(x, [
    ...new Array<undefined>(x.shape.length - 1).fill(undefined),
    { start: k * hidden, stop: (k + 1) * hidden },
  ])

/**
 * The weights named `weight_ih<suffix>` etc. in `params`, checked against `gates`: `[G·H, input]`,
 * `[G·H, H]` and `[G·H]`. Throws a `ShapeError` naming the layer and the parameter.
 */
export const weightsOf = (
  kind: string,
  params: unknown,
  suffix: string,
  gates: number,
  extra: ReadonlyArray<string> = [],
): RecurrentWeights & { readonly hidden: number; readonly input: number } => {
  const p = (typeof params === 'object' && params !== null ? params : {}) as Readonly<Record<string, unknown>>
  // A parameter this layer does not read (another layer's weight_ih_l1, a misspelt name) is refused,
  // not ignored.
  const known = [...['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh'].map((n) => `${n}${suffix}`), ...extra]
  const unknown = Object.keys(p).find((k) => !known.includes(k))
  if (unknown !== undefined)
    throw new T.ValueError(kind, `unknown parameter '${unknown}' (the parameters are ${known.join(', ')})`)
  const named = (name: string, required: boolean): Tensor | undefined => {
    const v = p[name]
    if (v === undefined && !required) return undefined
    if (!T.isTensor(v))
      throw new T.ValueError(
        kind,
        `the parameters have no tensor '${name}' (got keys ${Object.keys(p).join(', ')})`,
      )
    return v
  }
  const wIh = named(`weight_ih${suffix}`, true)!
  const wHh = named(`weight_hh${suffix}`, true)!
  const bIh = named(`bias_ih${suffix}`, false)
  const bHh = named(`bias_hh${suffix}`, false)
  if (wHh.shape.length !== 2 || wHh.shape[0] !== gates * wHh.shape[1]!)
    throw new T.ShapeError(
      kind,
      `weight_hh${suffix} has shape ${T.fmtShape(wHh.shape)}; expected [${gates}·hidden, hidden]`,
    )
  const hidden = wHh.shape[1]!
  if (wIh.shape.length !== 2 || wIh.shape[0] !== gates * hidden)
    throw new T.ShapeError(
      kind,
      `weight_ih${suffix} has shape ${T.fmtShape(wIh.shape)}; expected [${gates * hidden}, input] (hidden ${hidden} from weight_hh${suffix})`,
    )
  if ((bIh === undefined) !== (bHh === undefined))
    throw new T.ValueError(
      kind,
      `the parameters hold one of bias_ih${suffix} and bias_hh${suffix}; give both or neither`,
    )
  for (const [name, b] of [
    [`bias_ih${suffix}`, bIh],
    [`bias_hh${suffix}`, bHh],
  ] as const)
    if (b !== undefined && !T.shapesEqual(b.shape, [gates * hidden]))
      throw new T.ShapeError(kind, `${name} has shape ${T.fmtShape(b.shape)}; expected [${gates * hidden}]`)
  return { wIh, wHh, bIh, bHh, hidden, input: wIh.shape[1]! }
}

/** The dtype the steps compute in: `x`'s promoted with every parameter's (as dense promotes). */
const computeDType = (x: Tensor, tensors: ReadonlyArray<Tensor | undefined>): DType =>
  tensors.reduce((d: DType, p) => (p === undefined ? d : T.promoteTypes(d, p.dtype)), x.dtype)

/** PyTorch's `reset_parameters` for RNNs: every weight and bias U(−1/√hidden, 1/√hidden). */
const drawWeights = (
  key: Key,
  suffix: string,
  gates: number,
  input: number,
  hidden: number,
  useBias: boolean,
  dtype: DType,
): Record<string, Tensor> => {
  const bound = 1 / Math.sqrt(hidden)
  const [k1, k2, k3, k4] = O.splitKeys(key, 4)
  const draw = (k: Key, shape: Shape): Tensor =>
    T.random.uniform(k, shape, { min: -bound, max: bound, dtype })
  const g = gates * hidden
  const weights = {
    [`weight_ih${suffix}`]: draw(k1!, [g, input]),
    [`weight_hh${suffix}`]: draw(k2!, [g, hidden]),
  }
  return useBias
    ? { ...weights, [`bias_ih${suffix}`]: draw(k3!, [g]), [`bias_hh${suffix}`]: draw(k4!, [g]) }
    : weights
}

/** Options of the sequence layers, as their factories take them. */
export interface SequenceOptions {
  readonly bias?: boolean
  readonly returnSequences?: boolean
  readonly initialState?: InitialState
  readonly dtype?: DType
}

const SEQUENCE_OPTIONS = O.optionSchema({
  bias: O.option.boolean,
  returnSequences: O.option.boolean,
  initialState: O.option.oneOf('zeros', 'learned'),
  // Checked by init (a Left naming the layer).
  dtype: O.option.anything,
})

const CELL_OPTIONS = O.optionSchema({ bias: O.option.boolean, dtype: O.option.anything })

/** The learned-initial-state parameter names of a recurrence: `h0` (and `c0`). */
const stateParams = (r: { readonly states: ReadonlyArray<string> }): ReadonlyArray<string> =>
  r.states.map((s) => `${s}0`)

/** Initial states given at apply time, by name (`h0`, `c0`): `[N, hidden]` or `[hidden]`. */
export type GivenStates = Readonly<Record<string, Tensor | undefined>>

/** What `runSequence` returns: every step's h `[N, seq, hidden]` when asked, and the final state. */
export interface SequenceRun<C> {
  readonly outputs: Tensor | undefined
  readonly final: C
}

/**
 * Runs a recurrence over `x` `[N, seq, input]` (batch first). Each state entry starts from `given`
 * (apply-time), else a learned `<name>0` parameter, else zeros; a given or learned state is
 * `[N, hidden]` or `[hidden]` (broadcast over the batch). The input projections of all steps are one
 * matmul; the loop is `scan`, which stacks per-step outputs only when `everyStep`.
 */
export const runSequence = <C extends ReadonlyArray<Tensor>>(
  r: Recurrence<C>,
  kind: string,
  params: unknown,
  x: Tensor,
  given: GivenStates,
  everyStep: boolean,
): SequenceRun<C> => {
  const w = weightsOf(kind, params, '_l0', r.gates, stateParams(r))
  if (x.shape.length !== 3)
    throw new T.ShapeError(
      kind,
      `expected a batch of rank 3 ([N, seq, input], batch first), got ${T.fmtShape(x.shape)}`,
    )
  const [n, seq, input] = x.shape as [number, number, number]
  if (input !== w.input)
    throw new T.ShapeError(
      kind,
      `the input has ${input} features per step but weight_ih_l0 ${T.fmtShape(w.wIh.shape)} expects ${w.input}`,
    )
  if (seq < 1)
    throw new T.ShapeError(kind, `the sequence length must be at least 1, got ${T.fmtShape(x.shape)}`)
  const p = params as Readonly<Record<string, unknown>>
  const starts = r.states.map((s): Tensor | undefined => {
    const name = `${s}0`
    const v = given[name] ?? p[name]
    if (v === undefined) return undefined
    if (!T.isTensor(v)) throw new T.ValueError(kind, `${name} must be a tensor, got ${String(v)}`)
    if (!T.shapesEqual(v.shape, [n, w.hidden]) && !T.shapesEqual(v.shape, [w.hidden]))
      throw new T.ShapeError(
        kind,
        `${name} has shape ${T.fmtShape(v.shape)}; expected [N, hidden] = [${n},${w.hidden}] or [hidden] = [${w.hidden}]`,
      )
    return v
  })
  // The state starts in the dtype the steps compute in, so scan's carry keeps one dtype.
  const dtype = computeDType(x, [w.wIh, w.wHh, w.bIh, w.bHh, ...starts])
  const init = starts.map((s) =>
    s === undefined ? O.zeros([n, w.hidden], dtype) : O.broadcastTo(O.astype(s, dtype), [n, w.hidden]),
  ) as unknown as C
  // All steps' input projections at once, then time first for scan: [seq, N, G·hidden].
  const gi = O.transpose(project(x, w.wIh, w.bIh), [1, 0, 2])
  const [final, hs] = O.scan(
    (state: C, giT: Tensor): readonly [C, Tensor | []] => {
      const next = r.step(w, state, giT)
      // No per-step output unless asked: an empty tree keeps scan from stacking every h.
      return [next, everyStep ? next[0]! : []]
    },
    init,
    gi,
  )
  return { outputs: everyStep ? O.transpose(hs as Tensor, [1, 0, 2]) : undefined, final }
}

/**
 * A sequence layer (`lstm`, `gru`): `[seq, input]` per example to `[hidden]` (the last h) or
 * `[seq, hidden]` (every step's h); see `runSequence`.
 */
export const sequenceLayer = <C extends ReadonlyArray<Tensor>>(
  r: Recurrence<C>,
  hiddenSize: number,
  opts: SequenceOptions,
): Layer<Record<string, Tensor>, NoState> => {
  const kind = r.sequenceKind
  checkLayerOptions(kind, opts, SEQUENCE_OPTIONS)
  const useBias = opts.bias ?? true
  const returnSequences = opts.returnSequences ?? false
  const learned = opts.initialState === 'learned'
  const problem = notPositiveInteger('hiddenSize', hiddenSize)
  return {
    kind,
    config: configOf(kind, {
      hiddenSize,
      bias: useBias,
      returnSequences,
      initialState: opts.initialState,
      dtype: opts.dtype,
    }),
    init: (key, inShape) => {
      const shapeProblem = problem ?? badShape(inShape)
      if (shapeProblem !== undefined) return fail(kind, shapeProblem)
      if (inShape.length !== 2)
        return fail(
          kind,
          `expected a per-example input of rank 2 ([seq, input], batch first), got ${T.fmtShape(inShape)} (rank ${inShape.length})`,
        )
      const [seq, input] = inShape as [number, number]
      if (seq < 1) return fail(kind, `the sequence length must be at least 1, got ${T.fmtShape(inShape)}`)
      if (input < 1)
        return fail(kind, `the input must have at least 1 feature per step, got ${T.fmtShape(inShape)}`)
      return E.map((dtype: DType) => {
        const weights = drawWeights(key, '_l0', r.gates, input, hiddenSize, useBias, dtype)
        // Learned initial states start at zero: the layer starts as PyTorch's default.
        const states = learned
          ? Object.fromEntries(stateParams(r).map((name) => [name, T.zeros([hiddenSize], dtype)]))
          : {}
        return {
          params: { ...weights, ...states },
          state: {},
          outShape: returnSequences ? [seq, hiddenSize] : [hiddenSize],
        }
      })(paramDType(kind, opts.dtype))
    },
    apply: (params, state, x) => {
      if (problem !== undefined) throw new T.ValueError(kind, problem)
      const w = weightsOf(kind, params, '_l0', r.gates, stateParams(r))
      if (w.hidden !== hiddenSize)
        throw new T.ShapeError(
          kind,
          `weight_hh_l0 ${T.fmtShape(w.wHh.shape)} does not match hiddenSize ${hiddenSize}`,
        )
      for (const name of stateParams(r))
        if (name in params !== learned)
          throw new T.ValueError(
            kind,
            learned
              ? `initialState 'learned' needs the parameter ${name}, which the params lack`
              : `the params hold ${name} but the layer's initialState is 'zeros'; build it with initialState: 'learned'`,
          )
      const run = runSequence(r, kind, params, x, {}, returnSequences)
      return [returnSequences ? run.outputs! : run.final[0]!, state]
    },
  }
}

/** Options of the cells, as their factories take them. */
export interface CellOptions {
  readonly bias?: boolean
  readonly dtype?: DType
}

/**
 * A cell layer (`lstmCell`, `gruCell`): one step. The per-example input is the concatenation
 * `[x, h]` (GRU) or `[x, h, c]` (LSTM) on the last axis; the output is `h'` (GRU) or `[h', c']`
 * (LSTM), so a cell's output is the state part of its next input.
 */
export const cellLayer = <C extends ReadonlyArray<Tensor>>(
  r: Recurrence<C>,
  hiddenSize: number,
  opts: CellOptions,
): Layer<Record<string, Tensor>, NoState> => {
  const kind = r.cellKind
  checkLayerOptions(kind, opts, CELL_OPTIONS)
  const useBias = opts.bias ?? true
  const problem = notPositiveInteger('hiddenSize', hiddenSize)
  const k = r.states.length
  const packed = `[input + ${r.states.length === 1 ? 'hidden' : `${k}·hidden`}] ([x, ${r.states.join(', ')}])`
  return {
    kind,
    config: configOf(kind, { hiddenSize, bias: useBias, dtype: opts.dtype }),
    init: (key, inShape) => {
      const shapeProblem = problem ?? badShape(inShape)
      if (shapeProblem !== undefined) return fail(kind, shapeProblem)
      if (inShape.length !== 1 || inShape[0]! <= k * hiddenSize)
        return fail(
          kind,
          `expected a per-example input ${packed}, of rank 1 and longer than ${k * hiddenSize}, got ${T.fmtShape(inShape)}`,
        )
      const input = inShape[0]! - k * hiddenSize
      return E.map((dtype: DType) => ({
        params: drawWeights(key, '', r.gates, input, hiddenSize, useBias, dtype),
        state: {},
        outShape: [k * hiddenSize],
      }))(paramDType(kind, opts.dtype))
    },
    apply: (params, state, x) => {
      if (problem !== undefined) throw new T.ValueError(kind, problem)
      const w = weightsOf(kind, params, '', r.gates)
      if (w.hidden !== hiddenSize)
        throw new T.ShapeError(
          kind,
          `weight_hh ${T.fmtShape(w.wHh.shape)} does not match hiddenSize ${hiddenSize}`,
        )
      const width = w.input + k * hiddenSize
      if (x.shape.length !== 2 || x.shape[1] !== width)
        throw new T.ShapeError(
          kind,
          `expected a batch [N, ${width}]: ${packed} with input ${w.input} (weight_ih ${T.fmtShape(w.wIh.shape)}), got ${T.fmtShape(x.shape)}`,
        )
      const part = (start: number, stop: number): Tensor => O.slice(x, [undefined, { start, stop }])
      const gi = project(part(0, w.input), w.wIh, w.bIh)
      const dtype = computeDType(x, [w.wIh, w.wHh, w.bIh, w.bHh])
      const prev = r.states.map((_, i) =>
        O.astype(part(w.input + i * hiddenSize, w.input + (i + 1) * hiddenSize), dtype),
      ) as unknown as C
      const next = r.step(w, prev, gi)
      return [next.length === 1 ? next[0]! : O.concat([...next], { axis: -1 }), state]
    },
  }
}

/** The config fields of the sequence kinds (io-ts), and of the cell kinds. */
export const sequenceFields = {
  required: { hiddenSize: F.positiveInt },
  optional: {
    bias: t.boolean,
    returnSequences: t.boolean,
    initialState: /* @__PURE__ */ t.keyof({ zeros: null, learned: null }),
    dtype: F.dtype,
  },
} as const
export const cellFields = {
  required: { hiddenSize: F.positiveInt },
  optional: { bias: t.boolean, dtype: F.dtype },
} as const

/** The options of a sequence layer from its decoded config fields. */
export const sequenceOptionsOf = (f: Readonly<Record<string, unknown>>): SequenceOptions => ({
  bias: f['bias'] !== false,
  returnSequences: f['returnSequences'] === true,
  ...(f['initialState'] === undefined ? {} : { initialState: f['initialState'] as InitialState }),
  ...(f['dtype'] === undefined ? {} : { dtype: f['dtype'] as DType }),
})

/** The options of a cell from its decoded config fields. */
export const cellOptionsOf = (f: Readonly<Record<string, unknown>>): CellOptions => ({
  bias: f['bias'] !== false,
  ...(f['dtype'] === undefined ? {} : { dtype: f['dtype'] as DType }),
})

/** What a sequence layer's `init` allocates (see `LayerKind.allocation`). */
export const sequenceAllocation = (
  gates: number,
  states: number,
  c: Readonly<Record<string, unknown>>,
  inShape: Shape,
): ReturnType<NonNullable<LayerKind['allocation']>> => {
  const hidden = c['hiddenSize']
  if (inShape.length !== 2 || typeof hidden !== 'number') return undefined
  const g = gates * hidden
  return {
    size:
      g * inShape[1]! +
      g * hidden +
      (c['bias'] === false ? 0 : 2 * g) +
      (c['initialState'] === 'learned' ? states * hidden : 0),
    outShape: c['returnSequences'] === true ? [inShape[0]!, hidden] : [hidden],
  }
}

/** What a cell's `init` allocates. */
export const cellAllocation = (
  gates: number,
  states: number,
  c: Readonly<Record<string, unknown>>,
  inShape: Shape,
): ReturnType<NonNullable<LayerKind['allocation']>> => {
  const hidden = c['hiddenSize']
  if (inShape.length !== 1 || typeof hidden !== 'number' || inShape[0]! <= states * hidden) return undefined
  const g = gates * hidden
  const input = inShape[0]! - states * hidden
  return {
    size: g * input + g * hidden + (c['bias'] === false ? 0 : 2 * g),
    outShape: [states * hidden],
  }
}

/** The config's `hiddenSize`, checked. */
export const hiddenOf = (ctx: OnnxEmitContext): Either<OnnxError, number> => {
  const hidden = ctx.config['hiddenSize']
  return typeof hidden !== 'number' || !Number.isInteger(hidden) || hidden < 1
    ? ctx.fail(`config.hiddenSize must be a positive integer, got ${JSON.stringify(hidden)}`)
    : E.right(hidden)
}

/** The weights of a layer being exported, checked by `ctx.param` (names with `suffix`). */
export const onnxWeights = (
  ctx: OnnxEmitContext,
  suffix: string,
  gates: number,
  hidden: number,
  input: number | null,
): Either<OnnxError, RecurrentWeights> => {
  const g = gates * hidden
  const wIh = ctx.param(`weight_ih${suffix}`, [g, input])
  if (E.isLeft(wIh)) return wIh
  const wHh = ctx.param(`weight_hh${suffix}`, [g, hidden])
  if (E.isLeft(wHh)) return wHh
  const bIh = ctx.optionalParam('bias', `bias_ih${suffix}`, [g])
  if (E.isLeft(bIh)) return bIh
  const bHh = ctx.optionalParam('bias', `bias_hh${suffix}`, [g])
  if (E.isLeft(bHh)) return bHh
  return E.right({ wIh: wIh.right, wHh: wHh.right, bIh: bIh.right, bHh: bHh.right })
}

/** An int64 tensor of `values` (the graph builder writes float initializers: cast from one). */
export const int64s = (ctx: OnnxEmitContext, leaf: string, values: ReadonlyArray<number>): string =>
  ctx.node(
    'Cast',
    [ctx.initializer(leaf, T.tensor([...values], 'float32'))],
    [intAttribute('to', DataType.INT64)],
  )

/** How a recurrence exports as ONNX's own operator (`LSTM`, `GRU`). */
export interface OnnxRecurrence {
  readonly opType: 'LSTM' | 'GRU'
  readonly gates: number
  /** Learned-initial-state parameter names, in the operator's input order (`h0`, `c0`). */
  readonly states: ReadonlyArray<string>
  /** PyTorch's gate blocks (rows of a weight, entries of a bias) in ONNX's order. */
  readonly reorder: (w: Tensor, hidden: number) => Tensor
  readonly attributes: ReadonlyArray<ReturnType<typeof intAttribute>>
}

/**
 * The ONNX node of a recurrence over `x` (`[N, seq, input]` batch first, the graph value `x`):
 * initializers `W` `[1, G·H, I]`, `R` `[1, G·H, H]`, `B` `[1, 2·G·H]` in ONNX's gate order, and
 * initial states given as graph values `[1, N, H]`. Returns `Y`'s steps `[seq, N, H]` (time first).
 */
export const emitRecurrence = (
  ctx: OnnxEmitContext,
  spec: OnnxRecurrence,
  hidden: number,
  w: RecurrentWeights,
  timeMajor: string,
  initialStates: ReadonlyArray<string>,
): string => {
  const g = spec.gates * hidden
  const input = w.wIh.shape[1]!
  const inputs = [
    timeMajor,
    ctx.initializer('W', T.reshape(spec.reorder(w.wIh, hidden), [1, g, input])),
    ctx.initializer('R', T.reshape(spec.reorder(w.wHh, hidden), [1, g, hidden])),
  ]
  const bias =
    w.bIh !== undefined && w.bHh !== undefined
      ? ctx.initializer(
          'B',
          T.reshape(T.concat([spec.reorder(w.bIh, hidden), spec.reorder(w.bHh, hidden)], 0), [1, 2 * g]),
        )
      : ''
  // Optional inputs left out are empty names; sequence_lens is always left out.
  if (initialStates.length > 0) inputs.push(bias, '', ...initialStates)
  else if (bias !== '') inputs.push(bias)
  // Y: [seq, 1 (direction), N, hidden].
  const y = ctx.node(spec.opType, inputs, [intAttribute('hidden_size', hidden), ...spec.attributes])
  return ctx.node('Squeeze', [y, int64s(ctx, 'direction_axis', [1])])
}

/**
 * The ONNX export of a sequence layer: Transpose to time first, the operator, then the last step
 * (Gather −1) or every step (Transpose back to batch first). Learned initial states are Expanded
 * over the batch (`Shape` of the input).
 */
export const emitSequence = (ctx: OnnxEmitContext, spec: OnnxRecurrence): Either<OnnxError, OnnxValue> => {
  const x = ctx.rank(2, '[seq, input]')
  if (E.isLeft(x)) return x
  const hidden = hiddenOf(ctx)
  if (E.isLeft(hidden)) return hidden
  const h = hidden.right
  const [seq, input] = x.right.shape
  const w = onnxWeights(ctx, '_l0', spec.gates, h, typeof input === 'number' ? input : null)
  if (E.isLeft(w)) return w
  const learned = ctx.config['initialState'] === 'learned'
  const starts: string[] = []
  if (learned) {
    // [1, N, 1] from the input's batch size; Expand broadcasts [1, 1, H] over it.
    const batch = ctx.node(
      'Gather',
      [ctx.node('Shape', [x.right.name]), int64s(ctx, 'batch_axis', [0])],
      [intAttribute('axis', 0)],
    )
    const target = ctx.node(
      'Concat',
      [int64s(ctx, 'one', [1]), batch, int64s(ctx, 'one', [1])],
      [intAttribute('axis', 0)],
    )
    for (const name of spec.states) {
      const s = ctx.param(name, [h])
      if (E.isLeft(s)) return s
      starts.push(ctx.node('Expand', [ctx.initializer(name, T.reshape(s.right, [1, 1, h])), target]))
    }
  }
  const timeMajor = ctx.node('Transpose', [x.right.name], [intsAttribute('perm', [1, 0, 2])])
  const steps = emitRecurrence(ctx, spec, h, w.right, timeMajor, starts) // [seq, N, hidden]
  if (ctx.config['returnSequences'] === true)
    return E.right({
      name: ctx.node('Transpose', [steps], [intsAttribute('perm', [1, 0, 2])]),
      shape: [seq ?? null, h],
      elem: 'float',
    })
  // A scalar index drops the axis it gathers on.
  const last = ctx.node('Cast', [ctx.constant(-1)], [intAttribute('to', DataType.INT64)])
  return E.right({
    name: ctx.node('Gather', [steps, last], [intAttribute('axis', 0)]),
    shape: [h],
    elem: 'float',
  })
}

/** The packed input of a cell being exported, split: `x` `[N, input]` and each state `[N, hidden]`. */
export const emitCellParts = (
  ctx: OnnxEmitContext,
  states: number,
  hidden: number,
): Either<
  OnnxError,
  { readonly x: string; readonly input: number; readonly states: ReadonlyArray<string> }
> => {
  const v = ctx.rank(1, `[input + ${states}·hidden]`)
  if (E.isLeft(v)) return v
  const width = v.right.shape[0]
  if (typeof width !== 'number' || width <= states * hidden)
    return ctx.fail(
      `the input's last axis must be known and longer than ${states * hidden} (${states}·hiddenSize), got ${String(width)}`,
    )
  const input = width - states * hidden
  const range = (start: number, n: number): number[] => Array.from({ length: n }, (_, i) => start + i)
  const take = (leaf: string, start: number, n: number): string =>
    ctx.node('Gather', [v.right.name, int64s(ctx, leaf, range(start, n))], [intAttribute('axis', 1)])
  return E.right({
    x: take('x_index', 0, input),
    input,
    states: Array.from({ length: states }, (_, i) => take(`state${i}_index`, input + i * hidden, hidden)),
  })
}

/** Gate blocks of `w` (rows of `[G·H, ...]`, entries of `[G·H]`) taken in `order` (PyTorch's to ONNX's). */
export const reorderBlocks = (order: ReadonlyArray<number>, w: Tensor, hidden: number): Tensor =>
  T.concat(
    order.map((k) => T.slice(w, [{ start: k * hidden, stop: (k + 1) * hidden }])),
    0,
  )
