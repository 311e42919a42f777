import { FitspecError, isFitspecError } from '../errors.js';
import { MODEL_BASED, type SweepPlan, type Trial } from './plan.js';
import { fromSampler, OptunaSampler, searchSpace, toSampler, type SamplerTrial } from './sampler.js';
import { bracketCount, decide, rungsOf, type SchedulerRule, type TrialProgress } from './scheduler.js';
import { bestMetric, trialJob, type SweepMeta, type TrialJob, type TrialOutcome } from './records.js';

/** Where a scheduled sweep's jobs run: worker processes here, or the Redis queue. */
export interface Executor {
  /** Runs one job of a trial; `key` names it among the trial's jobs (`e3`: to epoch 3, `stop`). */
  run(job: TrialJob, key: string): Promise<TrialOutcome>;
}

/** What the results table and `sweep status` show of a trial under a scheduler. */
export type RungState = 'queued' | 'running' | 'paused' | 'promoted' | 'stopped' | 'finished' | 'failed' | 'cancelled';

export interface DriveOptions {
  executor: Executor;
  /** Jobs in flight at once (worker processes here; how many the queue's workers may take). */
  parallel: number;
  log: (m: string) => void;
  /** The latest outcome of each known trial, read back from an earlier run of the sweep. */
  recovered: Map<string, TrialOutcome>;
  /** Jobs still running elsewhere (queue): trial -> their outcome to come. */
  inFlight?: Map<string, { key: string; target: number; outcome: Promise<TrialOutcome> }>;
  /** Saves the sweep's description once a new trial is drawn (before it is trained). */
  persist: (meta: SweepMeta) => Promise<void> | void;
  onOutcome?: (outcomes: TrialOutcome[]) => void;
  stopping?: () => boolean;
}

/** The scheduler of a sweep, or a single rung of `train.epochs` when it has none. */
export function ruleOf(plan: SweepPlan): SchedulerRule {
  if (plan.sweep.scheduler) return plan.sweep.scheduler as SchedulerRule;
  const epochs = plan.base.experiment.train.epochs;
  return { type: 'asha', minEpochs: epochs, maxEpochs: epochs, reductionFactor: 2 };
}

/** Whether the sweep needs the scheduling driver (a scheduler, or trials drawn from results). */
export function isScheduled(plan: SweepPlan): boolean {
  return Boolean(plan.sweep.scheduler) || MODEL_BASED.has(plan.sweep.method);
}

/** Trials a sweep has in all: the grid, or `count` drawn ones. */
export function trialCount(plan: SweepPlan): number {
  return MODEL_BASED.has(plan.sweep.method) ? plan.sweep.count! : plan.trials.length;
}

function phaseOf(o: TrialOutcome): TrialProgress['phase'] {
  if (o.status === 'PAUSED' || o.status === 'KILLED') return 'paused';
  if (o.status === 'FINISHED' || o.status === 'SKIPPED') return o.stoppedBy === 'scheduler' ? 'stopped' : 'finished';
  return 'failed';
}

/**
 * Runs a sweep under its scheduler (ASHA / Hyperband) and sampler: each free slot gets the decision of
 * `decide` (promote a paused trial by resuming it, start a trial, stop one where it is), new trials of
 * tpe / cmaes are drawn by Optuna from everything known so far. Every job's identity is (trial, target
 * epochs), so a decision taken twice (a crash between deciding and recording) runs once.
 */
export async function driveSweep(plan: SweepPlan, meta: SweepMeta, opts: DriveOptions): Promise<{ outcomes: TrialOutcome[]; progress: TrialProgress[]; jobs: number }> {
  const rule = ruleOf(plan);
  const count = trialCount(plan);
  const mode = plan.sweep.mode;
  const modelBased = MODEL_BASED.has(plan.sweep.method);
  const outcomes = new Map(opts.recovered);
  const jobs = new Map<string, TrialJob>();
  const progress: TrialProgress[] = [];
  // A planned sweep's trials start one by one as `decide` asks for them (ASHA promotes between starts);
  // the ones an earlier run started come first, as they were started in order.
  const startedBefore = plan.trials.reduce((n, t, i) => (outcomes.has(t.id) || opts.inFlight?.has(t.id) ? i + 1 : n), 0);
  const known = modelBased ? meta.trials : plan.trials.slice(0, startedBefore).map((t) => ({ id: t.id, hash: t.hash, params: t.params }));
  const brackets = bracketCount(rule);
  const firstRung = (position: number) => rungsOf(rule)[position % brackets]!;
  const pending: { trial: string; to: number }[] = [];
  /** The scheduler's story of each trial, carried by its jobs into the run's `fitspec.sweep_rungs` tag. */
  const story = new Map<string, string>([...outcomes].map(([id, o]) => [id, o.rungs ?? '']));
  const tell = (trial: string, event: string) => [story.get(trial), event].filter(Boolean).join(' ');

  for (const [i, t] of known.entries()) {
    const trial = plan.trials.find((x) => x.id === t.id) ?? plan.trialOf(i + 1, t.params);
    jobs.set(t.id, trialJob(plan, meta, trial));
    const o = outcomes.get(t.id);
    const p: TrialProgress = { id: t.id, position: i, epochs: o?.epochs ?? 0, values: o?.values ?? [], phase: o ? phaseOf(o) : 'paused' };
    progress.push(p);
    const flying = opts.inFlight?.get(t.id);
    if (flying) continue;
    // Drawn but never trained, or interrupted between two rungs: continue to the rung it was going to.
    const rungs = rungsOf(rule).slice(i % brackets);
    if (!o) pending.push({ trial: t.id, to: firstRung(i) });
    else if (o.status === 'KILLED' && !rungs.includes(p.epochs)) pending.push({ trial: t.id, to: rungs.find((r) => r > p.epochs) ?? rule.maxEpochs });
  }
  if (modelBased) meta.trials = known;

  const sampler = modelBased && progress.length < count ? await OptunaSampler.open(opts.log) : undefined;
  const running = new Map<string, Promise<{ trial: string; outcome: TrialOutcome }>>();
  const report = () => opts.onOutcome?.(currentOutcomes());
  const currentOutcomes = () =>
    progress.map((p) => {
      const o = outcomes.get(p.id);
      const t = known.find((k) => k.id === p.id)!;
      const state = rungStateOf(p, o);
      return {
        ...(o ?? { trial: p.id, hash: t.hash, params: t.params, status: 'PAUSED' as const }),
        epochs: p.epochs,
        values: p.values,
        metric: bestMetric(p.values, mode),
        rungState: state,
        target: p.target,
      };
    });

  let submitted = 0;
  const submit = (trial: string, key: string, job: TrialJob, target: number, flying?: Promise<TrialOutcome>) => {
    submitted++;
    const p = progress.find((x) => x.id === trial)!;
    p.phase = 'running';
    p.target = target;
    const outcome = flying ?? opts.executor.run(job, key);
    running.set(
      trial,
      outcome.then(
        (o) => ({ trial, outcome: o }),
        (e: Error) => ({ trial, outcome: { trial, hash: job.hash, params: job.params, status: 'FAILED' as const, error: e.message } }),
      ),
    );
  };
  for (const [trial, f] of opts.inFlight ?? []) submit(trial, f.key, jobs.get(trial)!, f.target, f.outcome);
  for (const { trial, to } of pending) submit(trial, `e${to}`, { ...jobs.get(trial)!, pauseAt: to, rungs: outcomes.has(trial) ? (story.get(trial) ?? '') : 'started' }, to);

  try {
    for (;;) {
      while (!opts.stopping?.() && running.size < opts.parallel) {
        const d = decide(progress, rule, count, mode);
        if (d.kind === 'wait' || d.kind === 'done') break;
        if (d.kind === 'start') {
          const position = progress.length;
          const trial = await newTrial(position);
          progress.push({ id: trial.id, position, epochs: 0, values: [], phase: 'paused' });
          // The save of the drawn point is where a cancel given meanwhile is seen: it stays drawn, for a re-run.
          if (opts.stopping?.()) {
            outcomes.set(trial.id, { trial: trial.id, hash: trial.hash, params: trial.params, status: 'CANCELLED' });
            break;
          }
          submit(trial.id, `e${d.to}`, { ...jobs.get(trial.id)!, pauseAt: d.to, rungs: 'started' }, d.to);
        } else if (d.kind === 'promote') {
          opts.log(`[${plan.name} ${d.trial}] promoted from epoch ${d.from} to ${d.to}: continuing from its checkpoint`);
          submit(d.trial, `e${d.to}`, { ...jobs.get(d.trial)!, pauseAt: d.to, rungs: tell(d.trial, `${d.from}:promoted`) }, d.to);
        } else {
          opts.log(`[${plan.name} ${d.trial}] stopped at epoch ${d.at}: not among the best of its rung`);
          submit(d.trial, 'stop', { ...jobs.get(d.trial)!, finishAt: d.at, rungs: tell(d.trial, `${d.at}:stopped`) }, d.at);
        }
        report();
      }
      if (!running.size) break;
      const { trial, outcome } = await Promise.race(running.values());
      running.delete(trial);
      const p = progress.find((x) => x.id === trial)!;
      // A cancelled promotion leaves the trial as its last rung had it (paused there, with its run).
      if (outcome.status !== 'CANCELLED' || !outcomes.has(trial)) outcomes.set(trial, outcome);
      if (outcome.rungs) story.set(trial, outcome.rungs);
      p.target = undefined;
      // A job stopped or removed because the sweep stops: the trial stays where it was, to be continued.
      if ((outcome.status === 'KILLED' || outcome.status === 'CANCELLED') && opts.stopping?.()) p.phase = 'paused';
      else p.phase = phaseOf(outcome);
      if (outcome.values) {
        p.values = outcome.values;
        p.epochs = outcome.epochs ?? outcome.values.length;
      }
      report();
    }
  } finally {
    sampler?.close();
  }
  return { outcomes: currentOutcomes(), progress, jobs: submitted };

  /** The next trial: the grid's or random draw's next one, or a point Optuna draws from what is known. */
  async function newTrial(position: number): Promise<Pick<Trial, 'id' | 'hash' | 'params'>> {
    if (!modelBased) {
      const t = plan.trials[position]!;
      known.push({ id: t.id, hash: t.hash, params: t.params });
      jobs.set(t.id, trialJob(plan, meta, t));
      return t;
    }
    const space = searchSpace(plan.sweep);
    const history: SamplerTrial[] = progress.map((p) => {
      const t = known.find((k) => k.id === p.id)!;
      const intermediate = Object.fromEntries(p.values.map((v, e) => [String(e + 1), v]).filter(([, v]) => Number.isFinite(v as number)));
      const value = bestMetric(p.values, mode);
      const state: SamplerTrial['state'] = p.phase === 'failed' ? 'failed' : p.phase === 'finished' && value !== undefined ? 'complete' : p.epochs > 0 ? 'pruned' : 'running';
      return { params: toSampler(plan.sweep, t.params), state, ...(state === 'complete' ? { value } : {}), intermediate };
    });
    // A point equal to a known trial would train nothing new: ask again with the next number, a few times.
    for (let attempt = 0; ; attempt++) {
      const drawn = await sampler!.ask({ method: plan.sweep.method as 'tpe' | 'cmaes', seed: plan.sweep.seed, number: position + attempt * count, mode, space, trials: history });
      const params = fromSampler(plan.sweep, drawn);
      let trial;
      try {
        trial = plan.trialOf(position + 1, params);
      } catch (e) {
        if (!isFitspecError(e)) throw e;
        throw new FitspecError(e.problems.map((p) => ({ ...p, message: `${plan.sweep.method} drew ${p.message}` })));
      }
      if (known.some((k) => k.hash === trial.hash) && attempt < 5) continue;
      known.push({ id: trial.id, hash: trial.hash, params: trial.params });
      jobs.set(trial.id, trialJob(plan, meta, trial));
      meta.trials = known;
      await opts.persist(meta);
      const shown = Object.entries(trial.params)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`.slice(0, 80))
        .join(', ');
      opts.log(
        opts.stopping?.()
          ? `[${plan.name} ${trial.id}] ${shown}: kept for a re-run, not started (the sweep stops)`
          : `[${plan.name} ${trial.id}] drawn by ${plan.sweep.method}: ${shown}`,
      );
      return trial;
    }
  }
}

function rungStateOf(p: TrialProgress, o: TrialOutcome | undefined): RungState {
  if (p.phase === 'running') return p.epochs > 0 ? 'promoted' : 'running';
  if (p.phase === 'paused') return o?.status === 'CANCELLED' ? 'cancelled' : o ? 'paused' : 'queued';
  return p.phase;
}

/** Epochs trained over all trials, against a full grid of the same trials at maxEpochs each. */
export function budget(outcomes: { epochs?: number }[], trials: number, maxEpochs: number): { spent: number; full: number } {
  return { spent: outcomes.reduce((n, o) => n + (o.epochs ?? 0), 0), full: trials * maxEpochs };
}
