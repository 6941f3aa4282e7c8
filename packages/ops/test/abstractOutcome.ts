// What a shape rule must reproduce: eager mode's output shape and dtype, or its error (the same
// class and message). Shared by the family tests that check the ops' `abstract` rules through
// makeGraph (whose staged values throw on any read of their data).
import { BackfoldError, type Tensor } from '@backfold/tensor'
import { makeGraph } from '../src/staging/graph'

/** An output's shape and dtype, or a thrown error's class and message. */
export type Outcome =
  | { readonly shape: ReadonlyArray<number>; readonly dtype: string }
  | { readonly error: string; readonly message: string }

const failed = (error: unknown): Outcome => {
  if (!(error instanceof BackfoldError)) throw error
  return { error: error.constructor.name, message: error.message }
}

/** `f(...args)` run eagerly. */
export const eagerOutcome = <Args extends Tensor[]>(f: (...args: Args) => Tensor, args: Args): Outcome => {
  try {
    const y = f(...args)
    return { shape: [...y.shape], dtype: y.dtype }
  } catch (error) {
    return failed(error)
  }
}

/**
 * `f` staged with `makeGraph` on `args`' shapes and dtypes: its output's aval, or the staging error
 * without the prefix naming the staged function.
 */
export const stagedOutcome = <Args extends Tensor[]>(f: (...args: Args) => Tensor, args: Args): Outcome => {
  try {
    const graph = makeGraph(f)(...args)
    const [output] = graph.outputs
    if (output === undefined || graph.outputs.length !== 1)
      throw new Error(`expected one output, got ${graph.outputs.length}`)
    return { shape: [...output.shape], dtype: output.dtype }
  } catch (error) {
    const outcome = failed(error)
    if (!('error' in outcome)) return outcome
    const prefix = /^while staging [^:]*: /
    if (!prefix.test(outcome.message)) throw new Error(`staging error without its prefix: ${outcome.message}`)
    return { error: outcome.error, message: outcome.message.replace(prefix, '') }
  }
}
