import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadExperiment } from '../../src/config/index.js';
import { applyTrainable, buildModel, summarize } from '../../src/model/index.js';
import { resolvePhases } from '../../src/train/trainer.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const exp = (name: string) => loadExperiment(path.join(ROOT, 'experiments', `${name}.yaml`)).experiment;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The notebook's models, counted as Keras counts them (figures from the notebook and Keras' VGG16). */
describe('notebook parameter counts', () => {
  const table = [
    { file: '01-baseline', total: 652_611, trainable: 652_611 },
    { file: '02-bn-dropout', total: 655_583, trainable: 654_097 },
    { file: '03-augmentation', total: 655_583, trainable: 654_097 },
    { file: '04-vgg16-frozen', total: 16_812_867, trainable: 2_098_179 },
  ];
  for (const row of table) {
    it(`${row.file}: ${row.total.toLocaleString('en-US')} total, ${row.trainable.toLocaleString('en-US')} trainable`, async () => {
      const built = await buildModel(exp(row.file), { loadWeights: false });
      const s = summarize(built);
      expect(s.total).toBe(row.total);
      expect(s.trainable).toBe(row.trainable);
      built.model.dispose();
    });
  }

  it('VGG16 base alone: 14,714,688; fine-tuning from block5_conv1: 9,177,603 trainable', async () => {
    const e = exp('05-vgg16-finetune');
    const built = await buildModel(e, { loadWeights: false });
    expect(built.base!.countParams()).toBe(14_714_688);
    const phases = resolvePhases(e);
    expect(phases.map((p) => p.name)).toEqual(['head', 'finetune']);
    const counts = phases.map((p) => {
      applyTrainable(built, p.freeze, p.unfreezeFrom);
      return summarize(built).trainable;
    });
    expect(counts).toEqual([2_098_179, 9_177_603]);
    built.model.dispose();
  });
});
