import { Type, type TObject, type TOptional } from '@sinclair/typebox';
import { Activation, Initializer, IntOrPair, Padding, Regularizer, layerCommon, strict } from './common.js';

/**
 * Arguments of each layer kind, named as in TensorFlow.js. A layer in the stack is a mapping with exactly
 * one key, the kind: `- conv2d: {filters: 32, kernelSize: 3, activation: relu}`.
 * Adding a layer kind: one entry here, one file in src/model/layers/, one row in the layer test table.
 */
export const layerSchemas = {
  conv2d: Type.Object(
    {
      filters: Type.Integer({ minimum: 1, description: 'Number of output channels.', examples: [32] }),
      kernelSize: IntOrPair('Height and width of the convolution window.'),
      strides: Type.Optional(IntOrPair('Stride of the convolution.', 1)),
      padding: Type.Optional(Padding),
      activation: Type.Optional(Activation()),
      useBias: Type.Optional(Type.Boolean({ description: 'Whether the layer adds a bias vector.', default: true })),
      kernelInitializer: Type.Optional(Initializer('glorotUniform', 'Initializer of the kernel weights.')),
      biasInitializer: Type.Optional(Initializer('zeros', 'Initializer of the bias.')),
      kernelRegularizer: Type.Optional(Regularizer),
      ...layerCommon,
    },
    { ...strict, description: '2-D convolution (Keras `Conv2D`).', examples: [{ filters: 32, kernelSize: 3, activation: 'relu' }] },
  ),
  depthwiseConv2d: Type.Object(
    {
      kernelSize: IntOrPair('Height and width of the depthwise window.'),
      strides: Type.Optional(IntOrPair('Stride of the convolution.', 1)),
      padding: Type.Optional(Padding),
      depthMultiplier: Type.Optional(Type.Integer({ minimum: 1, description: 'Output channels per input channel.', default: 1 })),
      activation: Type.Optional(Activation()),
      useBias: Type.Optional(Type.Boolean({ description: 'Whether the layer adds a bias vector.', default: true })),
      depthwiseInitializer: Type.Optional(Initializer('glorotUniform', 'Initializer of the depthwise kernel.')),
      ...layerCommon,
    },
    { ...strict, description: 'Depthwise 2-D convolution, one filter per input channel (Keras `DepthwiseConv2D`); with a 1x1 `conv2d` after it, the MobileNet building block.', examples: [{ kernelSize: 3, padding: 'same' }] },
  ),
  maxPooling2d: Type.Object(
    { poolSize: Type.Optional(IntOrPair('Pooling window.', 2)), strides: Type.Optional(IntOrPair('Stride; defaults to poolSize.')), padding: Type.Optional(Padding), ...layerCommon },
    { ...strict, description: 'Max pooling (Keras `MaxPooling2D`).', examples: [{ poolSize: 2 }] },
  ),
  averagePooling2d: Type.Object(
    { poolSize: Type.Optional(IntOrPair('Pooling window.', 2)), strides: Type.Optional(IntOrPair('Stride; defaults to poolSize.')), padding: Type.Optional(Padding), ...layerCommon },
    { ...strict, description: 'Average pooling (Keras `AveragePooling2D`).', examples: [{ poolSize: 2 }] },
  ),
  globalAveragePooling2d: Type.Object({ ...layerCommon }, { ...strict, description: 'Average over height and width (Keras `GlobalAveragePooling2D`).', examples: [{}] }),
  batchNormalization: Type.Object(
    {
      axis: Type.Optional(Type.Integer({ description: 'Axis to normalize; -1 is the channel axis for channels-last images. Keras code that passes `axis=1` normalizes over image rows.', default: -1, examples: [-1] })),
      momentum: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'Momentum of the moving averages.', default: 0.99 })),
      epsilon: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Added to the variance to avoid dividing by zero.', default: 0.001 })),
      center: Type.Optional(Type.Boolean({ description: 'Learn an offset (beta).', default: true })),
      scale: Type.Optional(Type.Boolean({ description: 'Learn a scale (gamma).', default: true })),
      ...layerCommon,
    },
    { ...strict, description: 'Batch normalization (Keras `BatchNormalization`).', examples: [{ axis: -1 }] },
  ),
  dropout: Type.Object(
    { rate: Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'Fraction of the inputs to drop during training.', examples: [0.3] }), seed: Type.Optional(Type.Integer({ description: 'Seed of the dropout mask; defaults to one derived from the experiment `seed`.', examples: [7] })), ...layerCommon },
    { ...strict, description: 'Dropout (Keras `Dropout`).', examples: [{ rate: 0.3 }] },
  ),
  flatten: Type.Object({ ...layerCommon }, { ...strict, description: 'Flattens the input to one dimension per example (Keras `Flatten`).', examples: [{}] }),
  dense: Type.Object(
    {
      units: Type.Integer({ minimum: 1, description: 'Number of output units.', examples: [512] }),
      activation: Type.Optional(Activation()),
      useBias: Type.Optional(Type.Boolean({ description: 'Whether the layer adds a bias vector.', default: true })),
      kernelInitializer: Type.Optional(Initializer('glorotUniform', 'Initializer of the kernel weights.')),
      biasInitializer: Type.Optional(Initializer('zeros', 'Initializer of the bias.')),
      kernelRegularizer: Type.Optional(Regularizer),
      ...layerCommon,
    },
    { ...strict, description: 'Fully connected layer (Keras `Dense`).', examples: [{ units: 3, activation: 'softmax' }] },
  ),
  activation: Type.Object(
    { activation: Activation('linear', 'Activation function to apply.'), ...layerCommon },
    { ...strict, description: 'Applies an activation function (Keras `Activation`).', examples: [{ activation: 'relu' }] },
  ),
} satisfies Record<string, TObject>;

export type LayerKind = keyof typeof layerSchemas;

/** One entry of a layer stack: a mapping with exactly one layer kind as its key. */
export const LayerSpec = Type.Object(
  Object.fromEntries(Object.entries(layerSchemas).map(([k, s]) => [k, Type.Optional(s)])) as { [K in LayerKind]: TOptional<(typeof layerSchemas)[K]> },
  {
    ...strict,
    minProperties: 1,
    maxProperties: 1,
    description: 'One layer: a mapping with exactly one key, the layer kind (tfjs name), whose value holds its arguments.',
    examples: [{ conv2d: { filters: 32, kernelSize: 3, activation: 'relu' } }],
  },
);

