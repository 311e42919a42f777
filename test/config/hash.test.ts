import { describe, expect, it } from 'vitest';
import { canonicalHash, canonicalJson, configHash, flattenConfig, loadExperiment, loadExperimentText, trainingConfig, UNHASHED_PATHS } from '../../src/config/index.js';
import { fixture, MINIMAL } from './helpers.js';

describe('canonical hash', () => {
  it('is equal across formatting variants and inheritance', () => {
    const hashes = ['base.yaml', 'base-reformatted.yaml', 'inherits-same.yaml', 'composed.yaml'].map((f) => loadExperiment(fixture(f)).hash);
    expect(new Set(hashes).size).toBe(1);
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
  });

  // --set overrides on a base with augmentation, callbacks and phases, so that every part is present.
  const changes = (set: string[]) => loadExperiment(fixture('augmented.yaml'), { set }).hash;
  const MUST_CHANGE: [string, string[]][] = [
    ['the seed', ['seed=43']],
    ['the data source', ['data.source.path=data/other']],
    ['the classes', ['data.classes=[a, b, c]']],
    ['the image size', ['data.image.height=40']],
    ['the rescale factor', ['data.image.rescale=1']],
    ['the split', ['data.split.train=0.5']],
    ['what happens to unreadable images', ['data.onError=skip']],
    ['an augmentation value', ['augment.rotation=30']],
    ['removing augmentation', ['augment=null']],
    ['a layer argument', ['model.layers.0.conv2d.kernelSize=[5, 5]']],
    ['a layer trainable flag', ['model.layers.0.conv2d.trainable=false']],
    ['the epochs', ['train.epochs=4']],
    ['the batch size', ['train.batchSize=4']],
    ['the optimizer', ['train.optimizer.name=adam']],
    ['the learning rate', ['train.optimizer.learningRate=0.01']],
    ['the loss', ['train.loss=meanSquaredError']],
    ['a callback that changes training', ['train.callbacks=[{earlyStopping: {patience: 2}}]']],
    ['phases', ['train.phases=[{epochs: 2}, {epochs: 1, optimizer: {learningRate: 0.00001}}]']],
  ];
  const MUST_NOT_CHANGE: [string, string[]][] = [
    ['the name', ['name=renamed']],
    ['the description', ['description=other words']],
    ['the MLflow run name', ['tracking.runName=my-run']],
    ['tags', ['tracking.tags={team: vision, note: x}']],
    ['the tracking server', ['tracking.uri=http://127.0.0.1:5999']],
    ['the MLflow experiment', ['tracking.experiment=elsewhere']],
    ['the runs folder', ['tracking.runsDir=/tmp/elsewhere']],
    ['thread pools', ['train.threads.intraOp=2', 'train.threads.interOp=1']],
    ['the backend', ['train.backend=cpu']],
    ['the training engine', ['train.engine=eager']],
    ['the image cache', ['data.cache=none']],
    ['a callback that only writes a CSV', ['train.callbacks=[{csvLogger: {filename: x.csv}}]']],
    ['a callback that only saves checkpoints', ['train.callbacks=[{modelCheckpoint: {monitor: val_accuracy, mode: max}}]']],
  ];
  for (const [what, set] of MUST_CHANGE) it(`changes with ${what}`, () => expect(changes(set)).not.toBe(changes([])));
  for (const [what, set] of MUST_NOT_CHANGE) it(`does not change with ${what}`, () => expect(changes(set)).toBe(changes([])));

  it('names what it leaves out, and engine too where a config has one', () => {
    const exp = loadExperiment(fixture('augmented.yaml')).experiment;
    const t = trainingConfig({ ...exp, train: { ...exp.train, engine: 'graph' } });
    expect(Object.keys(t)).not.toContain('tracking');
    expect(Object.keys(t)).not.toContain('name');
    expect(Object.keys(t.train as object)).not.toContain('engine');
    expect(Object.keys(t.train as object)).not.toContain('threads');
    expect(configHash({ ...exp, train: { ...exp.train, engine: 'graph' } })).toBe(configHash(exp));
    expect(UNHASHED_PATHS).toEqual(expect.arrayContaining(['name', 'description', 'tracking', 'train.threads', 'train.backend', 'train.engine']));
  });

  const equalTexts: [string, string, string][] = [
    ['number spellings', 'seed: 10', 'seed: 1.0e1'],
    ['exponent and decimal', 'train: {optimizer: {learningRate: 1e-4}}', 'train: {optimizer: {learningRate: 0.0001}}'],
    ['a default written out or not', 'train: {batchSize: 32}', 'train: {}'],
    ['quoted or plain strings', 'description: "hello"', "description: 'hello'"],
    ['block or flow style', 'tracking:\n  tags:\n    team: vision', 'tracking: {tags: {team: vision}}'],
    ['$schema is not part of the config', '$schema: ../schema/experiment.schema.json', 'seed: 42'],
  ];
  for (const [what, a, b] of equalTexts) {
    it(`ignores ${what}`, () => {
      const ha = loadExperimentText(`${MINIMAL}${a}\n`, fixture('inline.yaml')).hash;
      const hb = loadExperimentText(`${MINIMAL}${b}\n`, fixture('inline.yaml')).hash;
      expect(ha).toBe(hb);
    });
  }

  it('canonical JSON sorts keys and normalizes numbers', () => {
    expect(canonicalJson({ b: [1.0, -0, 1e-4], a: { d: true, c: null } })).toBe('{"a":{"c":null,"d":true},"b":[1,0,0.0001]}');
    expect(canonicalHash({ x: 1, y: 2 })).toBe(canonicalHash({ y: 2, x: 1 }));
    expect(canonicalHash({ x: 1 })).not.toBe(canonicalHash({ x: '1' }));
  });
});

describe('flattenConfig', () => {
  it('gives dotted leaves, lists of scalars as JSON, layers by index', () => {
    const flat = flattenConfig(loadExperiment(fixture('base.yaml')).experiment);
    expect(flat['train.optimizer.learningRate']).toBe(0.0001);
    expect(flat['model.layers.2.conv2d.filters']).toBe(16);
    expect(flat['data.classes']).toBe('["young","middle","old"]');
    expect(flat['model.layers.4.flatten.trainable']).toBe(true);
    expect(flat['tracking.tags']).toBe('{}');
    expect(Object.values(flat).every((v) => ['string', 'number', 'boolean'].includes(typeof v))).toBe(true);
  });
});
