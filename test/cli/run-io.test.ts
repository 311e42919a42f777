import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, onlyRun, ROOT, synth, tinyExperiment, tmpDir } from '../train/helpers.js';

const dir = tmpDir('run-io');
const data = path.join(dir, 'data');
const csvData = path.join(dir, 'csv');
let run = '';
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

beforeAll(() => {
  synth(data, 12);
  const r = cli(['data', 'synth', '--out', csvData, '--per-class', '4', '--layout', 'csv', '--seed', '9'], ROOT);
  if (r.code !== 0) throw new Error(r.stderr);
  const t = cli(['train', tinyExperiment(dir, data), '--no-progress', '--max-epochs', '1'], dir);
  if (t.code !== 0) throw new Error(t.stderr);
  run = onlyRun(path.join(dir, 'runs'));
}, 300_000);

describe('fitspec --version', () => {
  it.each(['--version', '-V'])('%s prints the package version', (flag) => {
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version as string;
    const r = cli([flag], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`fitspec ${version}\n`);
  });
});

describe('fitspec predict', () => {
  const predicted = (args: string[]) => {
    const r = cli(['predict', run, ...args, '--json'], dir);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { file: string; class: string }[]).map((x) => x.file);
  };
  const oldImages = () =>
    fs
      .readdirSync(path.join(data, 'old'))
      .sort()
      .map((f) => path.join('data', 'old', f));

  it('takes a folder: every image inside, recursively, in order', () => {
    expect(predicted(['data/old'])).toEqual(oldImages());
    const all = predicted(['data']);
    expect(all).toHaveLength(36);
    expect(all.slice(12, 24)).toEqual(oldImages());
  });

  it('takes a quoted glob pattern, and files, folders and patterns together', () => {
    expect(predicted(['data/old/*.jpg'])).toEqual(oldImages().filter((f) => f.endsWith('.jpg')));
    expect(predicted(['data/*/1*.jpg']).every((f) => /^data\/(middle|old|young)\/1[^/]*\.jpg$/.test(f))).toBe(true);
    const one = oldImages()[0]!;
    expect(predicted([one, 'data/young'])).toEqual([
      one,
      ...fs
        .readdirSync(path.join(data, 'young'))
        .sort()
        .map((f) => path.join('data', 'young', f)),
    ]);
  });

  it.each([
    [['data/none.jpg'], /\[predict\.missing-image\] Image data\/none\.jpg does not exist/],
    [['data/*/*.tiff'], /\[predict\.no-images\] no image matches data\/\*\/\*\.tiff/],
    [['empty'], /\[predict\.no-images\] empty holds no images/],
  ])('%s: exit 2 with a clear message', (args, message) => {
    fs.mkdirSync(path.join(dir, 'empty'), { recursive: true });
    const r = cli(['predict', run, ...args], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('fitspec evaluate --data', () => {
  const evaluate = (args: string[]) => {
    const r = cli(['evaluate', run, '--json', ...args], dir);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { data: string; images: number; classes: string[]; matrix: number[][] };
  };

  it('takes class folders', () => {
    const rep = evaluate(['--data', data]);
    expect(rep.images).toBe(36);
    expect(rep.matrix.map((row) => row.reduce((a, b) => a + b, 0))).toEqual([12, 12, 12]);
  });

  it('takes a labels CSV with its images folder, or the CSV next to the images', () => {
    const rep = evaluate(['--data', path.join(csvData, 'train.csv'), '--images', path.join(csvData, 'Train')]);
    expect(rep.images).toBe(12);
    expect(rep.classes).toEqual(['middle', 'old', 'young']);
    expect(rep.matrix.map((row) => row.reduce((a, b) => a + b, 0))).toEqual([4, 4, 4]);
    fs.copyFileSync(path.join(csvData, 'train.csv'), path.join(csvData, 'Train', 'labels.csv'));
    expect(evaluate(['--data', path.join(csvData, 'Train', 'labels.csv')]).images).toBe(12);
  });

  it('a CSV label the run does not know: exit 2 naming the row', () => {
    const bad = path.join(csvData, 'bad.csv');
    const rows = fs.readFileSync(path.join(csvData, 'train.csv'), 'utf8').trimEnd().split('\n');
    rows[1] = rows[1]!.replace(/,[A-Z]+$/, ',ANCIENT');
    fs.writeFileSync(bad, rows.join('\n') + '\n');
    const r = cli(['evaluate', run, '--data', bad, '--images', path.join(csvData, 'Train')], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.csv:2: label "ANCIENT" .* is not one of the classes middle, old, young/);
  });
});

describe('the model folder describes itself', () => {
  it('model/fitspec-model.json: classes in output order, input shape and preprocessing of the run', () => {
    const d = JSON.parse(fs.readFileSync(path.join(run, 'model', 'fitspec-model.json'), 'utf8'));
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(d.format).toBe('fitspec-model');
    expect(d.classes).toEqual(summary.classes);
    expect(d.input.shape).toEqual([-1, 32, 32, 3]);
    expect(d.output.shape).toEqual([-1, 3]);
    expect(d.preprocessing).toEqual({ height: 32, width: 32, channels: 3, channelOrder: 'RGB', resize: 'stretch', interpolation: 'lanczos3', rescale: 1 / 255 });
    expect(d.configHash).toBe(summary.config_hash);
  });

  it('predict reads the model folder alone, and follows its preprocessing, not a config beside it', () => {
    const alone = path.join(dir, 'alone');
    fs.cpSync(path.join(run, 'model'), alone, { recursive: true });
    const images = ['data/old', 'data/young'];
    const probs = (ref: string) => (JSON.parse(cli(['predict', ref, ...images, '--json'], dir).stdout) as { probabilities: Record<string, number> }[]).map((r) => r.probabilities);
    const fromRun = probs(run);
    expect(probs(alone)).toEqual(fromRun);
    // Another resize kernel in the descriptor changes the pixels, so the answer must move.
    const file = path.join(alone, 'fitspec-model.json');
    const d = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...d, preprocessing: { ...d.preprocessing, interpolation: 'nearest' } }));
    const moved = probs(alone);
    const diff = Math.max(...moved.flatMap((p, i) => Object.keys(p).map((c) => Math.abs(p[c]! - fromRun[i]![c]!))));
    expect(diff).toBeGreaterThan(1e-6);
  });
});
