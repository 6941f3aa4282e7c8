// Per-op overhead on tiny tensors, kept as a standalone entry point: the cost of dispatch, validation,
// allocation and (inside grad) tracing plus the backward fold, which dominates small models.
//   node bench/overhead.mjs [backfold|backfold-reference|tfjs-cpu|tfjs-wasm|jax-jit|jax-eager]
// Prints one JSON line. The measurement itself lives in cases/overhead.mjs, which bench/run.mjs runs
// for every configuration.
await import('./cases/overhead.mjs')
