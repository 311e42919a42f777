/** One row of metrics.csv: the 0-based epoch and the Keras-named metrics of that epoch. */
export interface EpochRow {
  epoch: number;
  [metric: string]: number;
}

/** The first of `names` present in the history (`accuracy` was `acc` in older Keras logs). */
export function pickMetric(history: EpochRow[], names: string[]): string | undefined {
  return names.find((n) => history.some((r) => Number.isFinite(r[n])));
}

/** Index of the best finite value of `metric` (first one on ties), or -1. */
export function bestIndex(history: EpochRow[], metric: string, mode: 'min' | 'max'): number {
  let idx = -1;
  history.forEach((r, i) => {
    const v = r[metric];
    if (v === undefined || !Number.isFinite(v)) return;
    if (idx < 0 || (mode === 'max' ? v > history[idx]![metric]! : v < history[idx]![metric]!)) idx = i;
  });
  return idx;
}
