// Types of dpsgd.mjs, for the TypeScript test that imports it (test/dp-sgd.test.ts).
import type { Layer } from '@backfold/nn'
import type { Key, Tensor } from '@backfold/ops'

export type Loss<P> = (params: P, x: Tensor, y: Tensor) => Tensor
export declare const exampleLoss: <P, S>(model: Layer<P, S>, state: S) => Loss<P>
export declare const perExampleGradients: <P>(loss: Loss<P>) => (params: P, xs: Tensor, ys: Tensor) => P
export declare const clipAndSum: <P>(
  perExample: P,
  clipNorm: number,
) => { readonly sum: P; readonly norms: Tensor; readonly clippedFraction: number }
export declare const noisyMean: <P>(
  sum: P,
  opts: {
    readonly clipNorm: number
    readonly noiseMultiplier: number
    readonly batchSize: number
    readonly key: Key
  },
) => P
export declare const dpSgdStep: <P>(
  params: P,
  batch: { readonly x: Tensor; readonly y: Tensor },
  opts: {
    readonly loss: Loss<P>
    readonly learningRate: number
    readonly clipNorm: number
    readonly noiseMultiplier: number
    readonly key: Key
  },
) => { readonly params: P; readonly clippedFraction: number }
