import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { mlflowPython, mlflowServer } from '../setup/mlflow.js';
import { cli, cliUntil, onlyRun, synth, tinyExperiment, tmpDir } from './helpers.js';

let dataDir: string;

beforeAll(() => {
  dataDir = path.join(tmpDir('data'), 'faces');
  synth(dataDir, 12);
});

/** Every file of a folder with its content hash and modification time. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = `${crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')} ${fs.statSync(p).mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}

/** A run stopped by SIGTERM after its second epoch, with `epochs` epochs in all. */
async function killedRun(dir: string, epochs: number, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const file = tinyExperiment(dir, dataDir);
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('epochs: 2', `epochs: ${epochs}`));
  const p = cliUntil(['train', file, '--no-progress'], dir, new RegExp(`epoch 2/${epochs}:`), env);
  await p.matched;
  p.child.kill('SIGTERM');
  expect(await p.exited).toBe(130);
  return onlyRun(path.join(dir, 'runs'));
}

describe('a finished run is final', () => {
  it('--resume of a FINISHED run exits 2 and writes nothing', () => {
    const dir = tmpDir('final');
    const file = tinyExperiment(dir, dataDir);
    expect(cli(['train', file, '--no-progress'], dir).code).toBe(0);
    const run = onlyRun(path.join(dir, 'runs'));
    const before = snapshot(run);
    const r = cli(['train', '--resume', run, '--no-progress'], dir);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/already finished/);
    expect(r.stderr).toContain('resolved.yaml');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(snapshot(run)).toEqual(before);
  });
});

describe('--resume takes the run as it started', () => {
  it('refuses --set, saying why, and writes nothing', async () => {
    const dir = tmpDir('resume-set');
    const run = await killedRun(dir, 40);
    const before = snapshot(run);
    const r = cli(['train', '--resume', run, '--set', 'train.epochs=2', '--no-progress'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--set train\.epochs=2 would change what it trains/);
    expect(snapshot(run)).toEqual(before);
  });

  it('a run stopped before its first epoch ended says it cannot be resumed', () => {
    const dir = tmpDir('no-ckpt');
    const file = tinyExperiment(dir, dataDir);
    const run = path.join(dir, 'runs', 'tiny', 'r1');
    fs.mkdirSync(run, { recursive: true });
    fs.copyFileSync(file, path.join(run, 'resolved.yaml'));
    fs.writeFileSync(
      path.join(run, 'run.json'),
      JSON.stringify({ format: 1, runId: 'r1', experimentName: 'tiny', runName: 'tiny-r1', status: 'KILLED', startTime: 1, params: {}, tags: {}, artifacts: [] }),
    );
    const r = cli(['train', '--resume', run, '--no-progress'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/KILLED before its first epoch ended: it has no checkpoint/);
    expect(fs.existsSync(path.join(run, 'run.lock'))).toBe(false);
  });
});

describe('one writer per run folder', () => {
  it('two resumes at once: one trains, the other exits 2 naming it; a stale lock is taken over; no metric point twice', async () => {
    // Enough epochs that the winner is still training when the other one starts, on any engine and load.
    const EPOCHS = 300;
    const dir = tmpDir('two-writers');
    const run = await killedRun(dir, EPOCHS);
    // Left behind by a process that died (SIGKILL, power cut): taken over.
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    fs.writeFileSync(path.join(run, 'run.lock'), JSON.stringify({ pid: dead, host: os.hostname(), started: '2026-01-01T00:00:00Z', command: 'fitspec train', token: 'old' }));

    const both = [0, 1].map(() => {
      const p = cliUntil(['train', '--resume', run, '--no-progress'], dir, /resuming at epoch/);
      p.matched.catch(() => undefined); // the loser never gets there
      return p;
    });
    const codes = await Promise.all(both.map((p) => p.exited));
    const winner = both[codes.indexOf(0)];
    const loser = both[codes.indexOf(2)];
    expect(winner, both.map((p) => p.output()).join('\n----\n')).toBeDefined();
    expect(loser, both.map((p) => p.output()).join('\n----\n')).toBeDefined();
    expect(loser!.output()).toMatch(new RegExp(`in use by \`fitspec train --resume\` \\(pid \\d+ on ${os.hostname()}, since `));
    expect(winner!.output()).toMatch(/resuming at epoch/);

    const points = fs
      .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const keys = points.map((p) => `${p.key}@${p.step}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(points.filter((p) => p.key === 'loss').map((p) => p.step)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i));
    expect(JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).status).toBe('FINISHED');
    expect(fs.existsSync(path.join(run, 'run.lock'))).toBe(false);
  });
});

describe('interruptions', () => {
  it.each([
    ['a signal', 1],
    ['a second signal (stop at once)', 2],
  ])('%s while start-up waits on the tracking server ends the run KILLED, and --resume says it has nothing to resume', async (_d, signals) => {
    // Accepts connections and never answers.
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const dir = tmpDir('start-signal');
      const file = tinyExperiment(dir, dataDir);
      fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('tracking:\n', `tracking:\n  uri: http://127.0.0.1:${(server.address() as net.AddressInfo).port}\n`));
      const p = cliUntil(['train', file, '--no-progress'], dir, /data: train/, { MLFLOW_TRACKING_URI: '' });
      p.matched.catch(() => undefined);
      // run.json is written just before the first request to the server.
      const runs = path.join(dir, 'runs', 'tiny');
      const t0 = Date.now();
      while (!(fs.existsSync(runs) && fs.readdirSync(runs).some((r) => fs.existsSync(path.join(runs, r, 'run.json'))))) {
        if (Date.now() - t0 > 120_000) throw new Error(`no run.json:\n${p.output()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      p.child.kill('SIGTERM');
      if (signals === 2) {
        while (!/SIGTERM: stopping/.test(p.output())) await new Promise((r) => setTimeout(r, 50));
        p.child.kill('SIGTERM');
      }
      expect(await p.exited, p.output()).toBe(130);
      const run = onlyRun(path.join(dir, 'runs'));
      const rec = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
      expect(rec).toMatchObject({ status: 'KILLED', error: 'interrupted by SIGTERM' });
      expect(fs.existsSync(path.join(run, 'checkpoint'))).toBe(false);
      expect(fs.existsSync(path.join(run, 'run.lock'))).toBe(false);
      const r = cli(['train', '--resume', run, '--no-progress'], dir, { MLFLOW_TRACKING_URI: '' });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/KILLED before its first epoch ended: it has no checkpoint/);
    } finally {
      sockets.forEach((s) => s.destroy());
      server.close();
    }
  });

  it("a session that died without ending (no summary.json) still counts in the resumed run's wall time", async () => {
    const dir = tmpDir('sessions');
    const run = await killedRun(dir, 3);
    // What a SIGKILL or a power cut leaves: the checkpoint, but no summary of the session.
    fs.rmSync(path.join(run, 'summary.json'), { force: true });
    const state = JSON.parse(fs.readFileSync(path.join(run, 'checkpoint', 'state.json'), 'utf8'));
    expect(state.sessions).toHaveLength(1);
    const r = cli(['train', '--resume', run, '--no-progress'], dir);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(summary.sessions).toHaveLength(2);
    expect(summary.sessions[0]).toEqual(state.sessions[0]);
    expect(summary.sessions[0].wall_time_s).toBeGreaterThan(0);
    expect(summary.sessions[1].start).toBeGreaterThan(summary.sessions[0].end);
    expect(summary.wall_time_s).toBeCloseTo(summary.sessions[0].wall_time_s + summary.sessions[1].wall_time_s, 6);
  });

  it('a resumed KILLED run that finishes keeps no error, locally or in MLflow', async () => {
    const uri = await mlflowServer();
    const dir = tmpDir('resume-error');
    const env = { MLFLOW_TRACKING_URI: uri, FITSPEC_TRACKING_WAIT: '120' };
    const run = await killedRun(dir, 30, env);
    const runId = () => JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).mlflow.runId as string;
    const tags = async () => (await mlflowPython<Record<string, string>>(`out(client.get_run(${JSON.stringify(runId())}).data.tags)`, { uri }))['fitspec.error'];
    expect(await tags()).toBe('interrupted by SIGTERM');
    const r = cli(['train', '--resume', run, '--no-progress'], dir, env);
    expect(r.code, r.stderr).toBe(0);
    const rec = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    expect(rec.status).toBe('FINISHED');
    expect(rec.error).toBeUndefined();
    expect(rec.tags['fitspec.error']).toBeUndefined();
    expect(await tags()).toBeUndefined();
  }, 600_000);
});

describe('a resumed seeded run', () => {
  // Dropout masks and augmentation are drawn from (seed, global step) on both engines, so a run killed
  // mid-way and resumed must repeat the uninterrupted one, dropout included.
  it.each([
    ['the graph engine, augmentation and dropout', 'graph', '    - dropout: {rate: 0.5}\n'],
    ['the eager engine, augmentation and dropout', 'eager', '    - dropout: {rate: 0.5}\n'],
  ])(
    'gives the same losses as the uninterrupted run: %s',
    async (_d, engine, dropout) => {
      const EPOCHS = 30;
      const metrics = async (killed: boolean) => {
        const dir = tmpDir('repro');
        const file = tinyExperiment(dir, dataDir, 'augment: {horizontalFlip: true, rotation: 10}\n');
        const text = fs.readFileSync(file, 'utf8').replace('epochs: 2', `epochs: ${EPOCHS}\n  engine: ${engine}`).replace('    - flatten: {}\n', `    - flatten: {}\n${dropout}`);
        fs.writeFileSync(file, text);
        if (killed) {
          const p = cliUntil(['train', file, '--no-progress'], dir, new RegExp(`epoch 2/${EPOCHS}:`));
          await p.matched;
          p.child.kill('SIGTERM');
          expect(await p.exited).toBe(130);
          const r = cli(['train', '--resume', onlyRun(path.join(dir, 'runs')), '--no-progress'], dir);
          expect(r.code, r.stderr).toBe(0);
          expect(r.stdout).toMatch(/resuming at epoch/);
        } else expect(cli(['train', file, '--no-progress'], dir).code).toBe(0);
        const rows = parse(fs.readFileSync(path.join(onlyRun(path.join(dir, 'runs')), 'metrics.csv')), { columns: true }) as Record<string, string>[];
        return rows.map((r) => [Number(r.loss), Number(r.val_loss)]);
      };
      const [whole, resumed] = [await metrics(false), await metrics(true)];
      expect(resumed).toHaveLength(EPOCHS);
      resumed.forEach(([loss, val], i) => {
        expect(loss, `loss, epoch ${i + 1}`).toBeCloseTo(whole[i]![0]!, 5);
        expect(val, `val_loss, epoch ${i + 1}`).toBeCloseTo(whole[i]![1]!, 5);
      });
    },
    600_000,
  );
});
