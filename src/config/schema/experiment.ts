import { Type, type Static } from '@sinclair/typebox';
import { strict } from './common.js';
import { AugmentSchema, DataSchema } from './data.js';
import { ModelSchema } from './model.js';
import { SweepSchema } from './sweep.js';
import { TrackingSchema } from './tracking.js';
import { TrainSchema } from './train.js';

export const SCHEMA_VERSION = 1;

/** The single source of truth for an experiment file; schema/experiment.schema.json is generated from it. */
export const ExperimentSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String({ description: 'Ignored: lets editors find the schema. Not part of the resolved config.', examples: ['../schema/experiment.schema.json'] })),
    schemaVersion: Type.Literal(SCHEMA_VERSION, {
      description: 'Version of the config format; older files are upgraded when read, newer ones are refused.',
      default: SCHEMA_VERSION,
      examples: [SCHEMA_VERSION],
    }),
    extends: Type.Optional(
      Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })], {
        description:
          'File(s) this experiment builds on, relative to this file (or absolute); merged in order, this file last. Mappings merge key by key, lists are replaced whole, `key: null` deletes an inherited key, and `layers: {$patch: [...]}` edits an inherited layer stack. Not part of the resolved config.',
        examples: ['01-baseline.yaml', ['base/data.yaml', '01-baseline.yaml']],
      }),
    ),
    plugins: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          'Layer plugin modules (TypeScript or JavaScript), relative to the file that names them: each adds one layer kind. Only the modules an experiment names are loaded; their source is part of the config hash. See docs/layers.md.',
        examples: [['./layers/scaled-residual.ts']],
      }),
    ),
    name: Type.String({
      pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$',
      maxLength: 100,
      description: 'Experiment name: the run folder `runs/<name>/` and the default MLflow experiment.',
      examples: ['baseline'],
    }),
    description: Type.String({
      description: 'What this experiment tries and what to look for; becomes the MLflow run description. Not part of the config hash.',
      default: '',
      examples: ['Baseline CNN from the notebook, no regularization.'],
    }),
    seed: Type.Integer({ minimum: 0, description: 'Seed for the split, shuffling, augmentation and weight initialization.', default: 42 }),
    data: DataSchema,
    augment: Type.Optional(AugmentSchema),
    model: ModelSchema,
    train: TrainSchema,
    tracking: TrackingSchema,
    sweep: Type.Optional(SweepSchema),
  },
  {
    ...strict,
    $id: 'https://fitspec.dev/schema/experiment.schema.json',
    title: 'fitspec experiment',
    description:
      'One machine-learning experiment file: data, augmentation, model, training and tracking. A file may be partial when it `extends` others. Start the file with `# yaml-language-server: $schema=../schema/experiment.schema.json` for completion and checks in editors.',
    examples: [{ name: 'baseline', model: { layers: [{ flatten: {} }, { dense: { units: 3, activation: 'softmax' } }] } }],
  },
);

/** A validated experiment with every default filled in. */
export type Experiment = Static<typeof ExperimentSchema>;
export type LayerSpecT = Experiment['model']['layers'][number];
export type Augment = NonNullable<Experiment['augment']>;
export type DataConfig = Experiment['data'];
export type TrainConfig = Experiment['train'];
export type OptimizerConfig = TrainConfig['optimizer'];
export type CallbackSpecT = TrainConfig['callbacks'][number];
export type TrackingConfig = Experiment['tracking'];
export type SweepConfig = NonNullable<Experiment['sweep']>;
