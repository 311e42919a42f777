// `npm run check:vgg16-conversion`: the README's ImageNet route, proven without ImageNet weights.
// 1. a Python venv in .venv/convert with tensorflowjs and TensorFlow (pinned in requirements*.txt; once),
// 2. Keras' VGG16 base built with weights=None and converted by tensorflowjs_converter (vgg16_to_tfjs.py),
// 3. fitspec loads it as model.base of experiments/04-vgg16-frozen.yaml and compares layer names,
//    output shapes, parameter counts and predictions with Keras' (check-vgg16.ts).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { ensureConvertVenv, python } from './venv.mjs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = join(ROOT, 'scripts/convert');
const VENV = process.env.FITSPEC_CONVERT_VENV ? resolve(process.env.FITSPEC_CONVERT_VENV) : join(ROOT, '.venv/convert');
const OUT = resolve(process.argv[2] ?? join(ROOT, '.tmp/vgg16-conversion'));

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    process.stderr.write(`\nfailed: ${cmd} ${args.join(' ')} (${r.signal ?? `exit ${r.status}`})\n`);
    process.exit(1);
  }
}

ensureConvertVenv(VENV);

const t1 = Date.now();
rmSync(OUT, { recursive: true, force: true });
// The size experiments/01-baseline.yaml declares for every step (128x128x3).
run(python(VENV), [join(HERE, 'vgg16_to_tfjs.py'), OUT, '128', '128'], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
process.stdout.write(`built and converted in ${((Date.now() - t1) / 1000).toFixed(0)} s\n`);
const tsx = join(ROOT, 'node_modules/tsx/dist/cli.mjs');
run(process.execPath, [tsx, join(HERE, 'check-vgg16.ts'), OUT]);
