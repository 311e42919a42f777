// `npm run check:conversion [-- NAME ...] [--out=DIR]`: every model route between Keras and fitspec,
// one row each, proven without downloaded weights, in the model-conversion venv of `fitspec export`
// (scripts/models: TensorFlow, tf-keras, Keras 3, the tensorflowjs converter; installed once).
// - keras rows: a Keras Applications base built with weights=None (batch-normalization statistics made
//   non-trivial) and converted by tensorflowjs_converter (keras_to_tfjs.py), loaded by fitspec as
//   `model.base.weights` of an experiment; layer names, output shapes, parameter counts and predictions
//   compared with Keras' (check-keras-base.ts).
// - export rows: an experiment trained one short epoch, exported with `fitspec export --format keras`,
//   model.keras loaded by Keras 3; its predictions compared with `fitspec predict` (check-export.ts).
// Sizes are below ImageNet's 224x224 where the architecture allows, to keep CI short; the layers and
// weights are the same at any size.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureModelsVenv } from '../models/venv.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = join(ROOT, 'scripts/convert');

/** One row per route; adding an architecture is a row. */
const CHECKS = [
  // The size experiments/01-baseline.yaml declares for every step.
  { name: 'vgg16', route: 'keras', application: 'VGG16', experiment: 'experiments/04-vgg16-frozen.yaml', size: 128, params: 14_714_688 },
  // With `top`: the experiment's 1000-class top gets Keras' top weights, and the probabilities are compared too.
  { name: 'resnet50', route: 'keras', application: 'ResNet50', experiment: 'experiments/zoo/resnet50-imagenet.yaml', size: 96, params: 23_587_712, top: true },
  { name: 'mobilenet-v2', route: 'keras', application: 'MobileNetV2', experiment: 'experiments/zoo/mobilenet-v2-imagenet.yaml', size: 96, params: 2_257_984, top: true },
  { name: '06-resnet', route: 'export', experiment: 'experiments/06-resnet.yaml', size: 64 },
];

const args = process.argv.slice(2);
const outArg = args.find((a) => a.startsWith('--out='));
const OUT = resolve(outArg ? outArg.slice('--out='.length) : join(ROOT, '.tmp/conversion'));
const names = args.filter((a) => !a.startsWith('--'));
const unknown = names.filter((n) => !CHECKS.some((c) => c.name === n));
if (unknown.length) {
  process.stderr.write(`unknown check ${unknown.join(', ')}; the checks are ${CHECKS.map((c) => c.name).join(', ')}\n`);
  process.exit(2);
}
const selected = names.length ? CHECKS.filter((c) => names.includes(c.name)) : CHECKS;

const run = (cmd, argv) => spawnSync(cmd, argv, { stdio: 'inherit', env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } }).status === 0;

// The conversion environment of `fitspec export` (scripts/models): tensorflowjs with every dependency it declares.
const python = await ensureModelsVenv({ log: (m) => process.stdout.write(m + '\n') });
const tsx = join(ROOT, 'node_modules/tsx/dist/cli.mjs');
const results = [];
for (const c of selected) {
  const t0 = Date.now();
  const dir = join(OUT, c.name);
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`\n== ${c.name}: ${c.route === 'keras' ? `Keras ${c.application} -> fitspec` : 'fitspec -> Keras'} (${c.experiment}, ${c.size}x${c.size}x3)\n`);
  const ok =
    c.route === 'keras'
      ? run(python, [join(HERE, 'keras_to_tfjs.py'), c.application, dir, String(c.size), String(c.size), ...(c.top ? ['top'] : [])]) &&
        run(process.execPath, [tsx, join(HERE, 'check-keras-base.ts'), dir, join(ROOT, c.experiment), String(c.params)])
      : run(process.execPath, [tsx, join(HERE, 'check-export.ts'), dir, join(ROOT, c.experiment), String(c.size), python]);
  results.push({ name: c.name, ok, seconds: (Date.now() - t0) / 1000 });
}
process.stdout.write('\n');
for (const r of results) process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name.padEnd(14)} ${r.seconds.toFixed(0)} s\n`);
const failed = results.filter((r) => !r.ok).length;
process.stdout.write(failed ? `${failed} of ${results.length} conversion checks failed\n` : `all ${results.length} conversion checks passed\n`);
process.exitCode = failed ? 1 : 0;
