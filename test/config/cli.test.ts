import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadExperiment } from '../../src/config/index.js';
import { fixture, ROOT } from './helpers.js';

const BIN = path.join(ROOT, 'bin/fitspec.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'fitspec-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], opts: { cwd?: string; env?: Record<string, string>; nodeArgs?: string[] } = {}) {
  const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), BIN, ...args], { cwd: opts.cwd ?? ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...opts.env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('fitspec validate', () => {
  it('validates 20 files without ever loading TensorFlow', () => {
    const log = path.join(tmp, 'imports.log');
    const names = ['base.yaml', 'base-reformatted.yaml', 'inherits-same.yaml', 'composed.yaml', 'regularized.yaml', 'augmented.yaml', 'no-augment.yaml'];
    const files = Array.from({ length: 20 }, (_, i) => path.relative(ROOT, fixture(names[i % names.length])));
    // From the sources (module by module) and as installed (the bundle in dist/, when it is up to date).
    for (const fromSource of [true, false]) {
      rmSync(log, { force: true });
      const r = run(['validate', ...files], {
        env: { FITSPEC_IMPORT_LOG: log, ...(fromSource ? { FITSPEC_FROM_SOURCE: '1' } : {}) },
        nodeArgs: ['--import', fixture('record-imports.mjs')],
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(files.map((f) => `ok  ${f}`));
      const loaded = readFileSync(log, 'utf8').split('\n');
      // The recorder works: it saw ajv, and from the sources the config loader itself.
      if (fromSource) expect(loaded.some((l) => l.includes('/src/config/load.ts'))).toBe(true);
      expect(loaded.some((l) => l.includes('/node_modules/ajv/'))).toBe(true);
      expect(loaded.filter((l) => l.includes('@tensorflow'))).toEqual([]);
    }
  });

  it('reports every problem of every file with file:line:col and exits 2, without a stack trace', () => {
    const r = run(['validate', 'test/fixtures/config/base.yaml', 'test/fixtures/config/child-of-bad.yaml', 'test/fixtures/config/cycle-a.yaml']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('ok  test/fixtures/config/base.yaml\n');
    expect(r.stderr).toContain('test/fixtures/config/bad-parent.yaml:4:43: error [schema.unknown-key] unknown key `activaton`');
    expect(r.stderr).toContain('did you mean `activation`?');
    expect(r.stderr).toContain('test/fixtures/config/child-of-bad.yaml:4:11: error [schema.range] `train.epochs` must be an integer >= 1, got 0.');
    expect(r.stderr).toContain('[extends.cycle]');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('applies --set and shows warnings', () => {
    const r = run(['validate', 'test/fixtures/config/base.yaml', '--set', 'model.layers.0.conv2d.filters=2', '--set', 'train.batchSize=500']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning [check.batch-size] batch size 500 is larger than the training split (40 per class x 3 classes = 120 images)');
    const bad = run(['validate', 'test/fixtures/config/base.yaml', '--set', 'train.optimizer.lr=0.1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('the nearest valid path is `train.optimizer.learningRate`');
  });
});

describe('fitspec resolve', () => {
  it('prints the resolved YAML with the config hash', () => {
    const r = run(['resolve', 'test/fixtures/config/regularized.yaml']);
    expect(r.code).toBe(0);
    const loaded = loadExperiment(fixture('regularized.yaml'));
    expect(r.stdout).toContain(`# hash: ${loaded.hash}\n`);
    // Editors check the saved output against the strict schema of resolved configs.
    expect(r.stdout.split('\n')[0]).toBe('# yaml-language-server: $schema=schema/resolved.schema.json');
    expect(r.stdout.endsWith(loaded.resolvedYaml)).toBe(true);
    expect(r.stdout).toContain('# extends: test/fixtures/config/base.yaml -> test/fixtures/config/regularized.yaml');
  });

  it('--explain names the file and line, the --set or the default behind each value', () => {
    const r = run(['resolve', 'test/fixtures/config/regularized.yaml', '--explain', '--set', 'train.epochs=9']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('name: tiny-regularized # test/fixtures/config/regularized.yaml:2');
    expect(r.stdout).toContain('learningRate: 0.00005 # test/fixtures/config/regularized.yaml:15');
    expect(r.stdout).toContain('batchSize: 8 # test/fixtures/config/base.yaml:26');
    expect(r.stdout).toContain('epochs: 9 # --set train.epochs=9');
    expect(r.stdout).toContain('shuffle: true # default');
    expect(r.stdout).toMatch(/filters: 24 # test\/fixtures\/config\/regularized\.yaml:10\n/);
    expect(r.stdout).toMatch(/rate: 0.3 # test\/fixtures\/config\/regularized\.yaml:12\n/);
  });
});

describe('fitspec diff', () => {
  it('exits 0 for equal configs, 1 for different ones, 2 for errors', () => {
    expect(run(['diff', 'test/fixtures/config/base.yaml', 'test/fixtures/config/base-reformatted.yaml'])).toMatchObject({ code: 0, stdout: '' });
    const d = run(['diff', 'test/fixtures/config/base.yaml', 'test/fixtures/config/augmented.yaml', '--format', 'markdown']);
    expect(d.code).toBe(1);
    expect(d.stdout).toContain('| ~ | `train.epochs` | `3` | `5` |');
    expect(run(['diff', 'test/fixtures/config/base.yaml', 'test/fixtures/config/cycle-a.yaml']).code).toBe(2);
  });

  it('--git compares a file with its version (and its parents) at a revision', () => {
    const repo = path.join(tmp, 'repo');
    const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo, stdio: 'pipe' });
    execFileSync('mkdir', ['-p', path.join(repo, 'exp')]);
    git('init', '-q');
    copyFileSync(fixture('base.yaml'), path.join(repo, 'exp/base.yaml'));
    copyFileSync(fixture('regularized.yaml'), path.join(repo, 'exp/regularized.yaml'));
    git('add', '.');
    git('commit', '-q', '-m', 'first');
    writeFileSync(path.join(repo, 'exp/base.yaml'), readFileSync(fixture('base.yaml'), 'utf8').replace('epochs: 3', 'epochs: 4'));
    const r = run(['diff', 'exp/regularized.yaml', '--git', 'HEAD'], { cwd: repo });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('~ train.epochs: 3 -> 4\n');
    expect(r.code).toBe(1);
    expect(run(['diff', 'exp/regularized.yaml', '--git', 'no-such-rev'], { cwd: repo }).code).toBe(2);
  });
});

describe('fitspec schema', () => {
  it('prints the committed JSON Schema', () => {
    const r = run(['schema']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(path.join(ROOT, 'schema/experiment.schema.json'), 'utf8'));
  });

  it('--resolved prints the strict schema of resolved configs', () => {
    const r = run(['schema', '--resolved']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(path.join(ROOT, 'schema/resolved.schema.json'), 'utf8'));
    expect(JSON.parse(r.stdout).required).toEqual(expect.arrayContaining(['name', 'data', 'model', 'train', 'tracking']));
  });
});
