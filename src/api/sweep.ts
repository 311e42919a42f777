import { planSweep, type PlanOptions, type SweepPlan } from '../sweep/plan.js';
import type { SweepMeta, TrialOutcome } from '../sweep/records.js';

export { planSweep, type PlanOptions, type SweepPlan };

/** How {@link runSweep} trains the trials. */
export interface SweepOptions extends PlanOptions {
  /** Worker processes on this machine (default: the sweep's `parallel`). */
  parallel?: number;
  /** TensorFlow threads per worker process (default: the cores split between them). */
  threads?: number;
  /** Where progress lines go; default: stdout. */
  log?: (line: string) => void;
}

/** The outcome of a sweep. */
export interface SweepResult {
  meta: SweepMeta;
  /** The sweep's folder (`<runsDir>/sweeps/<name>`), with `results.csv` and `results.json`. */
  dir: string;
  /** One per trial, finished earlier or now. */
  outcomes: TrialOutcome[];
  /** The best finished trial by the sweep's metric and mode. */
  best?: TrialOutcome;
  /** Trials trained by this call (the others were finished before). */
  trained: number;
}

/**
 * Runs a sweep (an experiment with a `sweep:` block) on this machine: every trial not finished before is
 * trained once, by `parallel` worker processes, each trial an ordinary run. As `fitspec sweep FILE`.
 *
 * @param sweep an experiment file with a `sweep:` block, or its plan from {@link planSweep}
 * @throws {@link FitspecError} for mistakes in the file or its sweep block
 */
export async function runSweep(sweep: string | SweepPlan, opts: SweepOptions = {}): Promise<SweepResult> {
  const plan = typeof sweep === 'string' ? planSweep(sweep, { set: opts.set, yes: opts.yes }) : sweep;
  const { runSweepLocal, runSweepScheduled } = await import('../sweep/run.js');
  const { isScheduled } = await import('../sweep/drive.js');
  const { bestTrial } = await import('../sweep/records.js');
  const log = opts.log ?? ((m: string) => process.stdout.write(m + '\n'));
  // A scheduler (ASHA, Hyperband) pauses trials at rungs and promotes them by resuming their checkpoints.
  const r = await (isScheduled(plan) ? runSweepScheduled : runSweepLocal)(plan, { parallel: opts.parallel ?? plan.sweep.parallel, threads: opts.threads, log });
  return { ...r, best: bestTrial(r.outcomes, r.meta.mode) };
}
