import { Type } from '@sinclair/typebox';
import { BlocksSchema, LayerSpec } from './layers.js';
import { strict } from './common.js';

export const BaseSchema = Type.Object(
  {
    architecture: Type.String({
      minLength: 1,
      description:
        'A built-in architecture name (`vgg16`, `mobilenet-mini`) or a path to an architecture YAML file (relative to the experiment file). Its layers are filled into `layers` when the config is resolved.',
      examples: ['vgg16'],
    }),
    layers: Type.Optional(
      Type.Array(LayerSpec, {
        minItems: 1,
        description: 'Layers of the base; filled from `architecture` when resolved. Give them here only to define a base inline.',
        examples: [[{ conv2d: { name: 'block1_conv1', filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' } }, { maxPooling2d: { name: 'block1_pool', poolSize: 2 } }]],
      }),
    ),
    blocks: Type.Optional(BlocksSchema),
    weights: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'Pretrained weights: a local tfjs model directory, or a `model.json` path or URL. Omit for random initialization.',
        examples: ['models/vgg16-notop'],
      }),
    ),
    trainable: Type.Boolean({ description: 'Whether the base is trained (use `train.phases` for freeze / unfreeze schedules).', default: false }),
  },
  { ...strict, description: 'A convolutional base placed before `layers` (transfer learning).', examples: [{ architecture: 'vgg16', weights: 'models/vgg16-notop' }] },
);

export const ModelSchema = Type.Object(
  {
    base: Type.Optional(BaseSchema),
    blocks: Type.Optional(BlocksSchema),
    layers: Type.Array(LayerSpec, {
      minItems: 1,
      description:
        'Layer stack, in order; the input shape comes from `data.image`. In a file that `extends` another, a list replaces the inherited stack; to edit it instead, write `layers: {$patch: [...]}` with edits `update: TARGET, with: {ARGS}`, `replace: TARGET, with: LAYER`, `insertBefore: TARGET, with: LAYER`, `insertAfter: TARGET, with: LAYER` and `remove: TARGET`, where TARGET is a layer name (its `name`, or the Keras-style default `conv2d`, `conv2d_1`, `max_pooling2d`, ...) or an index (negative counts from the end).',
      examples: [
        [{ conv2d: { filters: 32, kernelSize: 3, activation: 'relu' } }, { maxPooling2d: { poolSize: 2 } }, { flatten: {} }, { dense: { units: 3, activation: 'softmax' } }],
      ],
    }),
  },
  {
    ...strict,
    description: 'The network: an optional pretrained base and a layer stack.',
    examples: [{ layers: [{ flatten: {} }, { dense: { units: 3, activation: 'softmax' } }] }],
  },
);
