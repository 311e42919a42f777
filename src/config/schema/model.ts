import { Type } from '@sinclair/typebox';
import { LayerSpec } from './layers.js';
import { strict } from './common.js';

export const BaseSchema = Type.Object(
  {
    architecture: Type.String({ minLength: 1, description: 'A built-in architecture name (`vgg16`, `mobilenet-mini`) or a path to an architecture YAML file (relative to the experiment file). Its layers are filled into `layers` when the config is resolved.', examples: ['vgg16'] }),
    layers: Type.Optional(Type.Array(LayerSpec, { minItems: 1, description: 'Layers of the base; filled from `architecture` when resolved. Give them here only to define a base inline.' })),
    weights: Type.Optional(Type.String({ minLength: 1, description: 'Pretrained weights: a local tfjs model directory, or a `model.json` path or URL. Omit for random initialization.', examples: ['models/vgg16-notop'] })),
    trainable: Type.Boolean({ description: 'Whether the base is trained (use `train.phases` for freeze / unfreeze schedules).', default: false }),
  },
  { ...strict, description: 'A convolutional base placed before `layers` (transfer learning).' },
);

export const ModelSchema = Type.Object(
  {
    base: Type.Optional(BaseSchema),
    layers: Type.Array(LayerSpec, { minItems: 1, description: 'Layer stack, in order. The input shape comes from `data.image`.' }),
  },
  { ...strict, description: 'The network.' },
);
