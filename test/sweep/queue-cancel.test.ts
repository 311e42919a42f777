import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mlflowPython } from '../setup/mlflow.js';
import { cli, cliProcess, cliUntil, tmpDir } from '../train/helpers.js';
import { queueServices, tinySweep } from './helpers.js';

const services = queueServices('sweep-cancel-data');

/** Processes to end if the test fails half-way. */
const leftovers: (() => void)[] = [];

afterAll(() => {
  for (const f of leftovers) f();
});

/** The trials that trained at least one epoch, from the worker's lines. */
const trained = (out: string) => new Set([...out.matchAll(/\[cq (t\d+)\] epoch 1\//g)].map((m) => m[1]));

describe('fitspec sweep cancel on a coordinated (tpe) sweep', () => {
  it('removes its queued job, the coordinator starts nothing more and exits; the sweep is cancelled in Redis, sweep.json and MLflow; a re-run continues it', async () => {
    const { redis, uri, dataDir } = services;
    const dir = tmpDir('sweep-cancel');
    const file = tinySweep(
      dir,
      dataDir,
      2,
      `  name: cq
  method: tpe
  count: 4
  seed: 5
  parameters:
    train.optimizer.learningRate: {distribution: logUniform, min: 0.001, max: 0.1}
`,
    );
    const env = { MLFLOW_TRACKING_URI: uri };
    // Two jobs at a time for one worker: when the first is done, the worker takes the second and a third waits.
    const coordinator = cliUntil(['sweep', file, '--queue', redis.url, '--parallel', '2'], dir, /\[cq t002\] drawn by tpe/, env);
    // Started once the coordinator is there: a worker with --exit-when-empty leaves an empty queue without one.
    await coordinator.matched;
    // TF_CPP_MIN_LOG_LEVEL set: the worker runs in this one process (not a quiet child), which is frozen below.
    const worker = cliProcess(['worker', '--queue', redis.url, '--threads', '1', '--exit-when-empty'], dir, { ...env, TF_CPP_MIN_LOG_LEVEL: '2' });
    leftovers.push(() => {
      if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
      if (coordinator.child.exitCode === null) coordinator.child.kill('SIGKILL');
    });
    const save = setInterval(() => {
      fs.writeFileSync(path.join(dir, 'c.log'), coordinator.output());
      fs.writeFileSync(path.join(dir, 'w.log'), worker.output());
    }, 1000);
    const until = (re: RegExp, text: () => string) =>
      new Promise<void>((resolve) => {
        const t = setInterval(() => re.test(text()) && (clearInterval(t), resolve()), 20);
      });
    // Once the first job is done and the second started, the worker is frozen, so that the cancel finds the
    // sweep mid-way however fast the tiny trials are: the second job running, the third (drawn next) queued.
    await until(/\[cq t002\] backend/, () => worker.output());
    worker.child.kill('SIGSTOP');
    await until(/\[cq t003\] drawn by tpe/, () => coordinator.output());
    const cancel = cli(['sweep', 'cancel', 'cq', '--queue', redis.url], dir);
    worker.child.kill('SIGCONT');
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toContain(
      'sweep cq: 1 queued jobs removed; 1 running jobs finish their current rung; no new trial or promotion starts; its `fitspec sweep --queue` process stops within seconds',
    );

    const t0 = Date.now();
    const code = await coordinator.exited;
    const cOut = coordinator.output();
    expect(code, cOut).toBe(0);
    // It noticed within a few seconds, plus the running job's own end (two tiny epochs).
    expect(Date.now() - t0).toBeLessThan(30_000);
    const at = cOut.indexOf('sweep cq: cancelled (fitspec sweep cancel): no new trial or promotion starts');
    expect(at, cOut).toBeGreaterThan(0);
    expect(cOut).toContain('sweep cq was cancelled: run the same command again to continue it');
    // Nothing was drawn (or promoted) after the cancel was seen.
    expect(cOut.slice(at)).not.toMatch(/drawn by tpe|promoted/);
    expect(await worker.exited, worker.output()).toBe(0);
    clearInterval(save);
    // t003's job was removed before any worker took it; t004 was not started (or not drawn); t002 finished its job.
    expect([...trained(worker.output())].sort()).toEqual(['t001', 't002']);
    expect(fs.readdirSync(path.join(dir, 'runs', 'tiny'))).toHaveLength(2);
    expect(cOut).toMatch(/t003 .*CANCELLED/);

    const status = cli(['sweep', 'status', 'cq', '--queue', redis.url], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('sweep cq: done 2, running 0, queued 0, failed 0, cancelled 2 (of 4)');
    expect(status.stdout).toContain('sweep cq was cancelled (fitspec sweep cancel)');
    const local = cli(['sweep', 'status', 'cq', '--runs-dir', path.join(dir, 'runs')], dir);
    expect(local.stdout).toContain('sweep cq was cancelled (fitspec sweep cancel)');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'sweeps', 'cq', 'sweep.json'), 'utf8')).cancelled).toBe(true);

    const parents = await mlflowPython<{ status: string }[]>(`
exp = client.get_experiment_by_name("tiny")
runs = client.search_runs([exp.experiment_id], max_results=1000)
out([{"status": r.info.status} for r in runs if r.data.tags.get("fitspec.sweep_parent") == "cq"])
`);
    expect(parents).toEqual([{ status: 'KILLED' }]);

    // Run again, it continues (as enqueuing a cancelled plain sweep again does): t003 trains, t004 is drawn.
    const again = cliUntil(['sweep', file, '--queue', redis.url, '--parallel', '2'], dir, /2 trials with results in the queue/, env);
    await again.matched;
    const w2 = cli(['worker', '--queue', redis.url, '--threads', '1', '--exit-when-empty'], dir, env);
    expect(w2.code, w2.stdout + w2.stderr).toBe(0);
    expect(await again.exited, again.output()).toBe(0);
    expect([...trained(w2.stdout + w2.stderr)].sort()).toEqual(['t003', 't004']);
    expect(again.output()).not.toContain('was cancelled');
    const done = cli(['sweep', 'status', 'cq', '--queue', redis.url], dir);
    expect(done.stdout).toContain('sweep cq: done 4, running 0, queued 0, failed 0 (of 4)');
    expect(done.stdout).not.toContain('was cancelled');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'sweeps', 'cq', 'sweep.json'), 'utf8')).cancelled).toBeUndefined();
  }, 120_000);
});
