import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadExperimentText } from '../../src/config/index.js';
import { discoverClasses } from '../../src/data/sources.js';
import { makeCsvDataset, makeDirectoryDataset, tempDir } from '../data/fixtures.js';
import { cli } from '../train/helpers.js';
import { problemsOf } from './helpers.js';

const tmp = tempDir('fitspec-checks-');
afterAll(() => tmp.cleanup());

const dir3 = path.join(tmp.dir, 'dir3');
const dir4 = path.join(tmp.dir, 'dir4');
const csv3 = path.join(tmp.dir, 'csv3');
const csvTypo = path.join(tmp.dir, 'csv-typo');

beforeAll(async () => {
  await makeDirectoryDataset(dir3, ['middle', 'old', 'young'], 4);
  cpSync(dir3, dir4, { recursive: true });
  await makeDirectoryDataset(dir4, ['extra'], 4);
  await makeCsvDataset(csv3, ['MIDDLE', 'OLD', 'YOUNG'], 4);
  cpSync(csv3, csvTypo, { recursive: true });
  // One mistyped label makes a fourth class when the classes are discovered.
  const rows = readFileSync(path.join(csvTypo, 'train.csv'), 'utf8').split('\n');
  rows[2] = rows[2]!.replace(/,MIDDLE$/, ',MIDDEL');
  writeFileSync(path.join(csvTypo, 'train.csv'), rows.join('\n'));
});

function experiment(source: string, opts: { units?: number; classes?: string; onError?: string; callbacks?: string; validation?: number } = {}): string {
  return `name: t
data:
  source: ${source}
${opts.classes ? `  classes: ${opts.classes}\n` : ''}  onError: ${opts.onError ?? 'fail'}
  image: {height: 16, width: 16}
  split: {train: 0.5, validation: ${opts.validation ?? 0.5}}
model:
  layers:
    - flatten: {}
    - dense: {units: ${opts.units ?? 3}, activation: softmax}
train:
  metrics: [accuracy]
${opts.callbacks ? `  callbacks:\n${opts.callbacks}` : ''}`;
}

const dirSource = (root: string) => `{type: directory, path: ${root}}`;
const csvSource = (root: string) => `{type: csv, images: ${root}/Train, labels: ${root}/train.csv}`;

describe('softmax units against the classes the data defines', () => {
  const cases: { description: string; source: () => string; opts?: Parameters<typeof experiment>[1]; error?: RegExp; hint?: RegExp }[] = [
    { description: 'class folders match the units', source: () => dirSource(dir3) },
    {
      description: 'one class folder more than the units',
      source: () => dirSource(dir4),
      error: /3 softmax units but the data has 4 classes: the class folders of .*dir4 \(extra, middle, old, young\)/,
      hint: /Set its `units` to 4, or list the 3 classes to train on in `data.classes`/,
    },
    { description: 'the same with onError: skip', source: () => dirSource(dir4), opts: { onError: 'skip' }, error: /3 softmax units but the data has 4 classes/ },
    { description: 'extra folder, but data.classes lists the 3 to train on', source: () => dirSource(dir4), opts: { classes: '[middle, old, young]' } },
    {
      description: 'more units than class folders',
      source: () => dirSource(dir3),
      opts: { units: 5 },
      error: /5 softmax units but the data has 3 classes/,
      hint: /Set its `units` to 3/,
    },
    { description: 'csv labels match the units', source: () => csvSource(csv3) },
    {
      description: 'a mistyped csv label is a fourth class',
      source: () => csvSource(csvTypo),
      error: /the distinct values of column Class in .*train\.csv \(MIDDEL: 1 row, MIDDLE: 3 rows, OLD: 4 rows, YOUNG: 4 rows\)/,
      hint: /rows with other labels then follow `data.onError`/,
    },
    { description: 'the same with onError: skip', source: () => csvSource(csvTypo), opts: { onError: 'skip' }, error: /4 classes/ },
    {
      description: 'a mistyped csv label with data.classes listed is left to onError',
      source: () => csvSource(csvTypo),
      opts: { classes: '[MIDDLE, OLD, YOUNG]', onError: 'skip' },
    },
  ];
  for (const c of cases) {
    it(c.description, () => {
      const text = experiment(c.source(), c.opts);
      const file = path.join(tmp.dir, 'exp.yaml');
      // Without the data nothing is known about the classes: the file alone is valid.
      expect(loadExperimentText(text, file).experiment.name).toBe('t');
      if (!c.error) {
        expect(loadExperimentText(text, file, { discoverClasses }).warnings).toEqual([]);
        return;
      }
      const problems = problemsOf(() => loadExperimentText(text, file, { discoverClasses }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatchObject({ code: 'check.softmax-units', file, line: 10, col: 22 });
      expect(problems[0]!.message).toMatch(c.error);
      if (c.hint) expect(problems[0]!.hint).toMatch(c.hint);
    });
  }

  it('reads the classes without decoding images', () => {
    const broken = path.join(tmp.dir, 'broken');
    mkdirSync(path.join(broken, 'a'), { recursive: true });
    mkdirSync(path.join(broken, 'b'), { recursive: true });
    writeFileSync(path.join(broken, 'a', 'x.png'), 'not an image');
    expect(discoverClasses({ source: { type: 'directory', path: broken } } as never)).toEqual({ classes: ['a', 'b'], from: `the class folders of ${broken}` });
  });
});

describe('callback monitor names against the metrics the run logs', () => {
  const cases: { monitor: string; validation?: number; code?: string; message?: RegExp }[] = [
    { monitor: 'val_loss' },
    { monitor: 'val_accuracy' },
    { monitor: 'loss' },
    { monitor: 'accuracy' },
    { monitor: 'lr' },
    { monitor: 'val_acc', code: 'check.monitor', message: /monitors `val_acc`, which this run never logs, so it would never act; did you mean `val_accuracy`\?/ },
    { monitor: 'acc', code: 'check.monitor', message: /did you mean `accuracy`\?/ },
    { monitor: 'val_los', code: 'check.monitor', message: /did you mean `val_loss`\?/ },
    { monitor: 'learning_rate', code: 'check.monitor', message: /did you mean `lr`\?/ },
    { monitor: 'f1_score', code: 'check.monitor', message: /never logs, so it would never act\.$/ },
    { monitor: 'val_accuracy', validation: 0, code: 'check.val-monitor', message: /`data.split.validation` is 0.*monitor `accuracy`/ },
  ];
  for (const c of cases) {
    it(`${c.monitor}${c.validation === 0 ? ' without a validation split' : ''}`, () => {
      const text = experiment(dirSource(dir3), {
        validation: c.validation,
        callbacks: `    - reduceLROnPlateau: {factor: 0.5}\n    - earlyStopping: {monitor: ${c.monitor}, patience: 2}\n`,
      });
      const file = path.join(tmp.dir, 'monitor.yaml');
      if (!c.code) {
        expect(loadExperimentText(text, file).warnings).toEqual([]);
        return;
      }
      const problems = problemsOf(() => loadExperimentText(text, file));
      expect(problems).toHaveLength(c.validation === 0 ? 2 : 1);
      const p = problems.find((x) => x.line === 15)!;
      expect(p).toMatchObject({ code: c.code, file, line: 15, col: 32 });
      expect(p.message).toMatch(c.message!);
    });
  }

  it('checks the callbacks of every phase', () => {
    const text = experiment(dirSource(dir3)) + `  phases:\n    - {epochs: 1}\n    - epochs: 1\n      callbacks:\n        - modelCheckpoint: {monitor: val_acc}\n`;
    const problems = problemsOf(() => loadExperimentText(text, path.join(tmp.dir, 'phases.yaml')));
    expect(problems.map((p) => [p.code, p.path, p.line])).toEqual([['check.monitor', 'train.phases.1.callbacks.0.modelCheckpoint.monitor', 17]]);
  });
});

describe('through the CLI', () => {
  it('validate --data reports the mismatch; train exits 2 before any run folder exists', () => {
    const file = path.join(tmp.dir, 'cli.yaml');
    writeFileSync(file, experiment(dirSource(dir4)) + `tracking:\n  runsDir: ${path.join(tmp.dir, 'runs')}\n`);
    expect(cli(['validate', file], tmp.dir).code).toBe(0);
    const v = cli(['validate', '--data', file], tmp.dir);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain(`${file}:10:22: error [check.softmax-units] the last \`dense\` layer has 3 softmax units but the data has 4 classes`);
    const t = cli(['train', file], tmp.dir);
    expect(t.code).toBe(2);
    expect(t.stderr).toContain('[check.softmax-units]');
    expect(t.stderr).not.toContain('internal error');
    expect(t.stdout).not.toContain('backend:');
    expect(() => readFileSync(path.join(tmp.dir, 'runs'))).toThrow(/ENOENT/);
  });
});
