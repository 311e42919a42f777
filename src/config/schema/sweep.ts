import { Type } from '@sinclair/typebox';
import { Enum, strict } from './common.js';

export const SWEEP_DISTRIBUTIONS = ['choice', 'uniform', 'logUniform', 'int', 'qUniform'] as const;

/**
 * One searched parameter. A single flat object (not a union per distribution) so a mistake yields one
 * clear message; which fields a distribution needs is checked when the trials are built.
 */
export const SweepParameterSchema = Type.Object(
  {
    values: Type.Optional(
      Type.Array(Type.Unknown(), {
        description: 'The values to try (grid), or to draw from (random, `choice`). Any value `--set` accepts at this path, `null` deletes the key.',
        examples: [[0.001, 0.0003]],
      }),
    ),
    labels: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 100 }), {
        description: 'Short names for `values`, one each, shown in tables, tags and MLflow instead of long values such as whole layer stacks.',
        examples: [['baseline', 'batchnorm']],
      }),
    ),
    distribution: Type.Optional(
      Enum(SWEEP_DISTRIBUTIONS, {
        description:
          'Random search: how values are drawn. `choice` picks from `values`; `uniform`, `logUniform` (log scale, min > 0), `int` (integers, both ends included) and `qUniform` (multiples of `q`) draw between `min` and `max`. Defaults to `choice` when `values` is given.',
        examples: ['logUniform'],
      }),
    ),
    min: Type.Optional(Type.Number({ description: 'Lower end of the range (random search).', examples: [0.00001] })),
    max: Type.Optional(Type.Number({ description: 'Upper end of the range (random search).', examples: [0.01] })),
    q: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: '`qUniform`: values are rounded to a multiple of `q`.', examples: [8] })),
    when: Type.Optional(
      Type.Record(Type.String({ minLength: 1 }), Type.Array(Type.Unknown(), { minItems: 1 }), {
        minProperties: 1,
        description:
          "A conditional parameter: it is searched only in trials where each named parameter takes one of the listed values (or labels); elsewhere the path keeps the experiment's value.",
        examples: [{ 'model.layers': ['batchnorm-dropout'] }],
      }),
    ),
  },
  { ...strict, description: 'How one config path is searched.', examples: [{ values: [0.001, 0.0003] }, { distribution: 'logUniform', min: 0.00001, max: 0.01 }] },
);

export const EarlyStopSchema = Type.Object(
  {
    type: Enum(['medianStopping'] as const, {
      description:
        "`medianStopping`: at the end of an epoch, a trial whose best `metric` so far is worse than the median of the completed trials' values at that epoch is stopped (its run is FINISHED, tagged `fitspec.stopped_by`).",
      examples: ['medianStopping'],
    }),
    metric: Type.Optional(
      Type.String({ minLength: 1, description: 'The metric compared (Keras name); defaults to the sweep `metric`, better per the sweep `mode`.', examples: ['val_loss'] }),
    ),
    afterEpoch: Type.Integer({ minimum: 1, description: 'First epoch (counted from 1) at whose end a trial may be stopped.', default: 1, examples: [3] }),
    minTrials: Type.Integer({ minimum: 1, description: 'Completed trials with a value at that epoch needed before the rule applies.', default: 3, examples: [3] }),
  },
  { ...strict, description: 'Stops weak trials early to save their remaining epochs.', examples: [{ type: 'medianStopping', afterEpoch: 3, minTrials: 3 }] },
);

export const SchedulerSchema = Type.Object(
  {
    type: Enum(['asha', 'hyperband'] as const, {
      description:
        '`asha`: asynchronous successive halving; a trial trains to a rung (`minEpochs`, `minEpochs` x `reductionFactor`, ... up to `maxEpochs`), is paused there, and only the best 1/`reductionFactor` of each rung are promoted, by resuming their checkpoints. `hyperband`: several ASHA brackets with different `minEpochs`, trials shared between them.',
      examples: ['asha'],
    }),
    minEpochs: Type.Integer({ minimum: 1, description: 'Epochs of the first rung: every trial trains at least this many.', default: 1, examples: [1] }),
    maxEpochs: Type.Integer({ minimum: 1, description: 'Epochs of the last rung; it sets `train.epochs` of every trial (part of its config hash).', examples: [27] }),
    reductionFactor: Type.Integer({
      minimum: 2,
      description: 'Rungs are this many times longer than the previous one, and 1 in this many trials of a rung is promoted.',
      default: 3,
      examples: [3],
    }),
  },
  {
    ...strict,
    description: 'Spends epochs on the promising trials: trials are paused at rungs and promoted by resuming from their checkpoints.',
    examples: [{ type: 'asha', minEpochs: 1, maxEpochs: 27, reductionFactor: 3 }],
  },
);

export const SweepSchema = Type.Object(
  {
    name: Type.Optional(
      Type.String({
        pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
        maxLength: 100,
        description: 'Name of the sweep (`fitspec sweep status NAME`, the MLflow parent run); defaults to the experiment `name`.',
        examples: ['notebook-comparison'],
      }),
    ),
    method: Enum(['grid', 'random', 'tpe', 'cmaes'] as const, {
      description:
        "`grid`: every combination of the `values` lists. `random`: `count` trials drawn with `seed`. `tpe`: `count` trials, each drawn by Optuna's TPE sampler from the results so far (`cmaes`: Optuna's CMA-ES, numeric parameters only).",
      default: 'grid',
    }),
    metric: Type.String({ minLength: 1, description: 'The metric that ranks trials (Keras name, best epoch of each trial).', default: 'val_accuracy', examples: ['val_loss'] }),
    mode: Enum(['max', 'min'] as const, { description: 'Whether a larger or a smaller `metric` is better.', default: 'max' }),
    parameters: Type.Record(Type.String({ minLength: 1 }), SweepParameterSchema, {
      minProperties: 1,
      description: 'Searched config paths, written as for `--set` (layer stack entries by index, e.g. `model.layers.0.conv2d.filters`).',
      examples: [{ 'train.optimizer.learningRate': { values: [0.001, 0.0003] }, 'model.layers.0.conv2d.filters': { values: [8, 16] } }],
    }),
    count: Type.Optional(Type.Integer({ minimum: 1, description: 'Random, TPE and CMA-ES search: the number of trials.', examples: [20] })),
    seed: Type.Integer({ minimum: 0, description: 'Random, TPE and CMA-ES search: seed of the draws.', default: 0 }),
    parallel: Type.Integer({ minimum: 1, description: 'Trials trained at once on this machine by `fitspec sweep` (worker processes); `--parallel` overrides it.', default: 1 }),
    earlyStop: Type.Optional(EarlyStopSchema),
    scheduler: Type.Optional(SchedulerSchema),
    maxTrials: Type.Integer({ minimum: 1, description: 'A sweep with more trials is refused unless `--yes` is given: a guard against a grid growing by accident.', default: 64 }),
  },
  {
    ...strict,
    description: "A search over this experiment: each trial is the experiment with some paths set, trained as its own run (`fitspec sweep`). Not part of a trial's config hash.",
    examples: [{ method: 'grid', metric: 'val_accuracy', mode: 'max', parameters: { 'train.optimizer.learningRate': { values: [0.001, 0.0003] } } }],
  },
);
