/**
 * @backfold/nn/node: the parts of backfold that need Node.js: reading data files, atomic writes,
 * the terminal progress display and chart files. The rest of `@backfold/nn` runs in browsers too.
 * @packageDocumentation
 * @module @backfold/nn/node
 */
export * from './files'
export * from './progress'
export * from './chart'
export * from './safetensors'
export * from './onnx'
export * from './checkpoint'
