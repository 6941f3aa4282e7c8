// Whether the benchmarked configurations compute the same numbers. Every configuration starts from
// the same weights and inputs, so the quantities each case prints (first loss, loss after one SGD
// step, a checksum of a product) must agree up to float32 rounding; when they do not, some
// configuration computes something else and its timings compare nothing (bench/run.mjs then fails).

/**
 * Largest relative spread that float32 rounding explains: the configurations sum in different
 * orders (and, where an engine has it, with fused multiply-add), which moves these quantities by
 * about 1e-6; a wrong gradient or a transposed weight moves them by far more.
 */
export const AGREEMENT_TOLERANCE = 1e-4

/**
 * One entry per check `[label, bench, get]`: the value `get` reads from each configuration's result
 * (`undefined` where the configuration did not run the case), the relative spread
 * (max − min) / max |value| (`undefined` with fewer than two values), whether that is a disagreement,
 * and which configurations gave the lowest and highest finite values and any non-finite one. A non-finite value
 * (NaN, Infinity) is always a disagreement: that configuration computed something else.
 */
export const compareConfigurations = (checks, configurations, results) =>
  checks.map(([label, bench, get]) => {
    const values = configurations.map((f) => {
      const r = results[bench]?.[f]
      return r === undefined || r.error !== undefined ? undefined : get(r)
    })
    const present = configurations
      .map((framework, i) => ({ framework, value: values[i] }))
      .filter(({ value }) => typeof value === 'number')
    const finite = present.filter(({ value }) => Number.isFinite(value))
    const byValue = [...finite].sort((a, b) => a.value - b.value)
    const extremes = {
      lowest: byValue[0],
      highest: byValue.at(-1),
      nonFinite: present.filter(({ value }) => !Number.isFinite(value)),
    }
    if (present.length < 2) return { label, bench, values, spread: undefined, disagrees: false, ...extremes }
    const allEqual =
      finite.length === present.length && finite.every(({ value }) => value === finite[0].value)
    const spread = allEqual
      ? 0
      : finite.length < present.length
        ? Number.NaN
        : (extremes.highest.value - extremes.lowest.value) /
          Math.max(Math.abs(extremes.highest.value), Math.abs(extremes.lowest.value))
    // Written so that NaN (a non-finite value among the results) is a disagreement too.
    const disagrees = !(spread <= AGREEMENT_TOLERANCE)
    return { label, bench, values, spread, disagrees, ...extremes }
  })
