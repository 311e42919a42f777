import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, ROOT } from '../config/helpers.js';
import { mlflowServer } from '../setup/mlflow.js';
import { mlflowClient } from '../../src/track/connect.js';

const BIN = path.join(ROOT, 'bin/fitspec.js');
const repo = mkdtempSync(path.join(os.tmpdir(), 'fitspec-review-'));
afterAll(() => rmSync(repo, { recursive: true, force: true }));

function fitspec(args: string[], env: Record<string, string> = {}, nodeArgs: string[] = []) {
  const r = spawnSync(process.execPath, [...nodeArgs, BIN, ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', MLFLOW_TRACKING_URI: '', ...env } });
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
/** The experiment files a review lists, with the status of their section, in order. */
const listed = (out: string) => {
  const found: string[] = [];
  let status = '';
  for (const line of out.split('\n')) {
    const head = /^(?:#### )?(changed|new|deleted|error)(?::| +)\s*`?([^`\s]*)/.exec(line);
    if (head) {
      status = head[1]!;
      if (head[2] && !/^\d+$/.test(head[2])) found.push(`${status} ${head[2]}`);
      continue;
    }
    const row = /^(?: {2}|\| `)(\w+\/\S+?\.yaml)[`\s]/.exec(line);
    if (row && status && !found.includes(`${status} ${row[1]}`)) found.push(`${status} ${row[1]}`);
    if (/^(stale|fitspec review)/.test(line)) status = '';
  }
  return found;
};

const BASE = `name: base
data: {source: {type: directory, path: data/x}, classes: [a, b]}
model:
  layers:
    - conv2d: {filters: 8, kernelSize: 3, activation: relu}
    - flatten: {}
    - dense: {units: 2, activation: softmax}
train:
  epochs: 3
  optimizer: {name: rmsprop, learningRate: 0.0001}
`;
const REFORMATTED = `# the same experiment, written differently
name: "base"
data:
  source:
    type: directory
    path: data/x
  classes:
    - a
    - b
model: {layers: [{conv2d: {kernelSize: 3, filters: 8, activation: relu}}, {flatten: {}}, {dense: {activation: softmax, units: 2}}]}
train: {optimizer: {learningRate: 1.0e-4, name: rmsprop}, epochs: 3, batchSize: 32}
`;
const ARCH = (filters: number) => `name: tiny
layers:
  - conv2d: {name: tiny_conv1, filters: ${filters}, kernelSize: 3, padding: same, activation: relu}
  - maxPooling2d: {name: tiny_pool, poolSize: 2}
`;

let c0 = '';
beforeAll(() => {
  git('init', '-q');
  write('exp/base.yaml', BASE);
  write('exp/child.yaml', 'extends: base.yaml\nname: child\ntrain: {epochs: 5}\n');
  write('exp/grandchild.yaml', 'extends: child.yaml\nname: grandchild\naugment: {rotation: 10}\n');
  write('exp/mixins/short.yaml', 'train: {epochs: 1}\n');
  write('exp/quick/child.yaml', 'extends: [../child.yaml, ../mixins/short.yaml]\nname: quick-child\n');
  write('exp/architectures/tiny.yaml', ARCH(16));
  write(
    'exp/on-tiny.yaml',
    `name: on-tiny
data: {source: {type: directory, path: data/x}, classes: [a, b]}
model:
  base: {architecture: architectures/tiny.yaml}
  layers: [{flatten: {}}, {dense: {units: 2, activation: softmax}}]
`,
  );
  write('exp/standalone.yaml', BASE.replace('name: base', 'name: standalone'));
  c0 = commit('first');
});

describe('fitspec review', () => {
  it('a change to a parent file lists every experiment built on it, and nothing else', () => {
    write('exp/base.yaml', BASE.replace('learningRate: 0.0001', 'learningRate: 0.001'));
    const c1 = commit('faster');
    const r = fitspec(['review', c0, c1, '--path', 'exp']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(listed(r.stdout)).toEqual(['changed exp/base.yaml', 'changed exp/child.yaml', 'changed exp/grandchild.yaml', 'changed exp/quick/child.yaml']);
    expect(r.stdout).toContain('Experiments (resolved configs): 4 changed, 0 new, 0 deleted, 2 unchanged.');
    expect(r.stdout.split('\n')[2]).toBe('4 experiments change, 0 have results, 4 stale.');
    // The three built on base.yaml are one change: one diff, one table with their hashes before and after.
    const group = r.stdout.slice(r.stdout.indexOf('changed: 3 experiments'));
    expect(group).toMatch(/^changed: 3 experiments\n {2}changed through: exp\/base\.yaml\n {2}~ train\.optimizer\.learningRate: 0\.0001 -> 0\.001\n/);
    expect(group).toMatch(/ {2}exp\/grandchild\.yaml +[0-9a-f]{12} -> [0-9a-f]{12} +stale\n/);
    expect(r.stdout.match(/learningRate: 0\.0001 -> 0\.001/g)).toHaveLength(2);
  });

  it('an architecture change lists the experiments using it', () => {
    const before = git('rev-parse', 'HEAD');
    write('exp/architectures/tiny.yaml', ARCH(32));
    const after = commit('wider tiny');
    const r = fitspec(['review', before, after, '--path', 'exp']);
    expect(r.code).toBe(1);
    expect(listed(r.stdout)).toEqual(['changed exp/on-tiny.yaml']);
    expect(r.stdout).toContain('changed through: exp/architectures/tiny.yaml');
    expect(r.stdout).toContain('~ model.base.layers.0.conv2d.filters: 16 -> 32 (tiny_conv1)');
  });

  it('a pure reformat lists nothing and exits 0', () => {
    const before = git('rev-parse', 'HEAD');
    const lr = readFileSync(path.join(repo, 'exp/base.yaml'), 'utf8').includes('0.001') ? '1.0e-3' : '1.0e-4';
    write('exp/base.yaml', REFORMATTED.replace('1.0e-4', lr));
    const after = commit('reformat');
    const r = fitspec(['review', before, after, '--path', 'exp']);
    expect(r.stdout).toContain('0 changed, 0 new, 0 deleted, 6 unchanged');
    expect(listed(r.stdout)).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('compares with the working tree by default: new and deleted experiments, in markdown too', () => {
    write('exp/new.yaml', 'extends: base.yaml\nname: new-one\n');
    unlinkSync(path.join(repo, 'exp/standalone.yaml'));
    try {
      const r = fitspec(['review', 'HEAD', '--path', 'exp']);
      expect(r.code).toBe(1);
      expect(listed(r.stdout)).toEqual(['new exp/new.yaml', 'deleted exp/standalone.yaml']);
      expect(r.stdout).toMatch(/^fitspec review: HEAD -> working tree/);
      const md = fitspec(['review', 'HEAD', '--path', 'exp', '--format', 'markdown']);
      expect(md.code).toBe(1);
      expect(md.stdout).toMatch(/^### fitspec review: `HEAD` → `working tree`\n\n\*\*1 experiment changes, 0 have results, 1 stale\.\*\*\n/);
      expect(md.stdout).toContain('#### new: `exp/new.yaml` (new-one)');
      expect(md.stdout).toContain('#### deleted: `exp/standalone.yaml` (standalone)');
    } finally {
      git('checkout', '-q', '--', 'exp/standalone.yaml');
      unlinkSync(path.join(repo, 'exp/new.yaml'));
    }
  });

  it('shows multi-line values and added sections readably in markdown', () => {
    write('exp/child.yaml', 'extends: base.yaml\nname: child\ndescription: |\n  First line.\n  Second line.\ntrain: {epochs: 5}\naugment: {rotation: 20, horizontalFlip: true}\n');
    try {
      const r = fitspec(['review', 'HEAD', '--path', 'exp/child.yaml', '--format', 'markdown']);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('| + | `augment.rotation` |  | `20` |');
      expect(r.stdout).toContain('| + | `augment.horizontalFlip` |  | `true` |');
      expect(r.stdout).toContain('```diff\n+ First line.\n+ Second line.\n```');
      expect(r.stdout).not.toContain('\\n');
    } finally {
      git('checkout', '-q', '--', 'exp/child.yaml');
    }
  });

  it('an experiment that no longer resolves is listed with its problems, and exits 2', () => {
    write('exp/child.yaml', 'extends: base.yaml\nname: child\ntrain: {epochs: 5, batchsize: 3}\n');
    try {
      const r = fitspec(['review', 'HEAD', '--path', 'exp']);
      expect(r.code).toBe(2);
      expect(listed(r.stdout)).toContain('error exp/child.yaml');
      expect(r.stdout).toMatch(/exp\/child\.yaml:3:\d+: error \[schema\.unknown-key\]/);
    } finally {
      git('checkout', '-q', '--', 'exp/child.yaml');
    }
  });

  it('an unreachable tracking server is a one-line note, not an error', () => {
    write('exp/base.yaml', BASE.replace('epochs: 3', 'epochs: 4'));
    try {
      const r = fitspec(['review', 'HEAD', '--path', 'exp/base.yaml'], { MLFLOW_TRACKING_URI: 'http://127.0.0.1:9' });
      expect(r.code).toBe(1);
      expect(r.stdout.split('\n').filter((l) => l.startsWith('note: MLflow runs not listed'))).toHaveLength(1);
      expect(r.stdout).not.toMatch(/MLflow runs.*none/);
    } finally {
      git('checkout', '-q', '--', 'exp/base.yaml');
    }
  });

  it('a file is named as a cause only when it changes the resolved config; a sweep only when its trials change', () => {
    write('sw/base.yaml', BASE);
    write('sw/architectures/tiny.yaml', ARCH(16));
    write('sw/arch-user.yaml', 'extends: base.yaml\nname: arch-user\nmodel:\n  base: {architecture: architectures/tiny.yaml}\n');
    write(
      'sw/sweep.yaml',
      'extends: base.yaml\nname: lr-sweep\nsweep:\n  method: grid\n  metric: val_accuracy\n  parameters:\n    train.optimizer.learningRate: {values: [0.1, 0.2]}\n',
    );
    const before = commit('sweep and architecture user');
    // A comment in the architecture, the learning rate in the base: the sweep searches the learning rate itself.
    write('sw/architectures/tiny.yaml', `# sixteen filters\n${ARCH(16)}`);
    write('sw/base.yaml', BASE.replace('learningRate: 0.0001', 'learningRate: 0.001'));
    const after = commit('comment and rate');
    const r = fitspec(['review', before, after, '--path', 'sw']);
    expect(r.code).toBe(1);
    expect(listed(r.stdout)).toEqual(['changed sw/arch-user.yaml', 'changed sw/base.yaml']);
    expect(r.stdout).toContain('changed through: sw/base.yaml\n');
    expect(r.stdout).not.toContain('changed through: sw/architectures/tiny.yaml');
    expect(r.stdout).toContain('2 changed, 0 new, 0 deleted, 1 unchanged');
    // Epochs reach every trial: now the sweep trains other configs.
    write('sw/base.yaml', BASE.replace('epochs: 3', 'epochs: 4'));
    const epochs = commit('epochs');
    const e = fitspec(['review', after, epochs, '--path', 'sw']);
    expect(listed(e.stdout)).toContain('changed sw/sweep.yaml');
    expect(e.stdout).toMatch(/sw\/sweep\.yaml \(sweep\) +2 trials -> 2 trials +stale: 2 of 2 trials\n/);
    expect(e.stdout.split('\n')[2]).toBe('3 experiments change, 0 have results, 3 stale.');
  });

  it('markdown stays within one GitHub comment: the largest diffs give way, the tables stay', () => {
    const long = (word: string) => Array.from({ length: 1500 }, (_, i) => `  ${word} line ${i} of a description long enough to fill a comment.`).join('\n');
    write('big/base.yaml', `${BASE}description: |\n${long('old')}\n`);
    write('big/child.yaml', 'extends: base.yaml\nname: big-child\n');
    const before = commit('long description');
    write('big/base.yaml', `${BASE}description: |\n${long('new')}\n`.replace('epochs: 3', 'epochs: 4'));
    const after = commit('rewritten description');
    const r = fitspec(['review', before, after, '--path', 'big', '--format', 'markdown']);
    expect(r.code).toBe(1);
    expect(fitspec(['review', before, after, '--path', 'big']).stdout.length).toBeGreaterThan(65_536);
    expect(r.stdout.length).toBeLessThan(65_536);
    expect(r.stdout).toContain('**2 experiments change, 0 have results, 2 stale.**');
    expect(r.stdout).toMatch(/_\d+ differences: run `fitspec review` to see them\._/);
    expect(r.stdout).toMatch(/\| `big\/child\.yaml` \| `[0-9a-f]{12}` → `[0-9a-f]{12}` \| stale \|/);
  });

  it('bad revisions are errors (exit 2)', () => {
    const r = fitspec(['review', 'no-such-rev']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('git.revision');
  });

  it('never loads TensorFlow, from the sources or as installed', () => {
    const log = path.join(repo, '..', `review-imports-${process.pid}.log`);
    try {
      // As installed, the bundle in dist/ runs when it is up to date with the sources.
      for (const fromSource of [true, false]) {
        rmSync(log, { force: true });
        const r = fitspec(['review', c0, '--path', 'exp'], { FITSPEC_IMPORT_LOG: log, ...(fromSource ? { FITSPEC_FROM_SOURCE: '1' } : {}) }, [
          '--import',
          fixture('record-imports.mjs'),
        ]);
        expect(r.stderr).toBe('');
        expect(r.stdout).toMatch(/^fitspec review: /);
        expect(r.code === 0 || r.code === 1).toBe(true);
        const loaded = readFileSync(log, 'utf8').split('\n');
        if (fromSource) expect(loaded.some((l) => l.includes('/src/config/review.ts'))).toBe(true);
        expect(loaded.some((l) => l.includes('/node_modules/ajv/'))).toBe(true);
        expect(loaded.filter((l) => l.includes('@tensorflow'))).toEqual([]);
      }
    } finally {
      rmSync(log, { force: true });
    }
  });
});

describe('fitspec review with an MLflow server', () => {
  let uri = '';
  beforeAll(async () => {
    uri = await mlflowServer();
  }, 900_000);

  it('shows the finished MLflow runs of each side, found by their fitspec.config_hash tag', async () => {
    const experiment = `review-${process.pid}`;
    write('exp/tracked.yaml', `extends: base.yaml\nname: tracked\ntracking: {experiment: ${experiment}}\n`);
    commit('tracked');
    const oldFull = /# hash: ([0-9a-f]{64})/.exec(fitspec(['resolve', 'exp/tracked.yaml']).stdout)![1]!;
    write('exp/tracked.yaml', `extends: base.yaml\nname: tracked\ntracking: {experiment: ${experiment}}\ntrain: {epochs: 7}\n`);
    // A finished run trained from the committed version, as the trainer tags and logs it.
    const client = mlflowClient(uri);
    const exp = await client.getOrCreateExperiment(experiment);
    const run = await client.createRun({
      experimentId: exp.experimentId,
      runName: 'tracked-old',
      startTime: Date.now() - 5000,
      tags: [
        { key: 'fitspec.config_hash', value: oldFull },
        { key: 'fitspec.wall_time_s', value: '4.5' },
      ],
    });
    const point = (key: string, step: number, value: number) => ({ key, value, step, timestamp: Date.now() });
    await client.logBatch(run.runId, {
      metrics: [
        point('val_accuracy', 0, 0.4),
        point('val_accuracy', 1, 0.55),
        point('val_loss', 0, 1.2),
        point('val_loss', 1, 1.3),
        point('accuracy', 0, 0.5),
        point('accuracy', 1, 0.7),
      ],
    });
    await client.updateRun(run.runId, 'FINISHED', Date.now());
    const r = fitspec(['review', 'HEAD', '--path', 'exp/tracked.yaml', '--format', 'markdown'], { MLFLOW_TRACKING_URI: uri });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('**1 experiment changes, 0 have results, 1 stale.**');
    expect(r.stdout).toMatch(
      /\| `exp\/tracked\.yaml` \| `[0-9a-f]{12}` → `[0-9a-f]{12}` \| 0\.5500 \(2\) → - \| 1\.2000 \(1\) → - \| 0\.7000 → - \| 2 → - \| 4\.5s → - \| stale \|/,
    );
    expect(r.stdout).toContain(`- tracked: base [${run.runId}](${uri}/#/experiments/${exp.experimentId}/runs/${run.runId}); head no run`);
  }, 120_000);
});
