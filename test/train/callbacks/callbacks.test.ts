import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { callbackSchemas } from '../../../src/config/schema/callbacks.js';
import { FitspecError } from '../../../src/errors.js';
import { callbackKinds, createCallbacks, type CallbackSpecInput } from '../../../src/train/callbacks/index.js';
import { runScripted, series, type FakeRun, type ScriptedEpoch } from './harness.js';

interface Row {
  description: string;
  spec: CallbackSpecInput;
  metrics: ScriptedEpoch[];
  ctx?: { totalEpochs?: number; initialLearningRate?: number; firstEpoch?: number };
  expect: Partial<Pick<FakeRun, 'stoppedAt' | 'stoppedInBatch' | 'restored' | 'saves' | 'finalWeights'>> & {
    epochsRun?: number;
    lrDuring?: number[];
    message?: RegExp;
  };
}

async function check(row: Row): Promise<FakeRun> {
  const firstEpoch = row.ctx?.firstEpoch ?? 0;
  const lr = row.ctx?.initialLearningRate ?? 0.1;
  const callbacks = createCallbacks([row.spec], { totalEpochs: row.ctx?.totalEpochs ?? row.metrics.length, initialLearningRate: lr, firstEpoch });
  const tensors = tf.memory().numTensors;
  const run = await runScripted(callbacks, row.metrics, { lr, firstEpoch });
  expect(tf.memory().numTensors, 'tensors left behind').toBe(tensors);
  const e = row.expect;
  if ('stoppedAt' in e) expect(run.stoppedAt).toBe(e.stoppedAt);
  if (e.stoppedInBatch) expect(run.stoppedInBatch).toEqual(e.stoppedInBatch);
  if (e.epochsRun !== undefined) expect(run.epochs.length).toBe(e.epochsRun);
  if (e.restored) expect(run.restored).toEqual(e.restored);
  if (e.finalWeights) expect(run.finalWeights).toBe(e.finalWeights);
  if (e.saves) expect(run.saves).toEqual(e.saves);
  if (e.lrDuring) {
    expect(run.lrDuring).toHaveLength(e.lrDuring.length);
    e.lrDuring.forEach((v, i) => expect(run.lrDuring[i], `lr during epoch ${i}`).toBeCloseTo(v, 12));
  }
  if (e.message) expect(run.messages.join('\n')).toMatch(e.message);
  // Every snapshot a callback took is released exactly once.
  expect([...run.disposed].sort()).toEqual([...run.snapshots].sort());
  return run;
}

const earlyStoppingRows: Row[] = [
  {
    description: 'stops when val_loss has not improved for `patience` epochs',
    spec: { earlyStopping: { patience: 2 } },
    metrics: series('val_loss', [1, 0.9, 0.95, 0.96, 0.97]),
    expect: { stoppedAt: 3, epochsRun: 4, restored: [] },
  },
  {
    description: 'patience 0 stops at the first epoch without improvement',
    spec: { earlyStopping: {} },
    metrics: series('val_loss', [1, 1.1, 0.5]),
    expect: { stoppedAt: 1, epochsRun: 2 },
  },
  { description: 'a tie is not an improvement (min mode)', spec: { earlyStopping: { patience: 1 } }, metrics: series('val_loss', [1, 1, 1]), expect: { stoppedAt: 1 } },
  {
    description: 'mode auto watches val_accuracy upwards',
    spec: { earlyStopping: { monitor: 'val_accuracy' } },
    metrics: series('val_accuracy', [0.5, 0.6, 0.55, 0.9]),
    expect: { stoppedAt: 2, epochsRun: 3 },
  },
  {
    description: 'explicit mode max on a loss-named metric',
    spec: { earlyStopping: { monitor: 'val_loss', mode: 'max' } },
    metrics: series('val_loss', [1, 0.9]),
    expect: { stoppedAt: 1 },
  },
  {
    description: 'explicit mode min on val_accuracy',
    spec: { earlyStopping: { monitor: 'val_accuracy', mode: 'min' } },
    metrics: series('val_accuracy', [0.5, 0.6]),
    expect: { stoppedAt: 1 },
  },
  {
    description: 'changes smaller than minDelta do not count as improvement',
    spec: { earlyStopping: { patience: 2, minDelta: 0.01 } },
    metrics: series('val_loss', [1.0, 0.995, 0.992, 0.5]),
    expect: { stoppedAt: 2, epochsRun: 3 },
  },
  {
    description: 'minDelta is a magnitude in max mode too',
    spec: { earlyStopping: { monitor: 'val_accuracy', patience: 1, minDelta: 0.05 } },
    metrics: series('val_accuracy', [0.5, 0.53, 0.6, 0.62]),
    expect: { stoppedAt: 1 },
  },
  {
    description: 'without a baseline, improving epochs reset patience',
    spec: { earlyStopping: { patience: 2 } },
    metrics: series('val_loss', [0.9, 0.8, 0.85, 0.4]),
    expect: { stoppedAt: undefined, epochsRun: 4 },
  },
  {
    description: 'improvements that do not beat the baseline do not reset patience',
    spec: { earlyStopping: { patience: 2, baseline: 0.5 } },
    metrics: series('val_loss', [0.9, 0.8, 0.85, 0.4]),
    expect: { stoppedAt: 2, epochsRun: 3 },
  },
  {
    description: 'restoreBestWeights restores the best epoch when stopping',
    spec: { earlyStopping: { patience: 2, restoreBestWeights: true } },
    metrics: series('val_loss', [1, 0.5, 0.7, 0.8, 0.1]),
    expect: { stoppedAt: 3, restored: ['w@1'], finalWeights: 'w@1' },
  },
  {
    description: 'restoreBestWeights also restores when training ends without stopping (Keras 3)',
    spec: { earlyStopping: { patience: 5, restoreBestWeights: true } },
    metrics: series('val_loss', [1, 0.5, 0.7]),
    expect: { stoppedAt: undefined, restored: ['w@1'], finalWeights: 'w@1' },
  },
  {
    description: 'restoreBestWeights keeps the first epoch when nothing beats it',
    spec: { earlyStopping: { patience: 1, restoreBestWeights: true } },
    metrics: series('val_loss', [0.3, 0.5, 0.7]),
    expect: { stoppedAt: 1, restored: ['w@0'] },
  },
  {
    description: 'restoreBestWeights with a baseline never beaten restores the best epoch within patience',
    spec: { earlyStopping: { patience: 3, baseline: 0.1, restoreBestWeights: true } },
    metrics: series('val_loss', [0.9, 0.6, 0.7, 0.8, 0.2]),
    expect: { stoppedAt: 2, restored: ['w@1'] },
  },
  {
    description: 'no restore without restoreBestWeights',
    spec: { earlyStopping: { patience: 1 } },
    metrics: series('val_loss', [1, 0.5, 0.7]),
    expect: { stoppedAt: 2, restored: [], finalWeights: 'w@2' },
  },
  {
    description: 'startFromEpoch ignores the warm-up epochs',
    spec: { earlyStopping: { startFromEpoch: 2 } },
    metrics: series('val_loss', [1, 2, 3, 4, 5]),
    expect: { stoppedAt: 3, epochsRun: 4 },
  },
  {
    description: 'startFromEpoch compares with the global epoch (a later phase)',
    spec: { earlyStopping: { startFromEpoch: 2 } },
    ctx: { firstEpoch: 5 },
    metrics: series('val_loss', [1, 2, 3]),
    expect: { stoppedAt: 6 },
  },
  {
    description: 'a missing metric warns and never stops',
    spec: { earlyStopping: { monitor: 'val_auc' } },
    metrics: series('val_loss', [1, 2, 3]),
    expect: { stoppedAt: undefined, epochsRun: 3, message: /`val_auc`, which is not available; available metrics: val_loss/ },
  },
];

const reduceRows: Row[] = [
  {
    description: 'halves the rate after `patience` flat epochs, then waits again',
    spec: { reduceLROnPlateau: { factor: 0.5, patience: 2 } },
    metrics: series('val_loss', [1, 1, 1, 1, 1, 1]),
    expect: { lrDuring: [0.1, 0.1, 0.1, 0.05, 0.05, 0.025], message: /Epoch 3: reduceLROnPlateau reducing learning rate to 0.05/ },
  },
  {
    description: 'improvements (beyond minDelta) reset the wait',
    spec: { reduceLROnPlateau: { factor: 0.5, patience: 2 } },
    metrics: series('val_loss', [1, 1, 0.9, 0.9, 0.89995, 0.9]),
    expect: { lrDuring: [0.1, 0.1, 0.1, 0.1, 0.1, 0.05] },
  },
  {
    description: 'cooldown pauses counting after a reduction',
    spec: { reduceLROnPlateau: { factor: 0.5, patience: 2, cooldown: 2 } },
    metrics: series('val_loss', [1, 1, 1, 1, 1, 1, 1, 1]),
    expect: { lrDuring: [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025] },
  },
  {
    description: 'the rate never goes below minLr',
    spec: { reduceLROnPlateau: { factor: 0.1, patience: 1, minLr: 0.005 } },
    metrics: series('val_loss', [1, 1, 1, 1, 1]),
    expect: { lrDuring: [0.1, 0.1, 0.01, 0.005, 0.005] },
  },
  {
    description: 'mode auto watches val_accuracy upwards',
    spec: { reduceLROnPlateau: { monitor: 'val_accuracy', factor: 0.5, patience: 1 } },
    metrics: series('val_accuracy', [0.5, 0.6, 0.7, 0.65, 0.8]),
    expect: { lrDuring: [0.1, 0.1, 0.1, 0.1, 0.05] },
  },
  {
    description: 'a missing metric warns and leaves the rate alone',
    spec: { reduceLROnPlateau: { monitor: 'val_accuracy', patience: 0 } },
    metrics: series('val_loss', [1, 1, 1]),
    expect: { lrDuring: [0.1, 0.1, 0.1], message: /reduceLROnPlateau watches `val_accuracy`, which is not available/ },
  },
];

const c = Math.cos;
const scheduleRows: Row[] = [
  {
    description: 'step: multiply by factor every `every` epochs',
    spec: { learningRateSchedule: { type: 'step', factor: 0.5, every: 2 } },
    metrics: series('loss', [1, 1, 1, 1, 1]),
    expect: { lrDuring: [0.1, 0.1, 0.05, 0.05, 0.025] },
  },
  {
    description: 'exponential: multiply by factor every epoch',
    spec: { learningRateSchedule: { type: 'exponential', factor: 0.9 } },
    metrics: series('loss', [1, 1, 1, 1]),
    expect: { lrDuring: [0.1, 0.09, 0.081, 0.0729] },
  },
  {
    description: 'cosine: decays to minLr over the training epochs, then stays there',
    spec: { learningRateSchedule: { type: 'cosine', minLr: 0.01 } },
    ctx: { totalEpochs: 4 },
    metrics: series('loss', [1, 1, 1, 1, 1, 1]),
    expect: { lrDuring: [0.1, 0.01 + 0.09 * 0.5 * (1 + c(Math.PI / 4)), 0.055, 0.01 + 0.09 * 0.5 * (1 + c((3 * Math.PI) / 4)), 0.01, 0.01] },
  },
  {
    description: 'cosine: `epochs` overrides the length',
    spec: { learningRateSchedule: { type: 'cosine', epochs: 2 } },
    metrics: series('loss', [1, 1, 1]),
    expect: { lrDuring: [0.1, 0.05, 0] },
  },
  {
    description: 'schedules count from the first epoch of the phase',
    spec: { learningRateSchedule: { type: 'step', factor: 0.5, every: 1 } },
    ctx: { firstEpoch: 10, initialLearningRate: 0.2 },
    metrics: series('loss', [1, 1, 1]),
    expect: { lrDuring: [0.2, 0.1, 0.05] },
  },
];

const checkpointRows: Row[] = [
  {
    description: 'saveBestOnly saves best/ on every improvement',
    spec: { modelCheckpoint: {} },
    metrics: series('val_loss', [1, 0.8, 0.9, 0.7]),
    expect: { saves: ['best@0', 'best@1', 'best@3'], message: /Epoch 2: val_loss improved from 1\.00000 to 0\.80000, saving model to best\// },
  },
  {
    description: 'without saveBestOnly it also saves last/ every epoch',
    spec: { modelCheckpoint: { saveBestOnly: false } },
    metrics: series('val_loss', [1, 0.8, 0.9]),
    expect: { saves: ['best@0', 'last@0', 'best@1', 'last@1', 'last@2'] },
  },
  {
    description: 'mode auto keeps the highest val_accuracy',
    spec: { modelCheckpoint: { monitor: 'val_accuracy' } },
    metrics: series('val_accuracy', [0.5, 0.4, 0.6, 0.6]),
    expect: { saves: ['best@0', 'best@2'] },
  },
  {
    description: 'saveFreq only looks at every N-th epoch of the phase',
    spec: { modelCheckpoint: { saveFreq: 2, saveBestOnly: false } },
    ctx: { firstEpoch: 3 },
    metrics: series('val_loss', [0.5, 0.8, 0.4, 0.9]),
    expect: { saves: ['best@4', 'last@4', 'last@6'] },
  },
  {
    description: 'a missing metric warns and saves anyway, like Keras',
    spec: { modelCheckpoint: { monitor: 'val_auc' } },
    metrics: series('val_loss', [1, 2]),
    expect: { saves: ['best@0', 'best@1'], message: /only with `val_auc` available/ },
  },
];

const nanRows: Row[] = [
  {
    description: 'a NaN batch loss stops training after that batch',
    spec: { terminateOnNaN: {} },
    metrics: [
      { logs: { loss: 1 }, batches: [{ loss: 1.2 }, { loss: 0.9 }] },
      { logs: { loss: Number.NaN }, batches: [{ loss: 0.8 }, { loss: Number.NaN }, { loss: 0.7 }] },
      { logs: { loss: 0.5 }, batches: [{ loss: 0.5 }] },
    ],
    expect: { stoppedInBatch: { epoch: 1, step: 1 }, stoppedAt: 1, epochsRun: 2, message: /Batch 1: invalid loss \(NaN\)/ },
  },
  {
    description: 'an infinite batch loss stops training too',
    spec: { terminateOnNaN: {} },
    metrics: [{ logs: { loss: 1 }, batches: [{ loss: Number.POSITIVE_INFINITY }, { loss: 1 }] }, { logs: { loss: 1 } }],
    expect: { stoppedInBatch: { epoch: 0, step: 0 }, stoppedAt: 0, epochsRun: 1 },
  },
  {
    description: 'finite losses never stop',
    spec: { terminateOnNaN: {} },
    metrics: [
      { logs: { loss: 1 }, batches: [{ loss: 1e30 }, { accuracy: 0.5 }] },
      { logs: { loss: 1 }, batches: [{ loss: -2 }] },
    ],
    expect: { stoppedAt: undefined, epochsRun: 2 },
  },
];

describe.each([
  ['earlyStopping', earlyStoppingRows],
  ['reduceLROnPlateau', reduceRows],
  ['learningRateSchedule', scheduleRows],
  ['modelCheckpoint', checkpointRows],
  ['terminateOnNaN', nanRows],
])('%s', (_kind, rows) => {
  it.each(rows.map((r) => [r.description, r] as const))('%s', async (_d, row) => {
    await check(row);
  });
});

describe('earlyStopping state', () => {
  it('is reset by onTrainBegin, so a callback can be reused', async () => {
    const [cb] = createCallbacks([{ earlyStopping: { patience: 1 } }], { totalEpochs: 3, initialLearningRate: 0.1 });
    const first = await runScripted([cb!], series('val_loss', [0.1, 0.2, 0.3]));
    expect(first.stoppedAt).toBe(1);
    const second = await runScripted([cb!], series('val_loss', [1, 0.9, 0.8]));
    expect(second.stoppedAt).toBeUndefined();
  });
});

describe('csvLogger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fitspec-csv-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const make = (spec: CallbackSpecInput) => createCallbacks([spec], { totalEpochs: 2, initialLearningRate: 0.1 });

  it('writes epoch then the sorted metric names, NA for values missing later', async () => {
    await runScripted(make({ csvLogger: {} }), [{ logs: { val_loss: 0.5, loss: 0.7, accuracy: 0.25 } }, { logs: { loss: 0.6, accuracy: 0.5 } }], { runDir: dir });
    expect(readFileSync(join(dir, 'log.csv'), 'utf8')).toBe('epoch,accuracy,loss,lr,val_loss\n1,0.25,0.7,0.1,0.5\n2,0.5,0.6,0.1,NA\n');
  });

  it('never writes an `epoch` metric twice (it is the first column)', async () => {
    await runScripted(make({ csvLogger: { filename: 'rows.csv' } }), [{ logs: { epoch: 0, loss: 0.7 } }], { runDir: dir });
    expect(readFileSync(join(dir, 'rows.csv'), 'utf8')).toBe('epoch,loss,lr\n1,0.7,0.1\n');
  });

  it('overwrites by default and appends without a second header with append: true', async () => {
    const spec: CallbackSpecInput = { csvLogger: { filename: 'logs/phase.csv' } };
    await runScripted(make(spec), series('loss', [3]), { runDir: dir });
    await runScripted(make(spec), series('loss', [2]), { runDir: dir, firstEpoch: 1 });
    expect(readFileSync(join(dir, 'logs/phase.csv'), 'utf8')).toBe('epoch,loss,lr\n2,2,0.1\n');
    await runScripted(make({ csvLogger: { filename: 'logs/phase.csv', append: true } }), series('loss', [1]), { runDir: dir, firstEpoch: 2 });
    expect(readFileSync(join(dir, 'logs/phase.csv'), 'utf8')).toBe('epoch,loss,lr\n2,2,0.1\n3,1,0.1\n');
  });

  it('appending to an empty file writes the header', async () => {
    writeFileSync(join(dir, 'empty.csv'), '');
    await runScripted(make({ csvLogger: { filename: 'empty.csv', append: true } }), series('loss', [1]), { runDir: dir });
    expect(readFileSync(join(dir, 'empty.csv'), 'utf8')).toBe('epoch,loss,lr\n1,1,0.1\n');
  });

  it('refuses a file outside the run folder', async () => {
    const err = await runScripted(make({ csvLogger: { filename: '../escape.csv' } }), series('loss', [1]), { runDir: dir }).catch((e) => e);
    expect(err).toBeInstanceOf(FitspecError);
    expect((err as FitspecError).code).toBe('callbacks.csv-outside-run');
  });
});

describe('createCallbacks', () => {
  it('lists exactly the kinds the schema declares', () => {
    expect(callbackKinds.map((k) => k.kind).sort()).toEqual(Object.keys(callbackSchemas).sort());
  });

  it('keeps the listed order and fills schema defaults', () => {
    const cbs = createCallbacks([{ terminateOnNaN: {} }, { earlyStopping: {} }, { reduceLROnPlateau: { factor: 0.2 } }], { totalEpochs: 1, initialLearningRate: 1 });
    expect(cbs.map((c) => c.kind)).toEqual(['terminateOnNaN', 'earlyStopping', 'reduceLROnPlateau']);
    expect((cbs[1] as any).args).toMatchObject({ monitor: 'val_loss', patience: 0, minDelta: 0, mode: 'auto', restoreBestWeights: false, startFromEpoch: 0 });
    expect((cbs[2] as any).args).toMatchObject({ factor: 0.2, patience: 10, minDelta: 0.0001, cooldown: 0, minLr: 0 });
  });

  it('rejects an unknown kind and a mapping with two keys as user errors', () => {
    expect(() => createCallbacks([{ earlyStoping: {} } as any], { totalEpochs: 1, initialLearningRate: 1 })).toThrow(FitspecError);
    expect(() => createCallbacks([{ earlyStopping: {}, csvLogger: {} } as any], { totalEpochs: 1, initialLearningRate: 1 })).toThrow(/exactly one key/);
  });
});

describe('resume (getState / setState)', () => {
  const resumeRows: { description: string; spec: CallbackSpecInput; metrics: ScriptedEpoch[]; cut: number }[] = [
    {
      description: 'earlyStopping keeps its patience count and best value',
      spec: { earlyStopping: { patience: 3 } },
      metrics: series('val_loss', [1, 0.5, 0.6, 0.7, 0.8, 0.9]),
      cut: 3,
    },
    {
      description: 'reduceLROnPlateau keeps its wait and cooldown',
      spec: { reduceLROnPlateau: { factor: 0.5, patience: 2, cooldown: 2 } },
      metrics: series('val_loss', [1, 1, 1, 1, 1, 1, 1, 1]),
      cut: 4,
    },
    { description: 'modelCheckpoint keeps the best value', spec: { modelCheckpoint: {} }, metrics: series('val_loss', [0.5, 0.9, 0.8, 0.7, 0.4]), cut: 2 },
  ];
  it.each(resumeRows.map((r) => [r.description, r] as const))('%s', async (_d, row) => {
    const ctx = { totalEpochs: row.metrics.length, initialLearningRate: 0.1 };
    const whole = await runScripted(createCallbacks([row.spec], ctx), row.metrics);

    // The state goes through JSON, as in checkpoint/state.json, and back through the CallbackList.
    const before = await runScripted(createCallbacks([row.spec], ctx), row.metrics.slice(0, row.cut));
    const after = await runScripted(createCallbacks([row.spec], ctx), row.metrics.slice(row.cut), { firstEpoch: row.cut, lr: before.finalLr, state: before.state });

    expect(before.stoppedAt).toBeUndefined();
    expect(after.stoppedAt).toBe(whole.stoppedAt);
    expect([...before.lrDuring, ...after.lrDuring]).toEqual(whole.lrDuring);
    expect([...before.saves, ...after.saves]).toEqual(whole.saves);
  });

  it('a fresh callback without setState starts over (the comparison above is not vacuous)', async () => {
    const spec: CallbackSpecInput = { earlyStopping: { patience: 3 } };
    const fresh = await runScripted(createCallbacks([spec], { totalEpochs: 3, initialLearningRate: 0.1 }), series('val_loss', [0.7, 0.8, 0.9]), { firstEpoch: 3 });
    expect(fresh.stoppedAt).toBeUndefined();
  });

  it('csvLogger continues the same file with the same columns after a resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fitspec-csv-resume-'));
    try {
      const ctx = { totalEpochs: 2, initialLearningRate: 0.1 };
      const first = await runScripted(createCallbacks([{ csvLogger: {} }], ctx), [{ logs: { loss: 2, accuracy: 0.5 } }], { runDir: dir });
      await runScripted(createCallbacks([{ csvLogger: {} }], ctx), [{ logs: { loss: 1, accuracy: 0.75, extra: 3 } }], { runDir: dir, firstEpoch: 1, state: first.state });
      expect(readFileSync(join(dir, 'log.csv'), 'utf8')).toBe('epoch,accuracy,loss,lr\n1,0.5,2,0.1\n2,0.75,1,0.1\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
