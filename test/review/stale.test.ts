import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../setup/redis.js';
import { isPng, ROOT, synth } from '../train/helpers.js';

// A scratch clone laid out like the project's experiments/, at a size that trains in seconds.
const BIN = path.join(ROOT, 'bin/fitspec.js');
const repo = mkdtempSync(path.join(os.tmpdir(), 'fitspec-stale-'));
afterAll(() => rmSync(repo, { recursive: true, force: true }));

function fitspec(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: repo, encoding: 'utf8', timeout: 600_000, env: { ...process.env, NO_COLOR: '1', MLFLOW_TRACKING_URI: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo, encoding: 'utf8', stdio: 'pipe' }).trim();
const write = (rel: string, text: string) => {
  mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
  writeFileSync(path.join(repo, rel), text);
};
const commit = (msg: string) => {
  git('add', '-A');
  git('commit', '-q', '-m', msg);
  return git('rev-parse', 'HEAD');
};
/** Finished run folders per experiment name. */
const runs = () => {
  const dir = path.join(repo, 'runs');
  const out: Record<string, number> = {};
  for (const e of existsSync(dir) ? readdirSync(dir) : []) {
    if (e === 'sweeps' || e === 'review') continue;
    out[e] = readdirSync(path.join(dir, e)).filter((r) => JSON.parse(readFileSync(path.join(dir, e, r, 'run.json'), 'utf8')).status === 'FINISHED').length;
  }
  return out;
};

const BASELINE = (lr: string) => `# the tiny baseline
name: 01-baseline
seed: 3
data:
  source: {type: directory, path: data/faces}
  image: {height: 32, width: 32}
  split: {train: 8, validation: 4}
model:
  layers:
    - conv2d: {filters: 4, kernelSize: 3, activation: relu}
    - maxPooling2d: {poolSize: 2}
    - flatten: {}
    - dense: {units: 3, activation: softmax}
train:
  epochs: 2
  batchSize: 8
  optimizer: {name: adam, learningRate: ${lr}}
`;

let c0 = '';
let c1 = '';
beforeAll(() => {
  git('init', '-q');
  write('.gitignore', 'data/\nruns/\n');
  synth(path.join(repo, 'data/faces'));
  write('experiments/01-baseline.yaml', BASELINE('0.01'));
  write(
    'experiments/02-dropout.yaml',
    'extends: 01-baseline.yaml\nname: 02-dropout\nmodel:\n  layers:\n    $patch:\n      - insertAfter: flatten\n        with: {dropout: {rate: 0.3}}\n',
  );
  write('experiments/mixins/quick.yaml', 'train: {epochs: 1}\n');
  write('experiments/quick/01-baseline.yaml', 'extends: [../01-baseline.yaml, ../mixins/quick.yaml]\nname: quick-01-baseline\n');
  write(
    'experiments/sweeps/flip.yaml',
    'extends: [../01-baseline.yaml, ../mixins/quick.yaml]\nname: flip-sweep\nsweep:\n  name: flip\n  method: grid\n  metric: val_accuracy\n  parameters:\n    augment.horizontalFlip: {values: [false, true]}\n',
  );
  write('experiments/other.yaml', BASELINE('0.01').replace('name: 01-baseline', 'name: other'));
  c0 = commit('tiny experiments');
  for (const f of ['01-baseline', '02-dropout']) {
    const r = fitspec(['train', `experiments/${f}.yaml`, '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
  }
  write('experiments/01-baseline.yaml', BASELINE('0.02'));
  c1 = commit('faster baseline');
  const r = fitspec(['train', 'experiments/01-baseline.yaml', '--no-progress']);
  expect(r.code, r.stderr).toBe(0);
}, 600_000);

describe('review with results', () => {
  it('names every descendant, shows base and head results where there are runs, and lists the stale ones', () => {
    const r = fitspec(['review', c0, c1, '--no-mlflow']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    const out = r.stdout;
    expect(out.split('\n')[2]).toBe('4 experiments change, 1 has results, 3 stale.');
    for (const f of ['experiments/01-baseline.yaml', 'experiments/02-dropout.yaml', 'experiments/quick/01-baseline.yaml', 'experiments/sweeps/flip.yaml']) expect(out).toContain(f);
    expect(out).not.toContain('experiments/other.yaml');
    // The edited file's own row: both results side by side, the difference, and the overlay of curves.
    const own = out.split('\n').find((l) => l.includes('experiments/01-baseline.yaml  '))!;
    expect(own).toMatch(/[0-9a-f]{12} -> [0-9a-f]{12} +\d\.\d{4} \(\d\) -> \d\.\d{4} \(\d\) [+-±]\d\.\d{4}/);
    expect(own).toMatch(/2 -> 2 ±0 /);
    expect(own).toMatch(/has results$/);
    const curves = /curves (\S+\.png)/.exec(out)![1]!;
    expect(isPng(path.join(repo, curves))).toBe(true);
    // The descendants are one change, in one table; 02 has a base result only.
    expect(out).toContain('changed: 3 experiments');
    expect(out.split('\n').find((l) => l.includes('experiments/02-dropout.yaml  '))).toMatch(/\d\.\d{4} \(\d\) -> - .*stale$/);
    expect(out).toMatch(/experiments\/sweeps\/flip\.yaml \(sweep\) +2 trials -> 2 trials .*stale: 2 of 2 trials\n/);
    expect(out).toContain('stale: 3 without a finished run of the head config');
    expect(out).not.toContain('MLflow runs: none');
  });

  it('--dry-run lists what --train-stale would train, and trains nothing', () => {
    const before = runs();
    const r = fitspec(['review', c0, c1, '--no-mlflow', '--train-stale', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^4 configs to train, 5 epochs in all at most/);
    expect(r.stdout).toMatch(/experiments\/02-dropout\.yaml +02-dropout +[0-9a-f]{12} +2\n/);
    expect(r.stdout).toMatch(/experiments\/sweeps\/flip\.yaml +trial t002 +[0-9a-f]{12} +1\n/);
    expect(runs()).toEqual(before);
  });

  it('--train-stale trains exactly the stale configs; a second call trains nothing', () => {
    const before = runs();
    const r = fitspec(['review', c0, c1, '--no-mlflow', '--train-stale', '--parallel', '2']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(runs()).toEqual({ ...before, '02-dropout': before['02-dropout']! + 1, 'quick-01-baseline': 1, 'flip-sweep': 2 });
    const again = fitspec(['review', c0, c1, '--no-mlflow', '--train-stale']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Nothing is stale');
    expect(runs()).toEqual({ ...before, '02-dropout': before['02-dropout']! + 1, 'quick-01-baseline': 1, 'flip-sweep': 2 });
    const review = fitspec(['review', c0, c1, '--no-mlflow', '--format', 'markdown']);
    expect(review.stdout.split('\n')[2]).toBe('**4 experiments change, 4 have results, 0 stale.**');
    expect(review.stdout.length).toBeLessThan(65_536);
    expect(review.stdout).toContain('<details><summary>');
  }, 600_000);

  it('--train-stale --queue enqueues the stale configs for `fitspec worker`; then nothing is stale', async () => {
    const redis: TestRedis = await startRedis();
    try {
      write('experiments/02-dropout.yaml', readFileSync(path.join(repo, 'experiments/02-dropout.yaml'), 'utf8').replace('rate: 0.3', 'rate: 0.4'));
      const c2 = commit('more dropout');
      const before = runs();
      const enq = fitspec(['review', c1, c2, '--no-mlflow', '--train-stale', '--queue', redis.url]);
      expect(enq.code, enq.stdout + enq.stderr).toBe(0);
      expect(enq.stdout).toMatch(/review-[0-9a-f]{8}: 1 enqueued/);
      expect(runs()).toEqual(before);
      const worker = fitspec(['worker', '--queue', redis.url, '--exit-when-empty', '--lock', '8']);
      expect(worker.code, worker.stdout + worker.stderr).toBe(0);
      expect(runs()).toEqual({ ...before, '02-dropout': before['02-dropout']! + 1 });
      const again = fitspec(['review', c1, c2, '--no-mlflow', '--train-stale', '--dry-run']);
      expect(again.stdout).toContain('Nothing is stale');
    } finally {
      await redis.stop();
    }
  }, 600_000);
});
