/**
 * Search strategies compared on cheap synthetic objectives (standard test functions with simulated
 * learning curves; thousands of trials in seconds):
 *
 *   npm run bench:sweep -- --search [--count 60] [--seeds 5] [--max-epochs 27] [--eta 3]
 *
 * fitspec: the scheduler the sweeps run (src/sweep/scheduler.ts `decide`: ASHA, or Hyperband) with
 * trials drawn by the sampler the sweeps run (src/sweep/sampler.ts: Optuna's TPE through
 * scripts/optuna/sampler.py, seeded per trial, history rebuilt each time), one worker.
 * Optuna: TPESampler with SuccessiveHalvingPruner / HyperbandPruner, driven directly
 * (optuna_direct.py), same trial count, epochs and seeds.
 * Prints, per function, the median final regret (best f(x) among trials trained to maxEpochs, minus
 * the known minimum) and the median epochs spent. Not a speed benchmark: the numbers do not depend on
 * the machine's load.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureOptuna } from '../../scripts/optuna/venv.mjs';
import { OptunaSampler, searchSpace, toSampler, fromSampler, type SamplerTrial } from '../../src/sweep/sampler.js';
import { decide, type SchedulerRule, type TrialProgress } from '../../src/sweep/scheduler.js';
import type { SweepConfig } from '../../src/config/schema/experiment.js';
import { loss, OBJECTIVES } from './objectives.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const COUNT = arg('count', 60);
const SEEDS = Array.from({ length: arg('seeds', 5) }, (_, i) => i + 1);
const MAX_E = arg('max-epochs', 27);
const ETA = arg('eta', 3);
const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

function sweepOf(name: string): SweepConfig {
  const parameters = Object.fromEntries(OBJECTIVES[name]!.bounds.map(([lo, hi], i) => [`x${i}`, { distribution: 'uniform' as const, min: lo, max: hi }]));
  return { method: 'tpe', metric: 'loss', mode: 'min', parameters, count: COUNT, seed: 0, parallel: 1, maxTrials: 10_000 } as SweepConfig;
}

/** One fitspec sweep, simulated: the scheduler decides, Optuna (through fitspec's bridge) draws, the curve answers. */
async function fitspecRun(sampler: OptunaSampler, name: string, seed: number, type: SchedulerRule['type']) {
  const sweep = { ...sweepOf(name), seed };
  const rule: SchedulerRule = { type, minEpochs: 1, maxEpochs: MAX_E, reductionFactor: ETA };
  const space = searchSpace(sweep);
  const progress: TrialProgress[] = [];
  const xs: number[][] = [];
  const trainTo = (p: TrialProgress, to: number) => {
    for (let e = p.epochs + 1; e <= to; e++) p.values.push(loss(name, xs[p.position]!, e, MAX_E));
    p.epochs = to;
    p.phase = to >= MAX_E ? 'finished' : 'paused';
  };
  for (;;) {
    const d = decide(progress, rule, COUNT, 'min');
    if (d.kind === 'done' || d.kind === 'wait') break;
    if (d.kind === 'start') {
      const history: SamplerTrial[] = progress.map((p) => ({
        params: toSampler(sweep, Object.fromEntries(xs[p.position]!.map((v, i) => [`x${i}`, v]))),
        state: p.phase === 'finished' ? 'complete' : 'pruned',
        ...(p.phase === 'finished' ? { value: Math.min(...p.values) } : {}),
        intermediate: Object.fromEntries(p.values.map((v, e) => [String(e + 1), v])),
      }));
      const drawn = fromSampler(sweep, await sampler.ask({ method: 'tpe', seed, number: progress.length, mode: 'min', space, trials: history }));
      xs.push(space.map((s) => Number(drawn[s.name])));
      const p: TrialProgress = { id: `t${progress.length + 1}`, position: progress.length, epochs: 0, values: [], phase: 'paused' };
      progress.push(p);
      trainTo(p, d.to);
    } else if (d.kind === 'promote') trainTo(progress.find((p) => p.id === d.trial)!, d.to);
    else progress.find((p) => p.id === d.trial)!.phase = 'stopped';
  }
  const finals = progress.filter((p) => p.epochs >= MAX_E).map((p) => OBJECTIVES[name]!.f(xs[p.position]!));
  return { regret: Math.min(...finals) - OBJECTIVES[name]!.min, epochs: progress.reduce((n, p) => n + p.epochs, 0) };
}

function optunaDirect(python: string, name: string, pruner: 'sha' | 'hyperband', check: number[][] = []) {
  const r = spawnSync(python, [path.join(HERE, 'optuna_direct.py')], {
    input: JSON.stringify({ function: name, seeds: SEEDS, count: COUNT, max_epochs: MAX_E, eta: ETA, pruner, check }),
    encoding: 'utf8',
    cwd: HERE,
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`optuna_direct.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { runs: { seed: number; regret: number | null; epochs: number }[]; check: number[][] };
}

const python = await ensureOptuna({ log: (m) => process.stderr.write(m + '\n') });
const sampler = await OptunaSampler.open();
const t0 = Date.now();
console.log(
  `synthetic objectives: ${COUNT} trials per sweep, epochs 1..${MAX_E}, reduction factor ${ETA}, seeds ${SEEDS.join(',')}; regret = best f(x) trained to ${MAX_E} epochs minus the minimum (median over seeds)`,
);
console.log(`${'function'.padEnd(12)}${'searcher'.padEnd(34)}${'median regret'.padStart(14)}${'median epochs'.padStart(15)}${'full budget'.padStart(13)}`);
let trials = 0;
for (const name of Object.keys(OBJECTIVES)) {
  // Same objective on both sides: the Python twin must give the TypeScript values.
  const probe = OBJECTIVES[name]!.bounds.map(([lo, hi], i) => lo + ((hi - lo) * (i + 1)) / (OBJECTIVES[name]!.bounds.length + 2));
  const sha = optunaDirect(python, name, 'sha', [probe]);
  const twin = sha.check[0]!;
  for (let e = 1; e <= MAX_E; e++)
    if (Math.abs(twin[e - 1]! - loss(name, probe, e, MAX_E)) > 1e-9) throw new Error(`${name}: objectives.py and objectives.ts differ at epoch ${e}`);
  const hb = optunaDirect(python, name, 'hyperband');
  const rows: [string, { regret: number | null; epochs: number }[]][] = [
    ['Optuna TPE + SuccessiveHalving', sha.runs],
    ['Optuna TPE + Hyperband', hb.runs],
  ];
  for (const type of ['asha', 'hyperband'] as const) {
    const runs = [];
    for (const seed of SEEDS) runs.push(await fitspecRun(sampler, name, seed, type));
    rows.push([`fitspec tpe + ${type}`, runs]);
  }
  for (const [who, runs] of rows) {
    trials += runs.length * COUNT;
    const regrets = runs.map((r) => r.regret ?? Infinity);
    console.log(
      `${name.padEnd(12)}${who.padEnd(34)}${median(regrets).toPrecision(4).padStart(14)}${String(median(runs.map((r) => r.epochs))).padStart(15)}${String(COUNT * MAX_E).padStart(13)}`,
    );
  }
}
sampler.close();
console.log(`${trials} trials in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
