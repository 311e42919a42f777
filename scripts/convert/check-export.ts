// The fitspec -> Keras direction of the conversion check: trains an experiment for one short epoch on
// synthetic images, exports the run with `fitspec export --format keras` (the model-conversion venv),
// loads model.keras in Keras 3 and compares its predictions with `fitspec predict` on the same images.
// Exits 1 on any mismatch.
// usage: tsx scripts/convert/check-export.ts WORK_DIR EXPERIMENT SIZE PYTHON
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { initBackend } from '../../src/backend.js';
import { decodeLikeTraining } from '../../src/data/prepare.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/fitspec.js');
const [workArg, experimentArg, sizeArg, python] = process.argv.slice(2);
const work = path.resolve(workArg ?? '');
const file = path.resolve(experimentArg ?? '');
const size = Number(sizeArg);
// Probabilities in [0, 1]: the bound of test/export/export.test.ts.
const TOLERANCE = 1e-4;

function fitspec(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout}${r.stderr}\nfailed: fitspec ${args.join(' ')} (exit ${r.status})\n`);
    process.exit(1);
  }
  return r.stdout;
}

fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const data = path.join(work, 'data');
fitspec(['data', 'synth', '--out', data, '--per-class', '6', '--layout', 'csv', '--seed', '11']);
// One epoch of 3 steps (12 images, batch 4) at the experiment's own optimizer: the weights and the
// batch-normalization statistics leave their initial values, and the probabilities stay unsaturated
// (a learning rate of 0.01 pushes every row to one class at 1.0, which hides differences).
const sets = [
  `data.source.images=${data}/Train`,
  `data.source.labels=${data}/train.csv`,
  `data.image.height=${size}`,
  `data.image.width=${size}`,
  'data.split={train: 4, validation: 2}',
  'train.epochs=1',
  'train.batchSize=4',
  'train.stepsPerEpoch=null',
  'train.validationSteps=null',
  `tracking.runsDir=${work}/runs`,
];
const trained = fitspec(['train', file, '--no-progress', ...sets.flatMap((s) => ['--set', s])]);
const run = path.resolve(work, /run finished: (.*)$/m.exec(trained)![1]!.trim());

const images = fs
  .readdirSync(path.join(data, 'Train'))
  .sort()
  .slice(0, 4)
  .map((f) => path.join(data, 'Train', f));
const descriptor = JSON.parse(fs.readFileSync(path.join(run, 'model', 'fitspec-model.json'), 'utf8'));
const classes = descriptor.classes as string[];
const reference = (JSON.parse(fitspec(['predict', run, ...images, '--json'])) as { probabilities: Record<string, number> }[]).map((r) => classes.map((k) => r.probabilities[k]!));
const out = path.join(work, 'export');
fitspec(['export', run, '--format', 'keras', '--out', out]);

// The images as the model sees them: decoded, resized and rescaled by fitspec's own code.
await initBackend('auto');
const p = descriptor.preprocessing;
const u8 = await decodeLikeTraining(images, { height: p.height, width: p.width, channels: p.channels, resize: p.resize, interpolation: p.interpolation });
const rescale = Math.fround(p.rescale);
const input = Float32Array.from(u8, (v) => Math.fround(v * rescale));
const f32 = path.join(work, 'input.f32');
fs.writeFileSync(f32, Buffer.from(input.buffer));
const k = spawnSync(
  python!,
  [path.join(import.meta.dirname, 'keras_predict.py'), path.join(out, 'model.keras'), f32, String(images.length), String(p.height), String(p.width), String(p.channels)],
  {
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' },
    maxBuffer: 1 << 26,
  },
);
if (k.status !== 0) {
  process.stderr.write(`${k.stderr}\nfailed: keras_predict.py (exit ${k.status})\n`);
  process.exit(1);
}
const keras = JSON.parse(k.stdout.trim().split('\n').at(-1)!) as { keras: string; params: number; layers: number; y: number[][] };

const problems: string[] = [];
let maxDiff = 0;
if (keras.y.length !== reference.length) problems.push(`Keras predicted ${keras.y.length} rows, fitspec ${reference.length}`);
reference.forEach((row, i) => row.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - (keras.y[i]?.[j] ?? Number.NaN))))));
if (!(maxDiff <= TOLERANCE)) problems.push(`probabilities differ by up to ${maxDiff.toExponential(3)} (tolerance ${TOLERANCE})`);
// Saturated rows (one class at 1) would hide a difference before the softmax.
const top = Math.min(...reference.map((row) => Math.max(...row)));
const spread = Math.max(...reference.flat()) - Math.min(...reference.flat());
if (!(spread > 1e-3 && top < 0.999)) problems.push(`fitspec's probabilities say nothing (spread ${spread}, smallest top probability ${top})`);

process.stdout.write(
  [
    `experiment         ${path.relative(ROOT, file)} at ${size}x${size}x3, trained 1 epoch (run ${path.relative(work, run)})`,
    `exported           model.keras, loaded by Keras ${keras.keras}: ${keras.layers} layers, ${keras.params.toLocaleString('en-US')} parameters`,
    `predictions        ${images.length} images x ${classes.length} classes, max |Keras - fitspec predict| = ${maxDiff.toExponential(3)} (probabilities ${Math.min(...reference.flat()).toFixed(4)} to ${Math.max(...reference.flat()).toFixed(4)})`,
    problems.length ? `\nMISMATCH:\n  ${problems.join('\n  ')}` : `OK: Keras predicts what fitspec predicts for the exported ${descriptor.name ?? 'model'}`,
    '',
  ].join('\n'),
);
process.exitCode = problems.length ? 1 : 0;
