/**
 * The notebook benchmark as a tabular benchmark (as HPOBench and NAS-Bench do): the grid is trained
 * once, every trial to maxEpochs with its validation accuracy after each epoch; random, ASHA and
 * TPE + ASHA are then run over many seeds by fitspec's own sweep driver (src/sweep/drive.ts: the ASHA
 * scheduler `decide`, Optuna's TPE through src/sweep/sampler.ts, the trials planned and hashed by
 * src/sweep/plan.ts) with an executor that answers each job (train a trial to a rung, stop it) from
 * the grid's recording of the same config instead of training it.
 *
 * That is exact for fitspec when a trial's curve does not depend on where it was paused and resumed
 * (trials are seeded and a resume continues from the checkpoint); one ASHA sweep is trained for real
 * to check it (3 trials, the best one paused and resumed twice): its trials' per-epoch values are
 * compared with the grid's, and its epochs with the replay of the same sweep. One worker (`--parallel 1`) in both, so the order of decisions is the
 * driver's alone. The learning rate is one of the grid's values (a categorical parameter for TPE).
 */
import fs from 'node:fs';
import path from 'node:path';
import { driveSweep, type Executor } from '../../src/sweep/drive.js';
import { planSweep } from '../../src/sweep/plan.js';
import { localTrialRuns, metricValues, sweepMeta, type TrialOutcome } from '../../src/sweep/records.js';

export interface ReplayContext {
  work: string;
  gridDir: string;
  sweepFile: (dir: string, block: string) => string;
  fitspec: (args: string[]) => string;
  sets: string[];
  epochs: number;
  seeds: number;
}

const METRIC = 'val_accuracy';
/** A trial's identity in the recording: its values (keys sorted; the hash also covers the epochs a scheduler sets). */
export const key = (params: Record<string, unknown>) => JSON.stringify(Object.entries(params).sort(([a], [b]) => a.localeCompare(b)));
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Per-epoch values of the latest run of each trial of a trained sweep, by the trial's values. */
function recordedCurves(file: string, sets: string[]): Map<string, { hash: string; values: number[] }> {
  const plan = planSweep(file, { set: sets, yes: true });
  const runsDir = plan.base.experiment.tracking.runsDir;
  const meta = sweepMeta(plan, undefined);
  // tpe / cmaes sweeps draw their trials while they run: read them back from sweep.json.
  const trials = plan.trials.length ? plan.trials : (JSON.parse(fs.readFileSync(path.join(runsDir, 'sweeps', plan.name, 'sweep.json'), 'utf8')) as typeof meta).trials;
  const out = new Map<string, { hash: string; values: number[] }>();
  for (const t of trials) {
    const run = localTrialRuns(runsDir, plan.experimentName, plan.name, t.hash).at(-1);
    if (run) out.set(key(t.params), { hash: t.hash, values: metricValues(run.dir, METRIC) });
  }
  return out;
}

/** Answers the driver's jobs from recorded curves; `trained` gets each epoch's value in the order trained. */
function replayExecutor(curves: Map<string, { values: number[] }>, maxEpochs: number, trained: number[], errors: string[]): Executor {
  const runs = new Map<string, { epochs: number; ended: boolean; stopped?: boolean }>();
  return {
    async run(job): Promise<TrialOutcome> {
      const curve = curves.get(key(job.params))?.values;
      if (!curve || curve.length < maxEpochs || !curve.every(Number.isFinite)) {
        // The driver records a failing job as a failed trial and goes on: keep the error for replaySweep to throw.
        errors.push(`no recorded curve of ${maxEpochs} epochs for ${key(job.params)}`);
        throw new Error(errors.at(-1));
      }
      // As runTrial (src/sweep/trial.ts) does, the state is the config's run, found by hash: a trial drawn
      // again with the values of an earlier one (TPE may, after a few tries) trains nothing that run has.
      const run = runs.get(job.hash) ?? { epochs: 0, ended: false };
      runs.set(job.hash, run);
      const base = { trial: job.trial, hash: job.hash, params: job.params };
      const { epochs: from } = run;
      if (run.ended) return { ...base, status: 'SKIPPED', epochs: from, values: curve.slice(0, from), ...(run.stopped ? { stoppedBy: 'scheduler' } : {}) };
      if (job.finishAt !== undefined) {
        Object.assign(run, { ended: true, stopped: true });
        return { ...base, status: 'FINISHED', stoppedBy: 'scheduler', epochs: from, values: curve.slice(0, from) };
      }
      const to = Math.max(from, job.pauseAt ?? maxEpochs);
      trained.push(...curve.slice(from, to));
      run.epochs = to;
      run.ended = to >= maxEpochs;
      return { ...base, status: run.ended ? 'FINISHED' : 'PAUSED', epochs: to, values: curve.slice(0, to) };
    },
  };
}

/** Epochs trained (in order) until some epoch's value is within 0.5 points of `best`. */
export function epochsToReach(trained: number[], best: number): number | undefined {
  const i = trained.findIndex((v) => v >= best - 0.005);
  return i < 0 ? undefined : i + 1;
}

/**
 * Runs the sweep of `file` through fitspec's driver with one worker, each job answered from `curves`
 * (by the trial's values): the recorded values of the epochs it trained, in the order trained.
 */
export async function replaySweep(file: string, sets: string[], curves: Map<string, { values: number[] }>, maxEpochs: number): Promise<number[]> {
  const plan = planSweep(file, { set: sets, yes: true });
  const trained: number[] = [];
  const errors: string[] = [];
  const meta = sweepMeta(plan, undefined);
  await driveSweep(plan, meta, {
    executor: replayExecutor(curves, maxEpochs, trained, errors),
    parallel: 1,
    log: () => undefined,
    recovered: new Map(),
    persist: () => undefined,
  });
  if (errors.length) throw new Error(`replay of ${file}: ${errors[0]}`);
  return trained;
}

export async function replay(ctx: ReplayContext): Promise<void> {
  const E = ctx.epochs;
  const curves = recordedCurves(path.join(ctx.gridDir, 'sweep.yaml'), ctx.sets);
  const all = [...curves.values()];
  const best = Math.max(...all.flatMap((c) => c.values.filter(Number.isFinite)));
  const gridFull = all.length * E;
  const asha = `  scheduler: {type: asha, minEpochs: 1, maxEpochs: ${E}, reductionFactor: 3}`;
  // The same with the first rung at epoch 3: where every model is still at chance after one epoch, a
  // first rung there ranks ties and noise.
  const asha3 = `  scheduler: {type: asha, minEpochs: 3, maxEpochs: ${E}, reductionFactor: 3}`;
  const count = all.length;
  const strategies: [string, string][] = [
    ['random', `  method: random\n  count: ${count}`],
    ['asha', `  method: random\n  count: ${count}\n${asha}`],
    ['tpe+asha', `  method: tpe\n  count: ${count}\n${asha}`],
    ['asha-3', `  method: random\n  count: ${count}\n${asha3}`],
    ['tpe+asha-3', `  method: tpe\n  count: ${count}\n${asha3}`],
  ];
  console.log(`grid: ${count} trials recorded, best ${METRIC} ${best.toFixed(4)} (target: within 0.5 points, >= ${(best - 0.005).toFixed(4)})`);

  // The check: one ASHA sweep trained for real, its curves against the grid's, its epochs against the replay.
  const liveDir = path.join(ctx.work, 'asha-live-1');
  // 3 trials: each to epoch 1, the best resumed to 3 and then to maxEpochs (a finite sweep ends with one full trial).
  const liveFile = ctx.sweepFile(liveDir, `  method: random\n  count: 3\n${asha}\n  seed: 1`);
  ctx.fitspec(['sweep', liveFile, '--yes', '--parallel', '1', '--threads', '1', ...ctx.sets.flatMap((s) => ['--set', s])]);
  const live = recordedCurves(liveFile, ctx.sets);
  let compared = 0;
  let equal = 0;
  let maxDiff = 0;
  let resumed = 0;
  for (const [k, c] of live) {
    const g = curves.get(k)!.values;
    if (c.values.length > 1) resumed++;
    c.values.forEach((v, e) => {
      compared++;
      if (Object.is(v, g[e])) equal++;
      maxDiff = Math.max(maxDiff, Math.abs(v - g[e]!));
    });
  }
  const liveEpochs = [...live.values()].reduce((n, c) => n + c.values.length, 0);
  const replayed = await replaySweep(liveFile, ctx.sets, curves, E);
  console.log(
    `check (ASHA, 3 trials of seed 1, trained for real): ${live.size} trials, ${resumed} resumed past epoch 1; ${equal} of ${compared} per-epoch ${METRIC} values equal to the grid's bit for bit (max difference ${maxDiff.toPrecision(3)}); epochs ${liveEpochs} trained, ${replayed.length} replayed`,
  );

  const seeds = Array.from({ length: ctx.seeds }, (_, i) => i + 1);
  const rows: { name: string; reach: (number | undefined)[]; spent: number[]; found: number[]; near: (number | undefined)[] }[] = [];
  const gridTrained = await replaySweep(path.join(ctx.gridDir, 'sweep.yaml'), ctx.sets, curves, E);
  rows.push({
    name: 'grid',
    reach: [epochsToReach(gridTrained, best)],
    spent: [gridTrained.length],
    found: [Math.max(...gridTrained)],
    near: [epochsToReach(gridTrained, best - 0.015)],
  });
  for (const [name, block] of strategies) {
    const row = { name, reach: [] as (number | undefined)[], spent: [] as number[], found: [] as number[], near: [] as (number | undefined)[] };
    // A few seeds at a time: each replay has its own Optuna process, which answers while the others plan.
    for (let i = 0; i < seeds.length; i += 4) {
      const batch = seeds.slice(i, i + 4);
      const runs = await Promise.all(
        batch.map((seed) => replaySweep(ctx.sweepFile(path.join(ctx.work, 'replay', `${name}-${seed}`), `${block}\n  seed: ${seed}`), ctx.sets, curves, E)),
      );
      for (const trained of runs) {
        row.reach.push(epochsToReach(trained, best));
        row.spent.push(trained.length);
        row.found.push(Math.max(...trained.filter(Number.isFinite)));
        // epochsToReach allows 0.5 points below its target: 1.5 more make 2.
        row.near.push(epochsToReach(trained, best - 0.015));
      }
    }
    rows.push(row);
  }

  console.log(`\nepochs until a trial is within 0.5 points of the grid's best (${best.toFixed(4)}); grid: ${count} trials x ${E} epochs = ${gridFull}`);
  console.log(
    `${'strategy'.padEnd(12)}${'seeds'.padStart(6)}${'median'.padStart(8)}${'min-max'.padStart(10)}${'never'.padStart(7)}${'spent (median)'.padStart(16)}${'median / grid'.padStart(15)}`,
  );
  for (const r of rows) {
    const hit = r.reach.map((x) => x ?? Infinity);
    const m = median(hit);
    const finite = r.reach.filter((x): x is number => x !== undefined);
    const range = finite.length ? `${Math.min(...finite)}-${Math.max(...finite)}` : '-';
    console.log(
      `${r.name.padEnd(12)}${String(r.reach.length).padStart(6)}${String(m === Infinity ? 'never' : m).padStart(8)}${range.padStart(10)}${String(r.reach.length - finite.length).padStart(7)}${String(median(r.spent)).padStart(16)}${(m === Infinity ? '-' : (m / gridFull).toFixed(2)).padStart(15)}`,
    );
  }
  // Beside the goal's measure: the best value each search saw at all, and when it came within 2 points
  // (one epoch's value moves by several points, so 0.5 points is often one lucky epoch of one trial).
  console.log(`\nbest ${METRIC} seen, and epochs until within 2 points of the grid's best (>= ${(best - 0.02).toFixed(4)})`);
  console.log(`${'strategy'.padEnd(12)}${'best seen (median)'.padStart(20)}${'min-max'.padStart(15)}${'within 2 pt (median)'.padStart(22)}${'never'.padStart(7)}`);
  for (const r of rows) {
    const near = r.near.map((x) => x ?? Infinity);
    const m = median(near);
    console.log(
      `${r.name.padEnd(12)}${median(r.found).toFixed(4).padStart(20)}${`${Math.min(...r.found).toFixed(4)}-${Math.max(...r.found).toFixed(4)}`.padStart(15)}${String(m === Infinity ? 'never' : m).padStart(22)}${String(near.filter((x) => x === Infinity).length).padStart(7)}`,
    );
  }
  const tpe = median(rows.find((r) => r.name === 'tpe+asha')!.reach.map((x) => x ?? Infinity));
  console.log(
    `goal (TPE + ASHA at most a third of the grid's ${gridFull} epochs, i.e. <= ${(gridFull / 3).toFixed(0)}): ${tpe <= gridFull / 3 ? 'met' : 'not met'} (median ${tpe === Infinity ? 'never: most seeds do not reach it' : tpe})`,
  );
}
