import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, cliUntil, isPng, onlyRun, synth, tinyExperiment, tmpDir } from './helpers.js';

let dataDir: string;

beforeAll(() => {
  dataDir = path.join(tmpDir('data'), 'faces');
  synth(dataDir, 12);
});

describe('fitspec train', () => {
  it('trains on generated images and writes a complete run folder', () => {
    const dir = tmpDir('train');
    const file = tinyExperiment(dir, dataDir, 'augment:\n  rotation: 10\n  horizontalFlip: true\n');
    const r = cli(['train', file, '--no-progress'], dir);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/backend: tensorflow/i);
    const run = onlyRun(path.join(dir, 'runs'));
    expect(r.stdout).toContain(run);
    for (const f of [
      'config.yaml',
      'resolved.yaml',
      'metrics.csv',
      'metrics.jsonl',
      'model/model.json',
      'model/weights.bin',
      'model_summary.txt',
      'summary.json',
      'run.json',
      'split/train.txt',
      'split/validation.txt',
      'reports/validation_classification.json',
    ]) {
      expect(fs.existsSync(path.join(run, f)), f).toBe(true);
    }
    expect(isPng(path.join(run, 'plots/learning_curves.png'))).toBe(true);
    expect(isPng(path.join(run, 'plots/validation_confusion_matrix.png'))).toBe(true);
    expect(isPng(path.join(run, 'plots/augment_preview.png'))).toBe(true);
    const rows = parse(fs.readFileSync(path.join(run, 'metrics.csv')), { columns: true }) as Record<string, string>[];
    // Epochs count from 1 in every file, as the terminal prints them.
    expect(rows.map((x) => x.epoch)).toEqual(['1', '2']);
    expect(r.stdout).toMatch(/^epoch 2\/2: /m);
    for (const k of ['loss', 'accuracy', 'val_loss', 'val_accuracy']) expect(Number.isFinite(Number(rows[1]![k])), k).toBe(true);
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ status: 'FINISHED', epochs: 2, backend: 'tensorflow', classes: ['middle', 'old', 'young'] });
    const bestRow = rows.reduce((b, x) => (Number(x.val_accuracy) > Number(b.val_accuracy) ? x : b));
    expect(summary.best_val_accuracy_epoch).toBe(Number(bestRow.epoch));
    expect([1, 2]).toContain(summary.min_val_loss_epoch);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).status).toBe('FINISHED');
    expect(fs.readFileSync(path.join(run, 'split/train.txt'), 'utf8').trim().split('\n')).toHaveLength(24);
    expect(fs.readFileSync(path.join(run, 'config.yaml'), 'utf8')).toBe(fs.readFileSync(file, 'utf8'));

    // The trained model is usable.
    const img = path.join(dataDir, 'old', fs.readdirSync(path.join(dataDir, 'old'))[0]!);
    const p = cli(['predict', run, img, '--json'], dir);
    expect(p.code).toBe(0);
    const probs = JSON.parse(p.stdout)[0].probabilities as Record<string, number>;
    expect(Object.keys(probs)).toEqual(['middle', 'old', 'young']);
    expect(Object.values(probs).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    const ev = cli(['evaluate', run, '--json'], dir);
    expect(ev.code).toBe(0);
    expect(JSON.parse(ev.stdout).images).toBe(12);
  });

  it('continues an interrupted run (SIGTERM) with --resume: same run, epochs continue, no epoch twice', async () => {
    const dir = tmpDir('resume');
    const file = tinyExperiment(dir, dataDir);
    // Long enough that the signal always lands mid-run, however fast the machine.
    const EPOCHS = 60;
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('epochs: 2', `epochs: ${EPOCHS}`));
    const p = cliUntil(['train', file, '--no-progress'], dir, new RegExp(`epoch 2/${EPOCHS}:`));
    await p.matched;
    // SIGTERM rather than SIGINT: a shell running this suite in the background ignores SIGINT for its children.
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(130);
    const run = onlyRun(path.join(dir, 'runs'));
    expect(JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).status).toBe('KILLED');
    const done = JSON.parse(fs.readFileSync(path.join(run, 'checkpoint/state.json'), 'utf8')).epoch as number;
    expect(done).toBeGreaterThanOrEqual(1);
    const killed = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(killed.sessions).toHaveLength(1);

    const r = cli(['train', '--resume', run, '--no-progress'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`resuming at epoch ${done + 2}`));
    expect(onlyRun(path.join(dir, 'runs'))).toBe(run);
    const rows = parse(fs.readFileSync(path.join(run, 'metrics.csv')), { columns: true }) as Record<string, string>[];
    expect(rows.map((x) => x.epoch)).toEqual(Array.from({ length: EPOCHS }, (_, i) => String(i + 1)));
    const points = fs
      .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const lossSteps = points.filter((x) => x.key === 'loss').map((x) => x.step);
    expect(lossSteps).toEqual(Array.from({ length: EPOCHS }, (_, i) => i));
    expect(JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).status).toBe('FINISHED');
    // The wall time covers both sessions, not only the resumed one.
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    expect(summary.sessions).toHaveLength(2);
    expect(summary.sessions[0]).toEqual(killed.sessions[0]);
    expect(summary.sessions[1].start).toBeGreaterThanOrEqual(killed.sessions[0].end);
    expect(summary.wall_time_s).toBeCloseTo(summary.sessions[0].wall_time_s + summary.sessions[1].wall_time_s, 6);
    expect(summary.wall_time_s).toBeGreaterThan(summary.sessions[1].wall_time_s);
  });
});

describe('training phases', () => {
  it('switches phase: trainable counts change, the optimizer is rebuilt, epochs continue in one run', () => {
    const dir = tmpDir('phases');
    const file = tinyExperiment(dir, dataDir);
    const text = fs
      .readFileSync(file, 'utf8')
      .replace(
        /model:\n( {4}.*\n| {2}layers:\n)+/,
        'model:\n  base: {architecture: mobilenet-mini}\n  layers:\n    - globalAveragePooling2d: {}\n    - dense: {units: 3, activation: softmax}\n',
      )
      .replace(
        'train:\n',
        'train:\n  phases:\n    - {name: head, epochs: 1, freeze: base, optimizer: {name: adam, learningRate: 0.01}}\n    - {name: tune, epochs: 1, unfreezeFrom: conv_dw_7, optimizer: {name: sgd, learningRate: 0.001, momentum: 0.9}}\n',
      );
    fs.writeFileSync(file, text);
    const r = cli(['train', file, '--no-progress'], dir);
    expect(r.code, r.stderr).toBe(0);
    const run = onlyRun(path.join(dir, 'runs'));
    const summary = JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8'));
    const [head, tune] = summary.trainable_params_per_phase;
    expect(head.phase).toBe('head');
    expect(head.trainable).toBe(771); // only the Dense head: 256 * 3 + 3
    expect(tune.trainable).toBeGreaterThan(head.trainable);
    expect(tune.total).toBe(head.total);
    const rows = parse(fs.readFileSync(path.join(run, 'metrics.csv')), { columns: true }) as Record<string, string>[];
    expect(rows.map((x) => [x.epoch, Number(x.lr)])).toEqual([
      ['1', 0.01],
      ['2', 0.001],
    ]);
  });
});

describe('bad input to train', () => {
  it('a missing data folder: one clear message, exit 2, no stack trace', () => {
    const dir = tmpDir('bad');
    const file = tinyExperiment(dir, path.join(dir, 'nowhere'));
    const r = cli(['train', file, '--no-progress'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nowhere.*does not exist/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a missing experiment file: exit 2', () => {
    const dir = tmpDir('bad');
    const r = cli(['train', path.join(dir, 'nope.yaml')], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.yaml/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an image that cannot be decoded stops before training and names the file', () => {
    const dir = tmpDir('bad');
    const data = path.join(dir, 'faces');
    fs.cpSync(dataDir, data, { recursive: true });
    const broken = path.join(data, 'young', 'broken.jpg');
    fs.writeFileSync(broken, 'not a jpeg at all');
    const file = tinyExperiment(dir, data);
    const r = cli(['train', file, '--no-progress'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('broken.jpg');
    expect(fs.existsSync(path.join(dir, 'runs'))).toBe(false);
  });

  it('a failure in the augmentation preview, after tracking started, leaves a folder that says FAILED', () => {
    const dir = tmpDir('bad');
    const data = path.join(dir, 'faces');
    fs.cpSync(dataDir, data, { recursive: true });
    // Sorted first, so the preview picks it; skipped by the data step, so training would start.
    fs.writeFileSync(path.join(data, 'middle', '000-broken.jpg'), 'not a jpeg at all');
    const file = tinyExperiment(dir, data, 'augment:\n  horizontalFlip: true\n');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('  split: {train: 8, validation: 4}\n', '  split: {train: 8, validation: 4}\n  onError: skip\n'));
    const r = cli(['train', file, '--no-progress'], dir);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('000-broken.jpg');
    const run = onlyRun(path.join(dir, 'runs'));
    const rec = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    expect(rec.status).toBe('FAILED');
    expect(rec.error).toContain('000-broken.jpg');
    expect(JSON.parse(fs.readFileSync(path.join(run, 'summary.json'), 'utf8')).status).toBe('FAILED');
  });

  it('a failure after the run started leaves a folder that says FAILED', () => {
    const dir = tmpDir('bad');
    const file = tinyExperiment(dir, dataDir, '');
    const text = fs.readFileSync(file, 'utf8');
    const model = `model:\n  base: {architecture: mobilenet-mini, weights: ${path.join(dir, 'no-weights')}}\n  layers:\n    - flatten: {}\n    - dense: {units: 3, activation: softmax}\n`;
    fs.writeFileSync(file, text.replace(/model:\n( {4}.*\n| {2}layers:\n)+/, model));
    const r = cli(['train', file, '--no-progress'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no-weights/);
    const run = onlyRun(path.join(dir, 'runs'));
    const rec = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    expect(rec.status).toBe('FAILED');
    expect(fs.existsSync(path.join(run, 'model'))).toBe(false);
  });
  it('a run that died after checkpointing its last epoch ends on --resume with the trained weights, training nothing', () => {
    const dir = tmpDir('ended');
    const file = tinyExperiment(dir, dataDir);
    expect(cli(['train', file, '--no-progress'], dir).code).toBe(0);
    const run = onlyRun(path.join(dir, 'runs'));
    const image = path.join(dataDir, fs.readdirSync(dataDir)[0]!, fs.readdirSync(path.join(dataDir, fs.readdirSync(dataDir)[0]!))[0]!);
    const before = cli(['predict', run, image, '--json'], dir);
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'checkpoint/state.json'), 'utf8')).epoch).toBe(1);
    // The moment a kill leaves: the last checkpoint written, the run not yet ended, no final model.
    const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    fs.writeFileSync(path.join(run, 'run.json'), JSON.stringify({ ...record, status: 'RUNNING', end_time: undefined }));
    fs.rmSync(path.join(run, 'model'), { recursive: true });

    const r = cli(['train', '--resume', run, '--no-progress'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('every epoch was trained before (checkpoint at epoch 2): finishing the run');
    expect(r.stdout).not.toMatch(/epoch \d+\/2:/);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).status).toBe('FINISHED');
    const after = cli(['predict', run, image, '--json'], dir);
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout)[0].probabilities).toEqual(JSON.parse(before.stdout)[0].probabilities);
  });
});
