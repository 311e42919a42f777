// The Python environment of the conversion checks (TensorFlow, Keras, the tensorflowjs converter),
// pinned in requirements*.txt and made once: by `npm run check:*-conversion` and by the tests that
// compare with Keras. FITSPEC_CONVERT_VENV names a shared one; the default is .venv/convert.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = join(ROOT, 'scripts/convert');

export const defaultConvertVenv = () => (process.env.FITSPEC_CONVERT_VENV ? resolve(process.env.FITSPEC_CONVERT_VENV) : join(ROOT, '.venv/convert'));
export const python = (venv) => join(venv, 'bin', 'python');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`failed: ${cmd} ${args.join(' ')} (${r.signal ?? `exit ${r.status}`})`);
}

/** Makes the venv unless it exists with exactly these requirements; returns its python. */
export function ensureConvertVenv(VENV = defaultConvertVenv()) {
  const STAMP = join(VENV, '.fitspec-requirements');
  const wanted = ['requirements.txt', 'requirements-nodeps.txt'].map((f) => readFileSync(join(HERE, f), 'utf8')).join('\n');
  if (!(existsSync(STAMP) && readFileSync(STAMP, 'utf8') === wanted && existsSync(python(VENV)))) {
    const host = process.env.FITSPEC_PYTHON ?? 'python3';
    const v = spawnSync(host, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
    if (v.status !== 0) {
      throw new Error(`The conversion environment needs Python 3.10-3.12 (${host} not found; set FITSPEC_PYTHON)`);
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
  return python(VENV);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.stdout.write(ensureConvertVenv() + '\n');
