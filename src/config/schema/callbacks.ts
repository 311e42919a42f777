import { Type, type TObject, type TOptional } from '@sinclair/typebox';
import { Enum, strict } from './common.js';

const Monitor = (def: string) =>
  Type.String({ description: 'Metric to watch, by its Keras name (`val_loss`, `val_accuracy`, `loss`, `accuracy`).', default: def, examples: ['val_loss'] });
const Mode = Enum(['auto', 'min', 'max'] as const, {
  description: 'Whether the monitored value should go down (`min`) or up (`max`); `auto` infers it from the name.',
  default: 'auto',
});

/**
 * Callbacks with Keras semantics. Like layers, each entry is a mapping with one key, the callback kind.
 * Adding a callback: one entry here, one file in src/train/callbacks/, one row in its test table.
 */
export const callbackSchemas = {
  earlyStopping: Type.Object(
    {
      monitor: Monitor('val_loss'),
      minDelta: Type.Number({ minimum: 0, description: 'Smallest change that counts as an improvement.', default: 0 }),
      patience: Type.Integer({ minimum: 0, description: 'Epochs without improvement before training stops.', default: 0, examples: [5] }),
      mode: Mode,
      baseline: Type.Optional(Type.Number({ description: 'Training stops if the monitored value does not beat this.', examples: [0.5] })),
      restoreBestWeights: Type.Boolean({ description: 'Restore the weights of the best epoch when stopping.', default: false }),
      startFromEpoch: Type.Integer({ minimum: 0, description: 'Epochs to wait before starting to count.', default: 0 }),
    },
    { ...strict, description: 'Stop training when a monitored metric stops improving (Keras `EarlyStopping`).', examples: [{ monitor: 'val_loss', patience: 5 }] },
  ),
  modelCheckpoint: Type.Object(
    {
      monitor: Monitor('val_loss'),
      mode: Mode,
      saveBestOnly: Type.Boolean({ description: 'Keep only the best model (`best/`); otherwise also the last (`last/`).', default: true }),
      saveFreq: Type.Integer({ minimum: 1, description: 'Save every N epochs.', default: 1 }),
    },
    { ...strict, description: 'Save the model to the run folder during training (Keras `ModelCheckpoint`).', examples: [{ monitor: 'val_accuracy', mode: 'max' }] },
  ),
  reduceLROnPlateau: Type.Object(
    {
      monitor: Monitor('val_loss'),
      factor: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'Factor the learning rate is multiplied by.', default: 0.1 }),
      patience: Type.Integer({ minimum: 0, description: 'Epochs without improvement before reducing.', default: 10 }),
      mode: Mode,
      minDelta: Type.Number({ minimum: 0, description: 'Smallest change that counts as an improvement.', default: 0.0001 }),
      cooldown: Type.Integer({ minimum: 0, description: 'Epochs to wait after a reduction.', default: 0 }),
      minLr: Type.Number({ minimum: 0, description: 'Lower bound on the learning rate.', default: 0 }),
    },
    { ...strict, description: 'Reduce the learning rate when a metric has stopped improving (Keras `ReduceLROnPlateau`).', examples: [{ factor: 0.5, patience: 3 }] },
  ),
  learningRateSchedule: Type.Object(
    {
      type: Enum(['step', 'exponential', 'cosine'] as const, {
        description: '`step`: multiply by `factor` every `every` epochs; `exponential`: multiply by `factor` each epoch; `cosine`: cosine decay to `minLr` over `epochs`.',
        default: 'step',
      }),
      factor: Type.Number({ exclusiveMinimum: 0, description: 'Multiplier for `step` and `exponential`.', default: 0.5 }),
      every: Type.Integer({ minimum: 1, description: 'Epochs between steps (`step`).', default: 10 }),
      epochs: Type.Optional(Type.Integer({ minimum: 1, description: 'Length of the cosine decay; defaults to the training epochs.', examples: [30] })),
      minLr: Type.Number({ minimum: 0, description: 'Lowest learning rate (`cosine`).', default: 0 }),
    },
    { ...strict, description: 'Set the learning rate at the start of every epoch (Keras `LearningRateScheduler`).', examples: [{ type: 'cosine' }] },
  ),
  csvLogger: Type.Object(
    {
      filename: Type.String({ minLength: 1, description: 'File name inside the run folder.', default: 'log.csv' }),
      append: Type.Boolean({ description: 'Append to an existing file.', default: false }),
    },
    { ...strict, description: 'Write per-epoch metrics to a CSV file (Keras `CSVLogger`); the run always has `metrics.csv` too.', examples: [{ filename: 'log.csv' }] },
  ),
  terminateOnNaN: Type.Object({}, { ...strict, description: 'Stop training when the loss becomes NaN (Keras `TerminateOnNaN`).', examples: [{}] }),
} satisfies Record<string, TObject>;

export type CallbackKind = keyof typeof callbackSchemas;

export const CallbackSpec = Type.Object(
  Object.fromEntries(Object.entries(callbackSchemas).map(([k, s]) => [k, Type.Optional(s)])) as { [K in CallbackKind]: TOptional<(typeof callbackSchemas)[K]> },
  {
    ...strict,
    minProperties: 1,
    maxProperties: 1,
    description: 'One callback: a mapping with exactly one key, the callback kind.',
    examples: [{ earlyStopping: { patience: 5 } }],
  },
);
