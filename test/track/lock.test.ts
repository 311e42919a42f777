import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { FitspecError } from '../../src/errors.js';
import { LocalTracker, LOCK_FILE, lockRun, syncRun } from '../../src/track/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dirs: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-lock-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** The pid of a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/** A lock as its holder writes it: taken now, after the holder process started (an older one names a reused pid). */
function writeLock(dir: string, owner: Record<string, unknown>) {
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ started: new Date(Date.now() + 3000).toISOString(), command: 'fitspec train', token: 'x', ...owner }));
}

const errorOf = (fn: () => unknown): FitspecError => {
  try {
    fn();
  } catch (e) {
    return e as FitspecError;
  }
  throw new Error('expected an error');
};

describe('run folder lock', () => {
  it('holds pid, host and start time, refuses a second holder naming the first, and is gone after release', () => {
    const dir = tmp();
    const lock = lockRun(dir, 'fitspec train');
    const owner = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8'));
    expect(owner).toMatchObject({ pid: process.pid, host: os.hostname(), command: 'fitspec train' });
    expect(Date.parse(owner.started)).toBeGreaterThan(Date.now() - 60_000);
    const err = errorOf(() => lockRun(dir, 'fitspec sync'));
    expect(err).toBeInstanceOf(FitspecError);
    expect(err.code).toBe('run.locked');
    expect(err.message).toContain(`pid ${process.pid} on ${os.hostname()}`);
    expect(err.message).toContain('`fitspec train`');
    lock.release();
    lock.release();
    expect(fs.readdirSync(dir)).toEqual([]);
    lockRun(dir, 'again').release();
  });

  it('takes over the lock of a dead process on this host', () => {
    const dir = tmp();
    writeLock(dir, { pid: deadPid(), host: os.hostname() });
    const lock = lockRun(dir, 'fitspec train --resume');
    expect(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    lock.release();
  });

  it('never takes over a live process, nor one on another host (it cannot be checked)', () => {
    const dir = tmp();
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      writeLock(dir, { pid: child.pid, host: os.hostname() });
      expect(errorOf(() => lockRun(dir, 'x')).code).toBe('run.locked');
    } finally {
      child.kill();
    }
    writeLock(dir, { pid: deadPid(), host: 'elsewhere.example' });
    const err = errorOf(() => lockRun(dir, 'x'));
    expect(err.code).toBe('run.locked');
    expect(err.problems[0]!.hint).toContain(path.join(dir, LOCK_FILE));
  });

  it('release leaves a lock that is not its own alone', () => {
    const dir = tmp();
    const lock = lockRun(dir, 'a');
    writeLock(dir, { pid: 1, host: os.hostname(), token: 'someone-else' });
    lock.release();
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(true);
  });

  it('of several processes taking over one stale lock at once, exactly one gets it', async () => {
    const dir = tmp();
    writeLock(dir, { pid: deadPid(), host: os.hostname() });
    const script = path.join(tmp(), 'take.mjs');
    const tsxApi = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'api', 'index.mjs');
    const done = path.join(path.dirname(script), 'done');
    fs.writeFileSync(
      script,
      `import { existsSync } from 'node:fs';
import { register } from ${JSON.stringify(tsxApi)};
register();
const { lockRun } = await import(${JSON.stringify(path.join(ROOT, 'src', 'track', 'lock.ts'))});
try {
  const lock = lockRun(process.argv[2], 'contender');
  process.stdout.write('got');
  // Held until every contender has answered, however slowly they start.
  while (!existsSync(process.argv[3])) await new Promise((r) => setTimeout(r, 50));
  lock.release();
} catch (e) {
  process.stdout.write(e.code ?? String(e));
}
`,
    );
    const N = 6;
    const answers: string[] = [];
    const outs = await Promise.all(
      Array.from({ length: N }, () => {
        const c = spawn(process.execPath, [script, dir, done]);
        let out = '';
        c.stdout.on('data', (d) => {
          if (!out) answers.push(String(d));
          out += d;
          if (answers.length === N) fs.writeFileSync(done, '');
        });
        c.stderr.on('data', (d) => (out += d));
        return new Promise<string>((resolve) =>
          c.on('exit', () => {
            if (!out) answers.push('');
            if (answers.length === N) fs.writeFileSync(done, '');
            resolve(out);
          }),
        );
      }),
    );
    expect(
      outs.filter((o) => o === 'got'),
      outs.join('\n'),
    ).toHaveLength(1);
    expect(outs.filter((o) => o === 'run.locked')).toHaveLength(N - 1);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('fitspec sync refuses a run folder another process is writing', async () => {
    const dir = tmp();
    const local = new LocalTracker();
    await local.start({ experimentName: 'e', runName: 'r', runDir: dir, runId: 'r1', params: {}, tags: {}, startTime: Date.now() });
    await local.end('FINISHED');
    const lock = lockRun(dir, 'fitspec train');
    try {
      const err = await syncRun(dir, { uri: 'http://127.0.0.1:9' }).catch((e) => e);
      expect(err).toBeInstanceOf(FitspecError);
      expect((err as FitspecError).code).toBe('run.locked');
    } finally {
      lock.release();
    }
  });
});
