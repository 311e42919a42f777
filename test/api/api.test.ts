// The library functions from the sources: an object validated like a file, and a run observed, stopped from
// a callback, aborted and resumed through train()'s options.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FitspecError, loadExperiment, train, validateExperiment, type ExperimentInput } from '../../src/index.js';
import { synth, tinyExperiment, tmpDir } from '../train/helpers.js';

const dir = tmpDir('api');
const data = path.join(dir, 'data');
let file = '';
beforeAll(() => {
  synth(data, 12);
  file = tinyExperiment(dir, data);
}, 300_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('validateExperiment', () => {
  it('gives an object the same result as the same experiment written as a file', () => {
    const fromFile = loadExperiment(file);
    const object: ExperimentInput = JSON.parse(JSON.stringify(fromFile.experiment));
    const fromObject = validateExperiment(object);
    expect(fromObject.hash).toBe(fromFile.hash);
    expect(fromObject.experiment).toEqual(fromFile.experiment);
  });

  it('fills defaults, follows extends from the given file name, and applies set', () => {
    const loaded = validateExperiment({ name: 'child', extends: 'tiny.yaml', train: { epochs: 5 } }, { file: path.join(dir, 'child.yaml'), set: ['train.batchSize=4'] });
    expect(loaded.experiment.train).toMatchObject({ epochs: 5, batchSize: 4, shuffle: true });
    expect(loaded.experiment.model.layers).toHaveLength(4);
    expect(loaded.chain.map((f) => path.basename(f))).toEqual(['tiny.yaml', 'child.yaml']);
  });

  it('throws a FitspecError with every problem at its path, and checks the classes in the data when asked', () => {
    const bad = { name: 'bad', extends: path.join(dir, 'tiny.yaml'), train: { epochs: 0, optimizer: { name: 'adamw' } } } as unknown as ExperimentInput;
    const e = (() => {
      try {
        validateExperiment(bad);
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(FitspecError);
    expect((e as FitspecError).problems.map((p) => [p.code, p.path])).toEqual([
      ['schema.range', 'train.epochs'],
      ['schema.enum', 'train.optimizer.name'],
    ]);
    const fourClasses = { name: 'four', extends: path.join(dir, 'tiny.yaml'), model: { layers: [{ flatten: {} }, { dense: { units: 4, activation: 'softmax' as const } }] } };
    expect(() => validateExperiment(fourClasses)).not.toThrow();
    expect(() => validateExperiment(fourClasses, { data: true })).toThrow(/3 classes|three classes|units/);
  });
});

describe('train', () => {
  it('calls onEpochEnd after each saved epoch; returning true ends the run there as FINISHED', async () => {
    const seen: [number, number | undefined][] = [];
    const r = await train(file, {
      set: ['train.epochs=3', 'name=stopped'],
      progress: false,
      log: () => {},
      callbacks: [{ onEpochEnd: (epoch, logs) => void seen.push([epoch, logs.val_loss]) }, { onEpochEnd: (epoch) => epoch === 1 }],
    });
    expect(seen.map(([e]) => e)).toEqual([0, 1]);
    expect(seen.every(([, v]) => Number.isFinite(v))).toBe(true);
    expect(r.status).toBe('FINISHED');
    expect(r.summary.epochs).toBe(2);
    expect(fs.existsSync(path.join(r.runDir, 'model', 'model.json'))).toBe(true);
  }, 180_000);

  it('stops cleanly on an AbortSignal (KILLED, checkpoint kept) and resumes to the end', async () => {
    const loaded = loadExperiment(file, { set: ['train.epochs=3', 'name=aborted'] });
    const stop = new AbortController();
    const lines: string[] = [];
    const first = await train(loaded, {
      progress: false,
      log: (l) => lines.push(l),
      signal: stop.signal,
      callbacks: { onEpochEnd: (epoch) => void (epoch === 0 && stop.abort()) },
    });
    expect(first.status).toBe('KILLED');
    expect(first.history.map((h) => h.epoch)).toEqual([0]);
    expect(lines.join('\n')).toMatch(/aborted: stopping after this step/);
    expect(JSON.parse(fs.readFileSync(path.join(first.runDir, 'run.json'), 'utf8')).status).toBe('KILLED');
    expect(fs.existsSync(path.join(first.runDir, 'model', 'model.json'))).toBe(false);

    const resumed = await train(loadExperiment(path.join(first.runDir, 'resolved.yaml')), { resume: first.runDir, progress: false, log: () => {} });
    expect(resumed.runId).toBe(first.runId);
    expect(resumed.status).toBe('FINISHED');
    expect(resumed.history.map((h) => h.epoch)).toEqual([0, 1, 2]);
  }, 180_000);
});
