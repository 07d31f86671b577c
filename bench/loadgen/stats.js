// Summaries of samples: nearest-rank percentiles over a sorted copy.

export const percentile = (sorted, p) => {
  if (sorted.length === 0) return null
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

const round = (x) => (x === null ? null : Math.round(x * 1000) / 1000)

/** { count, mean, p50, p95, p99, max, min } in the samples' unit, rounded to 3 decimals. */
export const summarize = (samples) => {
  const sorted = Float64Array.from(samples).sort()
  let sum = 0
  for (const x of sorted) sum += x
  return {
    count: sorted.length,
    mean: sorted.length ? round(sum / sorted.length) : null,
    min: round(sorted.length ? sorted[0] : null),
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.length ? sorted[sorted.length - 1] : null)
  }
}
