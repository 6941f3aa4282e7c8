/**
 * Data sets as plain `{ x, y }` records of tensors: construction, subsets, batches, stratified
 * splits, feature scaling, and parsers for numeric CSV and IDX data held in memory (file reading
 * lives in `@backfold/nn/node`). Parsers return `Either<DataError, ...>`.
 * @since 0.1.0
 */
export { dataError, formatDataError, type DataError } from './error'
export {
  fromTensors,
  numExamples,
  subset,
  take,
  shuffle,
  batches,
  stratifiedSplit,
  type Dataset,
  type BatchesOptions,
  type StratifiedSplitOptions,
} from './dataset'
export { fitStandardize, fitMinMax, applyScaling, type Scaling } from './scaling'
export { parseCsv, parseCsvBytes, type CsvOptions, type CsvFeatures, type CsvDataset } from './csv'
export { parseIdx, type IdxOptions } from './idx'
export { validateLabels, type ValidateLabelsOptions } from './labels'
