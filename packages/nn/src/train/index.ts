/**
 * Training: the pure training step, `fit` (epochs, shuffling, validation, history, callbacks,
 * early stopping, progress reporting), `evaluate`, `predict`, and an SVG chart of a history.
 * @since 0.1.0
 */
export {
  makeTrainStep,
  type TrainStep,
  type StagedTrainStep,
  type TrainStepOptions,
  type TrainStepResult,
  type StepMetrics,
  type LossFunction,
} from './step'
export { fit, type FitOptions, type FitResult } from './fit'
export { fitAsync, type FitAsyncOptions, type AsyncCallback } from './fitAsync'
export {
  evaluate,
  predict,
  type Metric,
  type EvaluateOptions,
  type PredictOptions,
  type Evaluation,
} from './evaluate'
export {
  earlyStopping,
  stopOnNaN,
  TrainingDivergedError,
  type StopOnNaNCallback,
  type Callback,
  type CallbackSignal,
  type TrainingState,
  type TrainBeginInfo,
  type BatchEndInfo,
  type EpochEndInfo,
  type EarlyStoppingOptions,
  type EarlyStoppingCallback,
} from './callbacks'
export type { EpochRecord, History, EpochMetric } from './history'
export {
  silentReporter,
  formatEpochRecord,
  type Reporter,
  type FitStartInfo,
  type BatchProgress,
  type FormatEpochOptions,
} from './reporter'
export { historyChartSvg, type HistoryChartOptions } from './chart'
