// The Keras / TensorFlow / tensorflowjs venv (pinned in requirements*.txt next to this file), shared by
// the VGG16 conversion check, the Keras step-parity tests and the Keras curves benchmark. Installed
// once, under a lock (a second caller waits and then finds it ready); a working venv is never removed
// before its replacement is complete.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findPython, withLock } from '../mlflow/venv.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const HERE = join(ROOT, 'scripts/convert');
export const VENV = process.env.FITSPEC_CONVERT_VENV ? resolve(process.env.FITSPEC_CONVERT_VENV) : join(ROOT, '.venv/convert');
const STAMP = '.fitspec-requirements';
// tensorflowjs 4.22.0 declares packages that pin other TensorFlow releases: those two files are
// installed with --no-deps, their real dependencies are in requirements.txt.
const FILES = [
  { file: join(HERE, 'requirements.txt'), noDeps: false },
  { file: join(HERE, 'requirements-nodeps.txt'), noDeps: true },
];

export const venvPython = (venv = VENV) => (process.platform === 'win32' ? join(venv, 'Scripts', 'python.exe') : join(venv, 'bin', 'python'));

const wantedStamp = () => FILES.map((f) => readFileSync(f.file, 'utf8')).join('\n');
const installed = (venv, wanted) => existsSync(join(venv, STAMP)) && readFileSync(join(venv, STAMP), 'utf8') === wanted && existsSync(venvPython(venv));

function run(cmd, args, signal) {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], signal });
    child.on('error', rej);
    child.on('exit', (code, sig) => (code === 0 ? res() : rej(new Error(`${cmd} ${args.join(' ')} failed (${sig ?? `exit ${code}`})`))));
  });
}

/** Installs the pinned TensorFlow + Keras + tensorflowjs into the venv unless it is there; resolves to its python. */
export async function ensureConvertVenv({ log = (m) => process.stderr.write(m + '\n'), signal, venv = VENV } = {}) {
  venv = resolve(venv);
  const wanted = wantedStamp();
  if (installed(venv, wanted)) return venvPython(venv);
  mkdirSync(dirname(venv), { recursive: true });
  return withLock(
    `${venv}.lock`,
    async () => {
      if (installed(venv, wanted)) return venvPython(venv);
      const python = findPython('TensorFlow / Keras');
      const prefix = basename(venv);
      for (const e of readdirSync(dirname(venv))) {
        if (e.startsWith(`${prefix}.tmp-`) || e.startsWith(`${prefix}.old-`)) rmSync(join(dirname(venv), e), { recursive: true, force: true });
      }
      const tmp = `${venv}.tmp-${process.pid}`;
      log(`installing TensorFlow, Keras and tensorflowjs into ${venv}; this takes a few minutes, once`);
      const t0 = Date.now();
      try {
        await run(python, ['-m', 'venv', tmp], signal);
        const pip = ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '--only-binary=:all:'];
        for (const f of FILES) await run(venvPython(tmp), [...pip, ...(f.noDeps ? ['--no-deps'] : []), '-r', f.file], signal);
        writeFileSync(join(tmp, STAMP), wanted);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
      if (existsSync(venv)) renameSync(venv, `${venv}.old-${process.pid}`);
      renameSync(tmp, venv);
      log(`installed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      return venvPython(venv);
    },
    { signal, onWait: () => log(`waiting for another process to finish installing into ${venv}`) },
  );
}
