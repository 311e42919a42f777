import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureMlflow } from '../../scripts/mlflow/venv.mjs';

// The install path itself, with a requirements file pip satisfies without the network (pip is in every
// fresh venv); the real MLflow install runs in the global test setup whenever the venv is missing.
const root = mkdtempSync(join(tmpdir(), 'fitspec-venv-'));
const requirements = join(root, 'requirements.txt');
writeFileSync(requirements, '# test\npip\n');
afterAll(() => rmSync(root, { recursive: true, force: true }));

const VENV_MJS = pathToFileURL(resolve('scripts/mlflow/venv.mjs')).href;

/** ensureMlflow in a separate process, as two vitest workers or the global setup and a test file would run it. */
function ensureInChild(venv: string): Promise<{ python: string; log: string }> {
  const code = `const { ensureMlflow } = await import(${JSON.stringify(VENV_MJS)});
const python = await ensureMlflow({ venv: ${JSON.stringify(venv)}, requirements: ${JSON.stringify(requirements)}, log: (m) => process.stderr.write('[log] ' + m + '\\n') });
process.stdout.write(python);`;
  return new Promise((res, rej) =>
    execFile(process.execPath, ['--input-type=module', '-e', code], { timeout: 240_000 }, (e, stdout, stderr) =>
      e ? rej(new Error(`${e.message}\n${stderr}`)) : res({ python: stdout, log: stderr }),
    ),
  );
}

const pythonWorks = (python: string) =>
  new Promise<string>((res, rej) => execFile(python, ['-c', 'import sys, pip; print(sys.prefix)'], (e, out) => (e ? rej(e) : res(out.trim()))));

describe('ensureMlflow: one install at a time', () => {
  it('two concurrent calls on an empty path install once and both get a working python', async () => {
    const venv = join(root, 'a', 'mlflow');
    const [a, b] = await Promise.all([ensureInChild(venv), ensureInChild(venv)]);
    const installs = (a.log + b.log).split('\n').filter((l) => l.startsWith('[log] installing MLflow'));
    expect(installs).toHaveLength(1);
    expect(a.python).toBe(b.python);
    expect(a.python.startsWith(venv)).toBe(true);
    expect(await pythonWorks(a.python)).toBe(venv);
    // Nothing left behind: no lock, no temporary venv.
    expect(readdirSync(join(root, 'a'))).toEqual(['mlflow']);
    // Ready now: no lock taken, nothing logged.
    const logs: string[] = [];
    expect(await ensureMlflow({ venv, requirements, log: (m) => logs.push(m) })).toBe(a.python);
    expect(logs).toEqual([]);
  });

  it('waits while the lock owner lives, takes the lock over when it dies, and moves an outdated venv aside', async () => {
    const venv = join(root, 'b', 'mlflow');
    mkdirSync(venv, { recursive: true });
    writeFileSync(join(venv, '.fitspec-requirements'), 'an older requirements file\n');
    writeFileSync(join(venv, 'in-use'), 'a server may be running from here');
    const owner = spawn('sleep', ['600'], { stdio: 'ignore' });
    writeFileSync(`${venv}.lock`, JSON.stringify({ pid: owner.pid, host: hostname(), token: 'x' }));
    const logs: string[] = [];
    let done = false;
    const ensuring = ensureMlflow({ venv, requirements, log: (m) => logs.push(m) }).finally(() => (done = true));
    await new Promise((r) => setTimeout(r, 2000));
    expect(done).toBe(false);
    expect(logs).toEqual([`waiting for process ${owner.pid} on ${hostname()} to finish installing MLflow into ${venv}`]);
    expect(existsSync(join(venv, 'in-use'))).toBe(true);
    owner.kill('SIGKILL');
    const python = await ensuring;
    expect(logs.filter((l) => l.startsWith('installing MLflow'))).toHaveLength(1);
    expect(await pythonWorks(python)).toBe(venv);
    expect(readFileSync(join(venv, '.fitspec-requirements'), 'utf8')).toBe(readFileSync(requirements, 'utf8'));
    expect(existsSync(`${venv}.lock`)).toBe(false);
    // The outdated venv was renamed away whole, never deleted under whoever used it.
    const aside = readdirSync(join(root, 'b')).filter((e) => e.startsWith('mlflow.old-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(root, 'b', aside[0], 'in-use'), 'utf8')).toContain('server');
  });

  it('a half-written lock of a crashed process is taken over once it is old', async () => {
    const venv = join(root, 'c', 'mlflow');
    mkdirSync(join(root, 'c'), { recursive: true });
    writeFileSync(`${venv}.lock`, '');
    const { utimesSync } = await import('node:fs');
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${venv}.lock`, old, old);
    expect(await pythonWorks(await ensureMlflow({ venv, requirements, log: () => {} }))).toBe(venv);
  });
});
