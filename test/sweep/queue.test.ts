import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mlflowPython } from '../setup/mlflow.js';
import { cli, cliProcess, cliUntil, tmpDir } from '../train/helpers.js';
import { queueServices, tinySweep } from './helpers.js';

const services = queueServices('sweep-queue-data');

/** Every file under dir, recursively. */
function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('fitspec sweep --queue with fitspec worker (real redis-server, real MLflow)', () => {
  it('survives a Redis crash and a SIGKILLed worker: every trial finishes exactly once, as a child of the sweep run', async () => {
    const { redis, uri, dataDir } = services;
    const dir = tmpDir('sweep-queue');
    const file = tinySweep(
      dir,
      dataDir,
      4,
      `  name: q
  parameters:
    train.optimizer.learningRate: {values: [0.01, 0.003]}
    model.layers.0.conv2d.filters: {values: [2, 4]}
`,
    );
    const env = { MLFLOW_TRACKING_URI: uri };

    const bad = cli(['sweep', file, '--queue', `redis://:${redis.password}@127.0.0.1:9`], dir, env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/queue\.unreachable.*not reachable \(ECONNREFUSED\).*nothing was enqueued/);
    expect(bad.stdout + bad.stderr).not.toContain(redis.password);
    expect(fs.existsSync(path.join(dir, 'runs'))).toBe(false);

    const enq = cli(['sweep', file, '--queue', redis.url], dir, env);
    expect(enq.code, enq.stderr).toBe(0);
    expect(enq.stdout).toContain('4 trials enqueued');

    // Appendonly file, no RDB snapshots: the queue must come back from the AOF alone.
    await new Promise((r) => setTimeout(r, 1500));
    await redis.crashAndRestart();
    const queued = cli(['sweep', 'status', 'q', '--queue', redis.url], dir);
    expect(queued.code, queued.stderr).toBe(0);
    expect(queued.stdout).toContain('done 0, running 0, queued 4, failed 0 (of 4)');

    const workerArgs = ['worker', '--queue', redis.url, '--threads', '1', '--lock', '8', '--exit-when-empty'];
    const a = cliUntil(workerArgs, dir, /\] epoch 1\/4/, env);
    const b = cliProcess(workerArgs, dir, env);
    await a.matched;
    const killedTrial = /\[q (t\d+)\] epoch 1\/4/.exec(a.output())![1]!;
    a.child.kill('SIGKILL');
    await a.exited;

    expect(await b.exited, b.output()).toBe(0);
    // The trial of the dead worker was found stalled and trained by the other one.
    expect(b.output()).toContain(`[q ${killedTrial}]`);
    expect(b.output() + a.output()).not.toContain(redis.password);

    const status = cli(['sweep', 'status', 'q', '--queue', redis.url], dir);
    expect(status.stdout, status.stderr).toContain('done 4, running 0, queued 0, failed 0 (of 4)');

    const seen = await mlflowPython<any>(`
exp = client.get_experiment_by_name("tiny")
runs = client.search_runs([exp.experiment_id], max_results=1000)
parents = [r for r in runs if r.data.tags.get("fitspec.sweep_parent") == "q"]
children = [r for r in runs if r.data.tags.get("fitspec.sweep") == "q"]
out({
  "parents": [{"id": p.info.run_id, "status": p.info.status, "metrics": p.data.metrics, "tags": p.data.tags, "params": p.data.params,
               "artifacts": [a.path for a in client.list_artifacts(p.info.run_id)]} for p in parents],
  "children": [{"id": c.info.run_id, "status": c.info.status, "parent": c.data.tags.get("mlflow.parentRunId"), "hash": c.data.tags.get("fitspec.config_hash"),
                "trial": c.data.tags.get("fitspec.sweep_trial"), "params": c.data.params, "tags": c.data.tags, "metrics": c.data.metrics} for c in children],
})
`);
    expect(seen.parents).toHaveLength(1);
    const parent = seen.parents[0];
    expect(parent.status).toBe('FINISHED');
    expect(parent.artifacts).toContain('results.csv');
    expect(parent.metrics.trials_finished).toBe(4);
    expect(parent.metrics.best_val_accuracy).toBeGreaterThanOrEqual(0);
    const finished = seen.children.filter((c: any) => c.status === 'FINISHED');
    // Exactly once: four finished children, one per config hash, all under the parent.
    expect(finished, b.output()).toHaveLength(4);
    expect(new Set(finished.map((c: any) => c.hash)).size).toBe(4);
    expect(new Set(finished.map((c: any) => c.trial))).toEqual(new Set(['t001', 't002', 't003', 't004']));
    for (const c of seen.children) expect(c.parent).toBe(parent.id);
    for (const c of finished) {
      expect(c.tags['sweep.train.optimizer.learningRate']).toBe(c.params['train.optimizer.learningRate']);
      expect(c.metrics.best_val_accuracy).toBeGreaterThanOrEqual(0);
    }
    // Any other child is the killed attempt, marked KILLED rather than left RUNNING.
    for (const c of seen.children.filter((x: any) => x.status !== 'FINISHED')) expect([c.status, c.trial]).toEqual(['KILLED', killedTrial]);
    expect(JSON.stringify(seen)).not.toContain(redis.password);

    // The run folders: four finished runs; the interrupted one either continued (same folder) or marked KILLED.
    const records = fs.readdirSync(path.join(dir, 'runs', 'tiny')).map((r) => JSON.parse(fs.readFileSync(path.join(dir, 'runs', 'tiny', r, 'run.json'), 'utf8')));
    expect(records.filter((r) => r.status === 'FINISHED')).toHaveLength(4);
    expect(records.filter((r) => r.status !== 'FINISHED' && r.status !== 'KILLED')).toEqual([]);
    for (const f of files(path.join(dir, 'runs'))) expect(fs.readFileSync(f).includes(redis.password), f).toBe(false);

    // Running the sweep again trains nothing, with the queue or without it.
    const again = cli(['sweep', file, '--queue', redis.url, '--follow'], dir, env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('0 trials enqueued, 4 already queued or done');
    expect(again.stdout).toContain('sweep q: done 4, running 0, queued 0, failed 0 (of 4)');
    const local = cli(['sweep', file], dir, env);
    expect(local.code, local.stderr).toBe(0);
    expect(local.stdout).toContain('4 already finished, 0 to train');
    expect(fs.readdirSync(path.join(dir, 'runs', 'tiny'))).toHaveLength(records.length);
  }, 300_000);

  it('cancel removes the queued trials of a sweep; a worker then trains nothing', () => {
    const { redis, dataDir } = services;
    const dir = tmpDir('sweep-cancel');
    const file = tinySweep(dir, dataDir, 1, '  name: c\n  parameters:\n    train.optimizer.learningRate: {values: [0.01, 0.02]}\n');
    expect(cli(['sweep', file, '--queue', redis.url], dir).stdout).toContain('2 trials enqueued');
    const cancel = cli(['sweep', 'cancel', 'c', '--queue', redis.url], dir);
    expect(cancel.stdout, cancel.stderr).toContain('sweep c: 2 queued trials removed');
    expect(cli(['sweep', 'status', 'c', '--queue', redis.url], dir).stdout).toContain('queued 0, failed 0, cancelled 2 (of 2)');
    const w = cli(['worker', '--queue', redis.url, '--exit-when-empty'], dir);
    expect(w.code, w.stderr).toBe(0);
    expect(w.stdout).not.toContain('[c t00');
    expect(fs.existsSync(path.join(dir, 'runs', 'tiny'))).toBe(false);
    const unknown = cli(['sweep', 'status', 'nope', '--queue', redis.url], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('No sweep named "nope"');
    expect(unknown.stderr).not.toContain(redis.password);
  });
});
