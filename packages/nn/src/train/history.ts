/**
 * What `fit` measured in one epoch. `epoch` is 0-based (displayed as `epoch + 1`). Training
 * metrics are averages over the epoch's batches weighted by batch size, measured while training
 * (dropout active, parameters changing), as Keras reports them; validation metrics are measured
 * after the epoch on `validationData` in evaluation mode.
 * @since 0.1.0
 */
export interface EpochRecord {
  readonly epoch: number
  /** Mean training objective (loss plus regulariser). */
  readonly loss: number
  /** Training accuracy, when the labels are class indices. */
  readonly accuracy?: number
  /** Validation objective (loss plus regulariser at the end-of-epoch parameters). */
  readonly valLoss?: number
  /** Validation accuracy, when the labels are class indices. */
  readonly valAccuracy?: number
  /** Wall-clock seconds spent on the epoch's training batches (validation excluded). */
  readonly seconds: number
  /** Training examples seen in the epoch (all of them unless a callback stopped it early). */
  readonly samples: number
}

/** One record per completed epoch, in order. Plain data: `JSON.stringify` it as is. @since 0.1.0 */
export type History = ReadonlyArray<EpochRecord>

/** The metrics an `EpochRecord` can hold, for `earlyStopping`'s `monitor` and charts. @since 0.1.0 */
export type EpochMetric = 'loss' | 'accuracy' | 'valLoss' | 'valAccuracy'
