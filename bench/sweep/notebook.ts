/**
 * The notebook's search space, searched four ways with real training (`fitspec sweep`):
 *
 *   npm run bench:sweep -- --notebook [--lrs 6] [--epochs 9] [--seeds 3] [--per-class 120] [--size 128] [--train 200] [--validation 100]
 *                                     [--parallel 2] [--work DIR] [--replay [--replay-seeds 50]]
 *
 * `--replay` trains only the grid and replays the other strategies on its curves (notebook-replay.ts).
 *
 * Space: steps 01 / 02 / 03 (baseline, + BatchNormalization and Dropout, + augmentation; named as in
 * experiments/sweeps/notebook-comparison.yaml) x `--lrs` learning rates (3 x 6 = 18 grid trials), at the
 * quick scale of experiments/mixins/quick.yaml, on the project's synthetic faces (no dataset can be
 * downloaded). Strategies: grid (every trial, `--epochs` each), random, ASHA (random draws) and
 * TPE + ASHA (minEpochs 1, maxEpochs `--epochs`, reduction factor 3; with `--replay` also both with
 * minEpochs 3), with the grid's trial count, over `--seeds` seeds. Measure: epochs trained, in the
 * order they were trained, until some trial's validation accuracy is within 0.5 points of the grid's
 * best. The goal: TPE + ASHA at most a third of the grid's epochs. Hours at the default sizes on two
 * cores; take the figures on a quiet machine.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin', 'fitspec.js');
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const LRS = arg('lrs', 6);
const EPOCHS = arg('epochs', 9);
const SEEDS = Array.from({ length: arg('seeds', 3) }, (_, i) => i + 1);
const PER_CLASS = arg('per-class', 120);
const SIZE = arg('size', 128);
const TRAIN = arg('train', 200);
const VALIDATION = arg('validation', 100);
const workArg = process.argv.indexOf('--work');
// `--work DIR` keeps the trained trials: run again, the sweeps train nothing they already trained (exactly once).
const work = workArg >= 0 ? path.resolve(process.argv[workArg + 1]!) : fs.mkdtempSync(path.join(tmpdir(), 'fitspec-bench-notebook-'));
fs.mkdirSync(work, { recursive: true });
const sweepFlags = ['--yes', '--parallel', String(arg('parallel', 2)), '--threads', '1'];
const env = { ...process.env, MLFLOW_TRACKING_URI: '', TF_CPP_MIN_LOG_LEVEL: '2' };

function fitspec(args: string[], cwd = work): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0) throw new Error(`fitspec ${args.join(' ')} failed (${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

const faces = path.join(work, 'faces');
if (!fs.existsSync(faces)) fitspec(['data', 'synth', '--out', faces, '--per-class', String(PER_CLASS), '--layout', 'directory', '--seed', '5']);
const exp = (f: string) => path.join(ROOT, 'experiments', f);
const lrs = Array.from({ length: LRS }, (_, i) => Number((1e-4 * 3 ** (i / 2)).toPrecision(3)));
const sets = [`data.source={type: directory, path: ${faces}}`, `data.image.height=${SIZE}`, `data.image.width=${SIZE}`, `data.split={train: ${TRAIN}, validation: ${VALIDATION}}`];

function sweepFile(dir: string, block: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'sweep.yaml');
  fs.writeFileSync(
    file,
    `extends: [${exp('01-baseline.yaml')}, ${exp('mixins/quick.yaml')}]
name: nb
train: {epochs: ${EPOCHS}}
tracking: {runsDir: ${path.join(dir, 'runs')}}
sweep:
  name: nb
  metric: val_accuracy
  mode: max
${block}
  parameters:
    extends: {values: [${exp('01-baseline.yaml')}, ${exp('02-bn-dropout.yaml')}, ${exp('03-augmentation.yaml')}], labels: [baseline, bn-dropout, augmentation]}
    train.optimizer.learningRate: {values: [${lrs.join(', ')}]}
`,
  );
  return file;
}

/** Every epoch of the sweep's runs in the order they were trained: (time, val_accuracy). */
function timeline(dir: string): { t: number; v: number }[] {
  const root = path.join(dir, 'runs', 'nb');
  const points: { t: number; v: number }[] = [];
  for (const r of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    const file = path.join(root, r, 'metrics.jsonl');
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!line.includes('"val_accuracy"')) continue;
      const p = JSON.parse(line) as { value: number; timestamp: number };
      points.push({ t: p.timestamp, v: p.value });
    }
  }
  return points.sort((a, b) => a.t - b.t);
}

function epochsToReach(points: { t: number; v: number }[], target: number): number | undefined {
  const i = points.findIndex((p) => p.v >= target - 0.005);
  return i < 0 ? undefined : i + 1;
}

const grid = LRS * 3;
console.log(
  `notebook space: 3 steps x ${LRS} learning rates = ${grid} grid trials, ${EPOCHS} epochs each, ${SIZE}px, ${TRAIN}+${VALIDATION} images per class, seeds ${SEEDS.join(',')}`,
);
const gridDir = path.join(work, 'grid');
fitspec(['sweep', sweepFile(gridDir, '  method: grid'), ...sweepFlags, ...sets.flatMap((s) => ['--set', s])]);
const gridPoints = timeline(gridDir);
const best = Math.max(...gridPoints.map((p) => p.v));
console.log(`grid: best val_accuracy ${best.toFixed(4)}, ${gridPoints.length} epochs in all, reached (within 0.5 points) after ${epochsToReach(gridPoints, best)} epochs`);
if (process.argv.includes('--replay')) {
  const { replay } = await import('./notebook-replay.js');
  await replay({ work, gridDir, sweepFile, fitspec, sets, epochs: EPOCHS, seeds: arg('replay-seeds', 50) });
  process.exit(0);
}
const strategies: [string, string][] = [
  ['random', `  method: random\n  count: ${grid}`],
  ['asha', `  method: random\n  count: ${grid}\n  scheduler: {type: asha, minEpochs: 1, maxEpochs: ${EPOCHS}, reductionFactor: 3}`],
  ['tpe+asha', `  method: tpe\n  count: ${grid}\n  scheduler: {type: asha, minEpochs: 1, maxEpochs: ${EPOCHS}, reductionFactor: 3}`],
];
console.log(`${'strategy'.padEnd(10)}${'seed'.padStart(5)}${'epochs to reach'.padStart(17)}${'epochs spent'.padStart(14)}${'best'.padStart(8)}`);
for (const [name, block] of strategies) {
  for (const seed of SEEDS) {
    const dir = path.join(work, `${name}-${seed}`);
    fitspec(['sweep', sweepFile(dir, `${block}\n  seed: ${seed}`), ...sweepFlags, ...sets.flatMap((s) => ['--set', s])]);
    const pts = timeline(dir);
    const reach = epochsToReach(pts, best);
    console.log(
      `${name.padEnd(10)}${String(seed).padStart(5)}${String(reach ?? 'never').padStart(17)}${String(pts.length).padStart(14)}${Math.max(...pts.map((p) => p.v))
        .toFixed(4)
        .padStart(8)}`,
    );
  }
}
console.log(`work folder: ${work}`);
