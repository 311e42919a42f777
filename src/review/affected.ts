import type { LoadedExperiment } from '../config/index.js';
import { reviewExperiments, type Review, type ReviewEntry, type ReviewOptions, type ReviewSide } from '../config/review.js';
import { isFitspecError } from '../errors.js';
import { planSweep, type SweepPlan } from '../sweep/plan.js';

/** One thing a side trains: the experiment itself, or one trial of a sweep. */
export interface Unit {
  /** The experiment name, or the trial id (`t001`). */
  id: string;
  hash: string;
  loaded: LoadedExperiment;
  params?: Record<string, unknown>;
}

/** An experiment (or sweep) of the review, with what each side trains. */
export interface Affected {
  entry: ReviewEntry;
  name: string;
  /** The sweep plans of each side, when the file is a sweep. */
  sweep?: { base?: SweepPlan; head?: SweepPlan };
  base: Unit[];
  head: Unit[];
  /** The head trains something the base did not: its results are new ones to have. */
  trains: boolean;
}

export interface ReviewWithUnits {
  review: Review;
  affected: Affected[];
}

function plan(entry: ReviewEntry, loaded: LoadedExperiment | undefined, side: ReviewSide, set: string[]): SweepPlan | undefined {
  if (!loaded?.experiment.sweep) return undefined;
  try {
    return planSweep(entry.file, { set, yes: true, reader: side.reader });
  } catch (e) {
    // A sweep whose trials do not expand is still reviewed as the file it is; `fitspec sweep` reports why.
    if (!isFitspecError(e)) throw e;
    return undefined;
  }
}

const units = (l: LoadedExperiment | undefined, p: SweepPlan | undefined): Unit[] =>
  p ? p.trials.map((t) => ({ id: t.id, hash: t.hash, loaded: t.loaded, params: t.params })) : l ? [{ id: l.experiment.name, hash: l.hash, loaded: l }] : [];

/**
 * The review of `config/review.ts`, with sweeps seen through their trials: a sweep whose trial hashes
 * are the same on both sides trains the same runs (a change to a swept value, to its name or its
 * description), so it is not a change; otherwise its trials are what each side trains.
 */
export function reviewChange(base: ReviewSide, head: ReviewSide, paths: string[], opts: ReviewOptions = {}): ReviewWithUnits {
  const set = opts.set ?? [];
  const review = reviewExperiments(base, head, paths, opts);
  const affected: Affected[] = [];
  const entries: ReviewEntry[] = [];
  for (const entry of review.entries) {
    const pb = entry.status === 'error' ? undefined : plan(entry, entry.before, base, set);
    const ph = entry.status === 'error' ? undefined : plan(entry, entry.after, head, set);
    const b = units(entry.before, pb);
    const h = entry.status === 'error' ? [] : units(entry.after, ph);
    const key = (u: Unit[]) =>
      u
        .map((x) => x.hash)
        .sort()
        .join(',');
    if (entry.status === 'changed' && (pb || ph) && key(b) === key(h)) {
      review.unchanged++;
      continue;
    }
    entries.push(entry);
    const baseHashes = new Set(b.map((u) => u.hash));
    affected.push({
      entry,
      name: (entry.after ?? entry.before)?.experiment.sweep
        ? ((ph ?? pb)?.name ?? (entry.after ?? entry.before)!.experiment.name)
        : ((entry.after ?? entry.before)?.experiment.name ?? entry.file),
      ...(pb || ph ? { sweep: { base: pb, head: ph } } : {}),
      base: b,
      head: h,
      trains: h.some((u) => !baseHashes.has(u.hash)),
    });
  }
  review.entries = entries;
  return { review, affected };
}
