import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mlflowPython, mlflowServer } from '../setup/mlflow.js';
import { cli, synth, tmpDir } from '../train/helpers.js';
import { tinySweep } from './helpers.js';

let uri: string;
let dataDir: string;

beforeAll(async () => {
  uri = await mlflowServer();
  dataDir = path.join(tmpDir('sweep-mlflow-data'), 'faces');
  synth(dataDir, 8);
});

describe('a sweep in MLflow', () => {
  it('parent run like a training run (commit, user, search space, scheduler, budget); children log each searched path once, tagged with their rungs', async () => {
    const dir = tmpDir('sweep-mlflow');
    const file = tinySweep(
      dir,
      dataDir,
      2,
      `  name: m
  scheduler: {type: asha, minEpochs: 1, maxEpochs: 2, reductionFactor: 2}
  parameters:
    train.optimizer.learningRate: {values: [0.01, 0.003]}
`,
    );
    const git = (...args: string[]) => spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
    git('init', '-q');
    git('-c', 'user.email=a@b', '-c', 'user.name=a', 'commit', '-q', '--allow-empty', '-m', 'x');
    const commit = git('rev-parse', 'HEAD').stdout.trim();
    const r = cli(['sweep', file, '--no-progress'], dir, { MLFLOW_TRACKING_URI: uri });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`MLflow sweep run: ${uri.replace(/[.]/g, '\\.')}/#/experiments/\\d+/runs/[0-9a-f]{32}`));

    const seen = await mlflowPython<any>(`
exp = client.get_experiment_by_name("tiny")
runs = client.search_runs([exp.experiment_id], max_results=100)
parent = [r for r in runs if r.data.tags.get("fitspec.sweep_parent") == "m"][0]
children = [r for r in runs if r.data.tags.get("fitspec.sweep") == "m"]
out({"parent": {"params": parent.data.params, "tags": parent.data.tags, "metrics": parent.data.metrics, "status": parent.info.status},
     "children": [{"params": c.data.params, "tags": c.data.tags, "status": c.info.status} for c in children]})
`);
    const { parent, children } = seen;
    expect(parent.status).toBe('FINISHED');
    expect(parent.tags['mlflow.source.git.commit']).toBe(commit);
    expect(parent.tags['mlflow.user']).toBeTruthy();
    expect(parent.params).toMatchObject({
      'sweep.scheduler.type': 'asha',
      'sweep.scheduler.maxEpochs': '2',
      'sweep.parameters.train.optimizer.learningRate.values': '[0.01,0.003]',
    });
    // Two trials at 1 epoch, the better one promoted to 2: 3 of 4 epochs.
    expect(parent.metrics).toMatchObject({ epochs_spent: 3, epochs_full_budget: 4, trials_finished: 2 });
    expect(parent.tags['fitspec.best_trial']).toMatch(/^t00[12]$/);
    expect(children).toHaveLength(2);
    for (const c of children) {
      expect(c.status).toBe('FINISHED');
      const keys = Object.keys(c.params);
      expect(keys).toContain('train.optimizer.learningRate');
      expect(keys.filter((k) => k.startsWith('tracking.tags.') || k === 'tracking.runName' || k === 'optimizer_learning_rate')).toEqual([]);
      expect(c.tags['sweep.train.optimizer.learningRate']).toBe(c.params['train.optimizer.learningRate']);
      expect(c.tags['fitspec.sweep_rungs']).toMatch(/^started 1:paused (1:stopped|1:promoted 2:finished)$/);
    }
  }, 600_000);
});
