// `npm run check:vgg16-conversion`: the README's ImageNet route, proven without ImageNet weights.
// 1. a Python venv in .venv/convert with tensorflowjs and TensorFlow (pinned in requirements*.txt; once),
// 2. Keras' VGG16 base built with weights=None and converted by tensorflowjs_converter (vgg16_to_tfjs.py),
// 3. fitspec loads it as model.base of experiments/04-vgg16-frozen.yaml and compares layer names,
//    output shapes, parameter counts and predictions with Keras' (check-vgg16.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = join(ROOT, 'scripts/convert');
const VENV = process.env.FITSPEC_CONVERT_VENV ? resolve(process.env.FITSPEC_CONVERT_VENV) : join(ROOT, '.venv/convert');
const OUT = resolve(process.argv[2] ?? join(ROOT, '.tmp/vgg16-conversion'));
const STAMP = join(VENV, '.fitspec-requirements');
const python = (venv) => join(venv, 'bin', 'python');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    process.stderr.write(`\nfailed: ${cmd} ${args.join(' ')} (${r.signal ?? `exit ${r.status}`})\n`);
    process.exit(1);
  }
}

const wanted = ['requirements.txt', 'requirements-nodeps.txt'].map((f) => readFileSync(join(HERE, f), 'utf8')).join('\n');
if (!(existsSync(STAMP) && readFileSync(STAMP, 'utf8') === wanted && existsSync(python(VENV)))) {
  const host = process.env.FITSPEC_PYTHON ?? 'python3';
  const v = spawnSync(host, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
  if (v.status !== 0) {
    process.stderr.write(`The conversion check needs Python 3.10-3.12 (${host} not found; set FITSPEC_PYTHON)\n`);
    process.exit(1);
  }
  process.stdout.write(`installing tensorflowjs and TensorFlow into ${VENV} with Python ${v.stdout.trim()} (once)\n`);
  const t0 = Date.now();
  const tmp = `${VENV}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(dirname(VENV), { recursive: true });
  run(host, ['-m', 'venv', tmp]);
  const pip = [python(tmp), '-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '--only-binary=:all:'];
  run(pip[0], [...pip.slice(1), '-r', join(HERE, 'requirements.txt')]);
  run(pip[0], [...pip.slice(1), '--no-deps', '-r', join(HERE, 'requirements-nodeps.txt')]);
  writeFileSync(join(tmp, '.fitspec-requirements'), wanted);
  rmSync(VENV, { recursive: true, force: true });
  renameSync(tmp, VENV);
  process.stdout.write(`installed in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
}

const t1 = Date.now();
rmSync(OUT, { recursive: true, force: true });
// The size experiments/01-baseline.yaml declares for every step (128x128x3).
run(python(VENV), [join(HERE, 'vgg16_to_tfjs.py'), OUT, '128', '128'], { env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '2' } });
process.stdout.write(`built and converted in ${((Date.now() - t1) / 1000).toFixed(0)} s\n`);
const tsx = join(ROOT, 'node_modules/tsx/dist/cli.mjs');
run(process.execPath, [tsx, join(HERE, 'check-vgg16.ts'), OUT]);
