/**
 * Successive halving, asynchronous (ASHA, Li et al. 2020) and in Hyperband brackets: which trial a free
 * worker trains next. Pure functions of the trials' progress, so the same decisions come out wherever
 * the progress is read from (worker processes here, jobs in Redis, run folders of an earlier run).
 */

export interface SchedulerRule {
  type: 'asha' | 'hyperband';
  minEpochs: number;
  maxEpochs: number;
  reductionFactor: number;
}

/** Epoch counts at which trials pause: minEpochs, minEpochs x eta, ..., and maxEpochs last. */
export function rungsOf(rule: Pick<SchedulerRule, 'minEpochs' | 'maxEpochs' | 'reductionFactor'>): number[] {
  const out: number[] = [];
  for (let r = rule.minEpochs; r < rule.maxEpochs; r *= rule.reductionFactor) out.push(r);
  out.push(rule.maxEpochs);
  return out;
}

/** Hyperband's brackets: bracket s starts its trials at rung s (ASHA is the single bracket 0). */
export function bracketCount(rule: SchedulerRule): number {
  return rule.type === 'hyperband' ? rungsOf(rule).length : 1;
}

export type TrialPhase = 'running' | 'paused' | 'finished' | 'stopped' | 'failed';

export interface TrialProgress {
  id: string;
  /** Position in the sweep, from 0: a new trial's bracket is its position modulo the bracket count. */
  position: number;
  /** Epochs trained and checkpointed. */
  epochs: number;
  /** The sweep metric after each epoch (values[e - 1] after epoch e); NaN where there is none. */
  values: number[];
  phase: TrialPhase;
  /** Epochs the running job trains to. */
  target?: number;
}

export type Decision =
  | { kind: 'promote'; trial: string; from: number; to: number }
  | { kind: 'start'; to: number; bracket: number }
  | { kind: 'stop'; trial: string; at: number }
  | { kind: 'wait' }
  | { kind: 'done' };

const better = (mode: 'max' | 'min') => (a: number, b: number) => (mode === 'max' ? b - a : a - b);

/** The trial's value at a rung: its best metric over its first `epochs` epochs (how fitspec ranks trials). */
export function valueAt(t: Pick<TrialProgress, 'values'>, epochs: number, mode: 'max' | 'min'): number | undefined {
  const v = t.values.slice(0, epochs).filter(Number.isFinite);
  if (!v.length) return undefined;
  return mode === 'max' ? Math.max(...v) : Math.min(...v);
}

function bracketRungs(rule: SchedulerRule, bracket: number): number[] {
  return rungsOf(rule).slice(bracket);
}

/** Trials of a rung that the 1/eta rule lets go further and that wait there (not promoted yet). */
export function promotable(trials: TrialProgress[], rule: SchedulerRule, bracket: number, rung: number, mode: 'max' | 'min'): TrialProgress[] {
  const n = bracketCount(rule);
  const reached = trials
    .filter((t) => t.position % n === bracket && t.phase !== 'failed' && t.epochs >= rung)
    .map((t) => ({ t, v: valueAt(t, rung, mode) }))
    .filter((x): x is { t: TrialProgress; v: number } => x.v !== undefined)
    .sort((a, b) => better(mode)(a.v, b.v) || a.t.position - b.t.position);
  const top = reached.slice(0, Math.floor(reached.length / rule.reductionFactor));
  return top.map((x) => x.t).filter((t) => t.phase === 'paused' && t.epochs === rung);
}

/**
 * What a free worker does next. `started` trials exist (of `count`); `running` is how many jobs run now.
 * Order: the highest rung with a promotable trial (ASHA favours finishing good trials), else a new
 * trial, else wait for the running ones. When nothing runs and nothing more may start, the best paused
 * trial of the highest rung goes on until one trial has trained `maxEpochs` (a finite sweep would
 * otherwise end without a fully trained trial), and then every paused trial is stopped where it is.
 */
export function decide(trials: TrialProgress[], rule: SchedulerRule, count: number, mode: 'max' | 'min'): Decision {
  const n = bracketCount(rule);
  let best: { t: TrialProgress; from: number; to: number } | undefined;
  for (let b = 0; b < n; b++) {
    const rungs = bracketRungs(rule, b);
    for (let k = rungs.length - 2; k >= 0; k--) {
      const [t] = promotable(trials, rule, b, rungs[k]!, mode);
      if (t && (!best || rungs[k]! > best.from)) best = { t, from: rungs[k]!, to: rungs[k + 1]! };
      if (t) break;
    }
  }
  if (best) return { kind: 'promote', trial: best.t.id, from: best.from, to: best.to };
  if (trials.length < count) {
    const bracket = trials.length % n;
    return { kind: 'start', to: bracketRungs(rule, bracket)[0]!, bracket };
  }
  if (trials.some((t) => t.phase === 'running')) return { kind: 'wait' };
  const paused = trials.filter((t) => t.phase === 'paused');
  if (!paused.length) return { kind: 'done' };
  if (!trials.some((t) => t.phase === 'finished' && t.epochs >= rule.maxEpochs)) {
    const top = Math.max(...paused.map((t) => t.epochs));
    const [t] = paused
      .filter((x) => x.epochs === top)
      .map((x) => ({ x, v: valueAt(x, top, mode) ?? (mode === 'max' ? -Infinity : Infinity) }))
      .sort((a, b) => better(mode)(a.v, b.v) || a.x.position - b.x.position);
    const rungs = rungsOf(rule);
    const to = rungs.find((r) => r > top) ?? rule.maxEpochs;
    return { kind: 'promote', trial: t!.x.id, from: top, to };
  }
  const [t] = paused;
  return { kind: 'stop', trial: t!.id, at: t!.epochs };
}

/** Epochs a grid of `trials` full trials takes: the budget a scheduler's epochs are compared with. */
export function gridBudget(trials: number, maxEpochs: number): number {
  return trials * maxEpochs;
}
