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
/** The experiment files a review lists, in order. */
const listed = (out: string) => [...out.matchAll(/^(changed|new|deleted|error) +(\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);

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
  write('exp/on-tiny.yaml', `name: on-tiny
data: {source: {type: directory, path: data/x}, classes: [a, b]}
model:
  base: {architecture: architectures/tiny.yaml}
  layers: [{flatten: {}}, {dense: {units: 2, activation: softmax}}]
`);
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
    // Each says how it changed, with the resolved diff and the hashes before and after.
    const grandchild = r.stdout.slice(r.stdout.indexOf('changed  exp/grandchild.yaml'));
    expect(grandchild).toMatch(/changed through: exp\/base\.yaml\n/);
    expect(grandchild).toMatch(/config hash: [0-9a-f]{12} -> [0-9a-f]{12}\n/);
    expect(grandchild).toContain('~ train.optimizer.learningRate: 0.0001 -> 0.001');
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
      expect(md.stdout).toMatch(/^### fitspec review: `HEAD` → `working tree`\n/);
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
    } finally {
      git('checkout', '-q', '--', 'exp/base.yaml');
    }
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
        const r = fitspec(['review', c0, '--path', 'exp'], { FITSPEC_IMPORT_LOG: log, ...(fromSource ? { FITSPEC_FROM_SOURCE: '1' } : {}) }, ['--import', fixture('record-imports.mjs')]);
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

  it('links the runs whose fitspec.config_hash matches each side', async () => {
    const experiment = `review-${process.pid}`;
    write('exp/tracked.yaml', `extends: base.yaml\nname: tracked\ntracking: {experiment: ${experiment}}\n`);
    const before = commit('tracked');
    write('exp/tracked.yaml', `extends: base.yaml\nname: tracked\ntracking: {experiment: ${experiment}}\ntrain: {epochs: 7}\n`);
    const hashes = (rev: string) => {
      const r = fitspec(['review', rev, '--path', 'exp/tracked.yaml', '--no-mlflow']);
      return [...r.stdout.matchAll(/config hash: ([0-9a-f]{12}) -> ([0-9a-f]{12})/g)][0].slice(1, 3);
    };
    const [oldShort] = hashes(before);
    // A run trained from the committed version: its full hash, as the trainer tags it.
    git('stash', '-q');
    const oldFull = /# hash: ([0-9a-f]{64})/.exec(fitspec(['resolve', 'exp/tracked.yaml']).stdout)![1];
    git('stash', 'pop', '-q');
    expect(oldFull.startsWith(oldShort)).toBe(true);
    const client = mlflowClient(uri);
    const exp = await client.getOrCreateExperiment(experiment);
    const run = await client.createRun({ experimentId: exp.experimentId, runName: 'tracked-old', startTime: Date.now(), tags: [{ key: 'fitspec.config_hash', value: oldFull }] });
    const r = fitspec(['review', 'HEAD', '--path', 'exp/tracked.yaml', '--format', 'markdown'], { MLFLOW_TRACKING_URI: uri });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`- MLflow runs with the base hash: [tracked-old](${uri}/#/experiments/${exp.experimentId}/runs/${run.runId})`);
    expect(r.stdout).toContain('- MLflow runs with the new hash: none');
  }, 120_000);
});
