// Types of names.mjs, for the TypeScript test that imports it (test/names-example.test.ts).
import type { Either } from 'fp-ts/lib/Either.js'
import type { EpochRecord, Layer } from '@backfold/nn'
import type { Key, Tensor } from '@backfold/tensor'

export interface Dataset {
  readonly x: Tensor
  readonly y: Tensor
}
export interface ModelOptions {
  readonly model?: 'transformer' | 'lstm'
  readonly layers?: number
  readonly heads?: number
  readonly dims?: number
  readonly context?: number
}
export interface NamesRecord extends EpochRecord {
  readonly step: number
}

export declare const WORD_LIST: string
export declare const ALPHABET: string
export declare const BOUNDARY: number
export declare const VOCAB: number
export declare const PAD_TARGET: number
export declare const decodeWordList: (bytes: Uint8Array, source?: string) => Either<string, string[]>
export declare const readWordList: (file?: string) => Promise<Either<string, string[]>>
export declare const normaliseWords: (
  lines: ReadonlyArray<string>,
  maxLength: number,
) => {
  readonly words: string[]
  readonly dropped: { readonly notAlphabetic: number; readonly tooLong: number; readonly duplicates: number }
}
export declare const fnv1a: (s: string) => number
export declare const splitWords: (
  words: ReadonlyArray<string>,
  validationPercent?: number,
) => { readonly train: string[]; readonly validation: string[] }
export declare const encodeWords: (words: ReadonlyArray<string>, context: number) => Dataset
export declare const decodeTokens: (tokens: ReadonlyArray<number>) => string
export declare const unigramEntropy: (words: ReadonlyArray<string>) => number
export declare const DEFAULT_MODEL: Required<ModelOptions>
export declare const buildModel: (opts?: ModelOptions) => Layer<unknown, unknown>
export declare const describeModel: (opts?: ModelOptions) => string
export declare const sequenceNll: (
  logits: Tensor,
  targets: Tensor,
) => { readonly total: Tensor; readonly count: Tensor }
export declare const sequenceLoss: (logits: Tensor, targets: Tensor) => Tensor
export declare const everyNth: (data: Dataset, count: number) => Dataset
export declare const nllPerCharacter: (
  model: Layer<unknown, unknown>,
  params: unknown,
  state: unknown,
  data: Dataset,
  batchSize?: number,
) => number
export declare const sampleWords: (
  model: Layer<unknown, unknown>,
  params: unknown,
  state: unknown,
  opts: {
    readonly count: number
    readonly context: number
    readonly temperature: number
    readonly topK?: number
    readonly key: Key
  },
) => string[]

export interface JobOptions extends ModelOptions {
  readonly outDir: string
  readonly steps?: number
  readonly batchSize?: number
  readonly evalEvery?: number
  readonly evalWords?: number
  readonly seed?: number
  readonly samples?: number
  readonly temperature?: number
  readonly topK?: number
  readonly learningRate?: number
  readonly wordList?: string
  readonly log?: (line: string) => void
  readonly progress?: (step: number, steps: number, batchLoss: number, seconds: number) => void
  readonly show?: (file: string) => string
}
export interface JobResult {
  readonly model: Layer<unknown, unknown>
  readonly modelOptions: Required<ModelOptions>
  readonly params: unknown
  readonly state: unknown
  readonly history: ReadonlyArray<NamesRecord>
  readonly validationLoss: number
  readonly baseline: number
  readonly samples: string[]
  readonly novel: number
  readonly split: { readonly train: string[]; readonly validation: string[] }
  readonly files: {
    readonly params: string
    readonly history: string
    readonly samples: string
    readonly onnx: string
    readonly chart: string
  }
  readonly trainingSeconds: number
}
export declare const DEFAULT_JOB: Required<
  Omit<JobOptions, 'outDir' | 'learningRate' | 'wordList' | 'log' | 'show'>
>
export declare const runJob: (options: JobOptions) => Promise<Either<string, JobResult>>
