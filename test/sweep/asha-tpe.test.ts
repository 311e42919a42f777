import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptunaSampler, type AskRequest } from '../../src/sweep/sampler.js';
import { startRedis, type TestRedis } from '../setup/redis.js';
import { cli, cliProcess, cliUntil, synth, tmpDir } from '../train/helpers.js';
import { tinySweep } from './helpers.js';

let dataDir: string;

beforeAll(() => {
  dataDir = path.join(tmpDir('asha-data'), 'faces');
  synth(dataDir, 8);
});

/** The sweep of the "done when": tpe, 6 trials, ASHA from 1 to 4 epochs. */
const BLOCK = (name: string) => `  name: ${name}
  method: tpe
  count: 6
  seed: 7
  scheduler: {type: asha, minEpochs: 1, maxEpochs: 4}
  parameters:
    train.optimizer.learningRate: {distribution: logUniform, min: 0.001, max: 0.1}
    model.layers.0.conv2d.filters: {values: [2, 4]}
`;

interface RunRecord {
  status: string;
  tags: Record<string, string>;
}

function runsOf(dir: string): { dir: string; record: RunRecord; epochs: number }[] {
  const root = path.join(dir, 'runs', 'tiny');
  return fs.readdirSync(root).map((r) => {
    const record = JSON.parse(fs.readFileSync(path.join(root, r, 'run.json'), 'utf8')) as RunRecord;
    const epochs = fs
      .readFileSync(path.join(root, r, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"val_accuracy"')).length;
    return { dir: path.join(root, r), record, epochs };
  });
}

/** Every trial is one run, trained from epoch 1 once: promotions continue the same run folder. */
function expectScheduled(dir: string, output: string, sweep: string) {
  const runs = runsOf(dir);
  expect(runs).toHaveLength(6);
  expect(new Set(runs.map((r) => r.record.tags['fitspec.config_hash'])).size).toBe(6);
  expect(runs.map((r) => r.record.status)).toEqual(Array(6).fill('FINISHED'));
  for (const t of ['t001', 't002', 't003', 't004', 't005', 't006']) {
    expect(output.match(new RegExp(`\\[${sweep} ${t}\\] epoch 1/4`, 'g')) ?? [], `${t} trained its first epoch once`).toHaveLength(1);
  }
  // ASHA (reduction factor 3, rungs 1, 3, 4): some trial reached 4 epochs by promotions, most stopped at 1.
  const epochs = runs.map((r) => r.epochs).sort();
  expect(epochs.at(-1)).toBe(4);
  expect(epochs.filter((e) => e === 1).length).toBeGreaterThanOrEqual(3);
  expect(epochs.reduce((a, b) => a + b, 0)).toBeLessThan(24);
  const finishedFull = runs.find((r) => r.epochs === 4)!;
  expect(finishedFull.record.tags['fitspec.sweep_rungs']).toBe('started 1:paused 1:promoted 3:paused 3:promoted 4:finished');
  expect(fs.existsSync(path.join(finishedFull.dir, 'model'))).toBe(true);
  const stopped = runs.filter((r) => r.record.tags['fitspec.stopped_by'] === 'scheduler');
  expect(stopped.length).toBeGreaterThanOrEqual(3);
  for (const s of stopped) {
    expect(s.record.tags['fitspec.sweep_rungs']).toMatch(/^started 1:paused( 1:promoted 3:paused)? (1|3):stopped$/);
    // A stopped trial is finished from its checkpoint: its model and reports are there.
    expect(fs.existsSync(path.join(s.dir, 'model')), s.dir).toBe(true);
  }
  expect(output).toMatch(/promoted from epoch 1 to 3: continuing from its checkpoint/);
  expect(output).toMatch(/promoted: continuing \S+ from its checkpoint at epoch 1 to epoch 3/);
}

describe('Optuna sampler bridge', () => {
  it('draws reproducibly from (seed, trial number), and not the same point for two idle workers', async () => {
    const sampler = await OptunaSampler.open();
    try {
      const req: AskRequest = {
        method: 'tpe',
        seed: 3,
        number: 4,
        mode: 'max',
        startup: 2,
        space: [
          { name: 'a', type: 'categorical', choices: 2 },
          { name: 'lr', type: 'float', low: 0.0001, high: 0.1, log: true },
          { name: 'rate', type: 'float', low: 0.1, high: 0.5, when: { a: [1] } },
        ],
        trials: [
          { params: { a: 1, lr: 0.01, rate: 0.2 }, state: 'complete', value: 0.9 },
          { params: { a: 0, lr: 0.0003 }, state: 'complete', value: 0.3 },
          { params: { a: 1, lr: 0.02, rate: 0.3 }, state: 'pruned', intermediate: { '1': 0.5 } },
        ],
      };
      const first = await sampler.ask(req);
      expect(await sampler.ask(req)).toEqual(first);
      // The conditional parameter exists exactly when its condition holds.
      expect('rate' in first).toBe(first.a === 1);
      // The next idle worker asks with the first point running: it gets another point.
      const second = await sampler.ask({ ...req, number: 5, trials: [...req.trials, { params: first, state: 'running' }] });
      expect(second).not.toEqual(first);
      expect(second.lr).toBeGreaterThanOrEqual(0.0001);
      expect(second.lr).toBeLessThanOrEqual(0.1);
      await expect(sampler.ask({ ...req, space: [{ name: 'lr', type: 'float', low: 1, high: 0 }] })).rejects.toThrow(/Optuna could not draw a trial/);
    } finally {
      sampler.close();
    }
  }, 300_000);
});

describe('method tpe with an ASHA scheduler', () => {
  it('--parallel 2: trials pause at rungs, promotions resume their checkpoints, a re-run trains nothing', () => {
    const dir = tmpDir('asha-local');
    const file = tinySweep(dir, dataDir, 2, BLOCK('a'));
    const dry = cli(['sweep', file, '--dry-run'], dir);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('tpe, 6 trials drawn by Optuna');
    const r = cli(['sweep', file, '--parallel', '2'], dir, { MLFLOW_TRACKING_URI: '' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expectScheduled(dir, r.stdout, 'a');
    expect(r.stdout).toMatch(/epochs spent (\d+) of 24 for every trial at maxEpochs/);

    const status = cli(['sweep', 'status', 'a', '--runs-dir', path.join(dir, 'runs')], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/sweep a: finished \d, stopped \d, paused 0, running 0, failed 0 \(of 6\)/);
    expect(status.stdout).toMatch(/t00\d\s.*\s4\s+finished\s/);
    expect(status.stdout).toMatch(/t00\d\s.*\s1\s+stopped\s/);

    const again = cli(['sweep', file, '--parallel', '2'], dir, { MLFLOW_TRACKING_URI: '' });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing to train: every trial is finished or stopped');
    expect(again.stdout).not.toMatch(/epoch \d\/4/);
    expect(runsOf(dir)).toHaveLength(6);
  }, 300_000);
});

describe('method tpe with an ASHA scheduler through Redis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('two workers, one SIGKILLed during a promotion: its job is handed on and resumed, every job runs once, a re-run trains nothing', async () => {
    const dir = tmpDir('asha-queue');
    const file = tinySweep(dir, dataDir, 2, BLOCK('aq'));
    const env = { MLFLOW_TRACKING_URI: '' };
    // The sweep process decides and enqueues; workers start once it has drawn the first trials.
    const coordinator = cliUntil(['sweep', file, '--queue', redis.url, '--parallel', '2'], dir, /\[aq t002\] drawn by tpe/, env);
    await coordinator.matched;
    const cExit = coordinator.exited;

    const workerArgs = ['worker', '--queue', redis.url, '--threads', '1', '--lock', '8', '--exit-when-empty'];
    const a = cliUntil(workerArgs, dir, /\[aq (t\d+)\] promoted: continuing/, env);
    const b = cliProcess(workerArgs, dir, env);
    await a.matched;
    fs.writeFileSync(path.join(dir, 'a.log'), a.output());
    const killed = /\[aq (t\d+)\] promoted: continuing \S+ from its checkpoint at epoch (\d+) to epoch (\d+)/.exec(a.output())!;
    a.child.kill('SIGKILL');
    await a.exited;
    const save = setInterval(() => {
      fs.writeFileSync(path.join(dir, 'b.log'), b.output());
      fs.writeFileSync(path.join(dir, 'c.log'), coordinator.output());
    }, 2000);
    await cExit;
    clearInterval(save);

    expect(await cExit, coordinator.output()).toBe(0);
    const cOut = coordinator.output();
    expect(await b.exited, b.output()).toBe(0);
    // The other worker took the stalled promotion over and continued the same run from its checkpoint.
    expect(b.output()).toMatch(new RegExp(`\\[aq ${killed[1]}\\] (promoted: continuing|continuing the interrupted run) \\S+ from`));
    expect(b.output()).not.toContain(redis.password);
    expectScheduled(dir, a.output() + b.output() + cOut, 'aq');
    expect(cOut).toMatch(/epochs spent \d+ of 24/);

    const status = cli(['sweep', 'status', 'aq', '--queue', redis.url], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/sweep aq: done 6, running 0, queued 0, failed 0 \(of 6\)/);
    expect(status.stdout).toMatch(/\s4\s+finished\s/);

    const again = cli(['sweep', file, '--queue', redis.url, '--parallel', '2'], dir, env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing to train: every trial is finished or stopped');
    expect(runsOf(dir)).toHaveLength(6);
  }, 300_000);
});

describe('a grid with an ASHA scheduler', () => {
  it('starts trials one by one and promotes between starts; a re-run trains nothing', () => {
    const dir = tmpDir('asha-grid');
    const file = tinySweep(
      dir,
      dataDir,
      2,
      `  name: g
  scheduler: {type: asha, minEpochs: 1, maxEpochs: 3}
  parameters:
    train.optimizer.learningRate: {values: [0.1, 0.03, 0.01, 0.003]}
`,
    );
    const r = cli(['sweep', file], dir, { MLFLOW_TRACKING_URI: '' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // Three trials at rung 1 make one promotable: it goes on before the fourth trial starts.
    const promoted = r.stdout.indexOf('promoted from epoch 1 to 3');
    expect(promoted).toBeGreaterThan(0);
    expect(r.stdout.indexOf('[g t004] epoch 1/3')).toBeGreaterThan(promoted);
    expect(r.stdout).toMatch(/epochs spent 6 of 12 for every trial at maxEpochs/);
    expect(
      runsOf(dir)
        .map((x) => x.epochs)
        .sort(),
    ).toEqual([1, 1, 1, 3]);
    const again = cli(['sweep', file], dir, { MLFLOW_TRACKING_URI: '' });
    expect(again.stdout).toContain('nothing to train');
  }, 300_000);
});
