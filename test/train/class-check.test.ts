import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadExperiment } from '../../src/config/index.js';
import { isFitspecError } from '../../src/errors.js';
import { train } from '../../src/train/index.js';
import { synth, tinyExperiment, tmpDir } from './helpers.js';

describe('train() called directly', () => {
  it('stops with the softmax-units error, before any run folder, when the data has more classes than the model', async () => {
    const dir = tmpDir('class-check');
    const data = path.join(dir, 'faces');
    synth(data, 6);
    fs.cpSync(path.join(data, 'old'), path.join(data, 'older'), { recursive: true });
    const file = tinyExperiment(dir, data);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('split: {train: 8, validation: 4}', 'split: {train: 0.5, validation: 0.5}'));
    // Loaded without reading the data, as library callers (sweeps, the notebook) do.
    const loaded = loadExperiment(file);
    const err = await train(loaded, { log: () => {} }).catch((e) => e);
    expect(isFitspecError(err), String(err)).toBe(true);
    expect(err.problems[0]).toMatchObject({ code: 'check.softmax-units', file, path: 'model.layers.3.dense.units', expected: '4', received: '3' });
    expect(err.problems[0].message).toMatch(/3 softmax units but the data has 4 classes: the class folders of .*faces \(middle, old, older, young\)/);
    expect(fs.existsSync(path.join(dir, 'runs'))).toBe(false);
  });
});
