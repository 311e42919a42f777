import { Type, type TObject, type TOptional, type TSchema } from '@sinclair/typebox';
import { Activation, Enum, Initializer, IntOrPair, Padding, Regularizer, layerCommon, strict } from './common.js';

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
    {
      ...strict,
      description: 'Depthwise 2-D convolution, one filter per input channel (Keras `DepthwiseConv2D`); with a 1x1 `conv2d` after it, the MobileNet building block.',
      examples: [{ kernelSize: 3, padding: 'same' }],
    },
  ),
  maxPooling2d: Type.Object(
    {
      poolSize: Type.Optional(IntOrPair('Pooling window.', 2)),
      strides: Type.Optional(IntOrPair('Stride; defaults to poolSize.')),
      padding: Type.Optional(Padding),
      ...layerCommon,
    },
    { ...strict, description: 'Max pooling (Keras `MaxPooling2D`).', examples: [{ poolSize: 2 }] },
  ),
  averagePooling2d: Type.Object(
    {
      poolSize: Type.Optional(IntOrPair('Pooling window.', 2)),
      strides: Type.Optional(IntOrPair('Stride; defaults to poolSize.')),
      padding: Type.Optional(Padding),
      ...layerCommon,
    },
    { ...strict, description: 'Average pooling (Keras `AveragePooling2D`).', examples: [{ poolSize: 2 }] },
  ),
  globalAveragePooling2d: Type.Object({ ...layerCommon }, { ...strict, description: 'Average over height and width (Keras `GlobalAveragePooling2D`).', examples: [{}] }),
  batchNormalization: Type.Object(
    {
      axis: Type.Optional(
        Type.Integer({
          description: 'Axis to normalize; -1 is the channel axis for channels-last images. Keras code that passes `axis=1` normalizes over image rows.',
          default: -1,
          examples: [-1],
        }),
      ),
      momentum: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'Momentum of the moving averages.', default: 0.99 })),
      epsilon: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Added to the variance to avoid dividing by zero.', default: 0.001 })),
      center: Type.Optional(Type.Boolean({ description: 'Learn an offset (beta).', default: true })),
      scale: Type.Optional(Type.Boolean({ description: 'Learn a scale (gamma).', default: true })),
      ...layerCommon,
    },
    { ...strict, description: 'Batch normalization (Keras `BatchNormalization`).', examples: [{ axis: -1 }] },
  ),
  dropout: Type.Object(
    {
      rate: Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'Fraction of the inputs to drop during training.', examples: [0.3] }),
      seed: Type.Optional(Type.Integer({ description: 'Seed of the dropout mask; defaults to one derived from the experiment `seed`.', examples: [7] })),
      ...layerCommon,
    },
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
  zeroPadding2d: Type.Object(
    {
      padding: Type.Optional(
        Type.Union(
          [
            Type.Integer({ minimum: 0 }),
            Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 })]),
            Type.Tuple([Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 })]), Type.Tuple([Type.Integer({ minimum: 0 }), Type.Integer({ minimum: 0 })])]),
          ],
          {
            description: 'Zeros added around the image: `n` on every side, `[rows, cols]` (top and bottom, left and right), or `[[top, bottom], [left, right]]`.',
            default: 1,
            examples: [
              1,
              [
                [0, 1],
                [0, 1],
              ],
            ],
          },
        ),
      ),
      ...layerCommon,
    },
    { ...strict, description: 'Pads the image with rows and columns of zeros (Keras `ZeroPadding2D`).', examples: [{ padding: 3 }] },
  ),
  separableConv2d: Type.Object(
    {
      filters: Type.Integer({ minimum: 1, description: 'Number of output channels.', examples: [64] }),
      kernelSize: IntOrPair('Height and width of the depthwise window.'),
      strides: Type.Optional(IntOrPair('Stride of the depthwise convolution.', 1)),
      padding: Type.Optional(Padding),
      depthMultiplier: Type.Optional(Type.Integer({ minimum: 1, description: 'Depthwise output channels per input channel.', default: 1 })),
      activation: Type.Optional(Activation()),
      useBias: Type.Optional(Type.Boolean({ description: 'Whether the layer adds a bias vector.', default: true })),
      depthwiseInitializer: Type.Optional(Initializer('glorotUniform', 'Initializer of the depthwise kernel.')),
      pointwiseInitializer: Type.Optional(Initializer('glorotUniform', 'Initializer of the 1x1 pointwise kernel.')),
      biasInitializer: Type.Optional(Initializer('zeros', 'Initializer of the bias.')),
      ...layerCommon,
    },
    {
      ...strict,
      description: 'Depthwise separable 2-D convolution: a depthwise convolution, then a 1x1 convolution to `filters` channels (Keras `SeparableConv2D`).',
      examples: [{ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }],
    },
  ),
  globalMaxPooling2d: Type.Object({ ...layerCommon }, { ...strict, description: 'Maximum over height and width (Keras `GlobalMaxPooling2D`).', examples: [{}] }),
  reshape: Type.Object(
    {
      targetShape: Type.Array(Type.Union([Type.Integer({ minimum: 1 }), Type.Literal(-1)]), {
        minItems: 1,
        description: 'Shape of one example after the layer (no batch axis); one entry may be -1, inferred from the others.',
        examples: [[1, 1, 64]],
      }),
      ...layerCommon,
    },
    { ...strict, description: 'Reshapes each example (Keras `Reshape`).', examples: [{ targetShape: [1, 1, 64] }] },
  ),
  layerNormalization: Type.Object(
    {
      axis: Type.Optional(
        Type.Union([Type.Integer(), Type.Array(Type.Integer(), { minItems: 1 })], {
          description: 'Axis or axes normalized over (and given their own gamma and beta); -1 is the last axis.',
          default: -1,
          examples: [-1],
        }),
      ),
      epsilon: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Added to the variance to avoid dividing by zero.', default: 0.001 })),
      center: Type.Optional(Type.Boolean({ description: 'Learn an offset (beta).', default: true })),
      scale: Type.Optional(Type.Boolean({ description: 'Learn a scale (gamma).', default: true })),
      ...layerCommon,
    },
    { ...strict, description: 'Normalizes each example over the given axes (Keras `LayerNormalization`).', examples: [{ epsilon: 0.001 }] },
  ),
  spatialDropout2d: Type.Object(
    {
      rate: Type.Number({ minimum: 0, exclusiveMaximum: 1, description: 'Fraction of the channels to drop during training (whole feature maps).', examples: [0.2] }),
      seed: Type.Optional(Type.Integer({ description: 'Seed of the dropout mask; defaults to one derived from the experiment `seed`.', examples: [7] })),
      ...layerCommon,
    },
    { ...strict, description: 'Drops whole feature maps (channels) during training (Keras `SpatialDropout2D`).', examples: [{ rate: 0.2 }] },
  ),
  rescaling: Type.Object(
    {
      scale: Type.Number({ description: 'Factor the input is multiplied by.', examples: [0.00392156862745098] }),
      offset: Type.Optional(Type.Number({ description: 'Added after scaling.', default: 0, examples: [-1] })),
      ...layerCommon,
    },
    {
      ...strict,
      description: 'Multiplies the input by `scale` and adds `offset` (Keras `Rescaling`), e.g. `scale: 0.00784313725490196, offset: -1` maps 0..255 to -1..1.',
      examples: [{ scale: 0.00392156862745098 }],
    },
  ),
  resizing: Type.Object(
    {
      height: Type.Integer({ minimum: 1, description: 'Output height.', examples: [224] }),
      width: Type.Integer({ minimum: 1, description: 'Output width.', examples: [224] }),
      interpolation: Type.Optional(Enum(['bilinear', 'nearest'] as const, { description: 'Interpolation (half-pixel centers, as Keras).', default: 'bilinear' })),
      cropToAspectRatio: Type.Optional(
        Type.Boolean({ description: 'Crop the largest centered window of the output aspect ratio before resizing, instead of distorting the image.', default: false }),
      ),
      ...layerCommon,
    },
    { ...strict, description: 'Resizes images to `height` x `width` (Keras `Resizing`).', examples: [{ height: 224, width: 224 }] },
  ),
  reLU: Type.Object(
    {
      maxValue: Type.Optional(Type.Number({ minimum: 0, description: 'Upper bound of the output; none when omitted. `6` is ReLU6 (MobileNetV2).', examples: [6] })),
      ...layerCommon,
    },
    { ...strict, description: 'Rectified linear unit, optionally capped (Keras `ReLU`).', examples: [{ maxValue: 6 }] },
  ),
} satisfies Record<string, TObject>;

export type LayerKind = keyof typeof layerSchemas;

const plainKinds = Object.fromEntries(Object.entries(layerSchemas).map(([k, s]) => [k, Type.Optional(s)])) as { [K in LayerKind]: TOptional<(typeof layerSchemas)[K]> };

/** One plain layer: a mapping with exactly one key, a layer kind. */
export const PlainLayerSpec = Type.Object(plainKinds, {
  ...strict,
  minProperties: 1,
  maxProperties: 1,
  description: 'One layer: a mapping with exactly one key, the layer kind (tfjs name), whose value holds its arguments.',
  examples: [{ conv2d: { filters: 32, kernelSize: 3, activation: 'relu' } }],
});

/** The block entries of a stack (src/config/blocks.ts turns them into a graph). */
export const BLOCK_KINDS = ['residual', 'parallel', 'block'] as const;
export const MERGES = ['add', 'concatenate', 'multiply'] as const;

const mergeName = (what: string) =>
  Type.Optional(
    Type.String({
      pattern: '^[A-Za-z][A-Za-z0-9_]*$',
      description: `Name of the ${what} layer; defaults to the Keras-style \`add\`, \`add_1\`, ...`,
      examples: ['conv2_block1_add'],
    }),
  );

/** A use of a named block of `blocks`, its parameters and how many times it repeats. */
export const BlockUse = Type.Object(
  {
    use: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_-]*$', description: 'Name of a block defined under `blocks`.', examples: ['bottleneck'] }),
    with: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }), Type.Unknown(), {
        description: "Values of the block's parameters; parameters left out take their `default`.",
        examples: [{ filters: 64 }],
      }),
    ),
    repeat: Type.Optional(
      Type.Union([Type.Integer({ minimum: 1 }), Type.Array(Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }), Type.Unknown()), { minItems: 1 })], {
        description:
          'Use the block this many times in a row; or a list with one mapping of parameter values per use, merged over `with` (typically distinct layer names). Inside the block, `${repetition}` counts the uses from 1.',
        default: 1,
        examples: [3, [{ id: 'block2' }, { id: 'block3' }]],
      }),
    ),
  },
  {
    ...strict,
    description: 'Uses a named, parameterized block defined under `blocks` (in place, as if its layers were written here).',
    examples: [{ use: 'bottleneck', with: { filters: 64 }, repeat: 3 }],
  },
);

/** The innermost entries of inline blocks: a layer, or a named block's use (through which blocks nest further). */
const LeafEntry = Type.Object(
  { ...plainKinds, block: Type.Optional(BlockUse) },
  {
    ...strict,
    minProperties: 1,
    maxProperties: 1,
    description: 'One entry inside a block: a layer (a mapping with one key, the layer kind) or `block`, a use of a named block (which may hold blocks of its own).',
    examples: [{ conv2d: { filters: 32, kernelSize: 3, activation: 'relu' } }],
  },
);

/** Entry schemas nest inline blocks `depth` levels deep (named blocks nest without limit). */
type EntrySchema = TObject<typeof plainKinds & { residual: TOptional<TObject>; parallel: TOptional<TObject>; block: TOptional<typeof BlockUse> }>;
function entrySchema(depth: number): EntrySchema {
  const inner: TSchema = depth > 1 ? entrySchema(depth - 1) : LeafEntry;
  const stack = (description: string, minItems = 1): TSchema =>
    Type.Array(inner, { minItems, description, examples: [[{ conv2d: { filters: 64, kernelSize: 3, padding: 'same' } }, { batchNormalization: {} }]] });
  return Type.Object(
    {
      ...plainKinds,
      residual: Type.Optional(
        Type.Object(
          {
            name: mergeName('`add`'),
            layers: stack('The residual branch: layers applied to the block input, in order.'),
            shortcut: Type.Optional(stack('The projection shortcut (for example a strided 1x1 `conv2d` and its `batchNormalization`); the identity when left out.')),
          },
          {
            ...strict,
            description: 'A residual block: `add` of its `layers` applied to the input and the shortcut (the input itself, or its `shortcut` layers).',
            examples: [{ layers: [{ conv2d: { filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' } }, { conv2d: { filters: 64, kernelSize: 3, padding: 'same' } }] }],
          },
        ),
      ),
      parallel: Type.Optional(
        Type.Object(
          {
            name: mergeName('merge'),
            merge: Type.Unsafe<(typeof MERGES)[number]>({
              type: 'string',
              enum: [...MERGES],
              description: "How the branches' outputs are combined (Keras `Add`, `Concatenate`, `Multiply`).",
              examples: ['concatenate'],
            }),
            axis: Type.Optional(Type.Integer({ description: 'Axis of `concatenate`.', default: -1 })),
            branches: Type.Array(stack('One branch: layers applied to the block input; `[]` passes the input through.', 0), {
              minItems: 2,
              description: 'The branches, each applied to the block input.',
              examples: [[[], [{ conv2d: { filters: 16, kernelSize: 1, activation: 'sigmoid' } }]]],
            }),
          },
          {
            ...strict,
            description: 'Parallel branches on the same input, merged by `add`, `concatenate` or `multiply` (squeeze-and-excitation: `multiply` of `[]` and the gate).',
            examples: [{ merge: 'concatenate', branches: [[{ conv2d: { filters: 16, kernelSize: 1 } }], [{ conv2d: { filters: 16, kernelSize: 3, padding: 'same' } }]] }],
          },
        ),
      ),
      block: Type.Optional(BlockUse),
    },
    {
      ...strict,
      minProperties: 1,
      maxProperties: 1,
      description: 'One entry of a layer stack: a layer (a mapping with one key, the layer kind) or a block (`residual`, `parallel`, or `block` using a named block).',
      examples: [{ conv2d: { filters: 32, kernelSize: 3, activation: 'relu' } }],
    },
  );
}

/** Inline blocks hold layers and named-block uses, one level deep (each level multiplies the published schema); named blocks nest without limit. */
export const INLINE_DEPTH = 1;

/** One entry of a layer stack: a layer, or a block (residual, parallel branches, a named block's use). */
export const LayerSpec = entrySchema(INLINE_DEPTH);

/** A named block: parameters and a layer list in which `${param}` stands for a parameter's value. */
export const BlockDef = Type.Object(
  {
    description: Type.Optional(Type.String({ description: 'What the block is.', examples: ['ResNet bottleneck'] })),
    params: Type.Optional(
      Type.Record(
        Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }),
        Type.Object(
          {
            default: Type.Optional(Type.Unknown({ description: 'Value when a use gives none; without it the parameter is required.', examples: [1] })),
            description: Type.Optional(Type.String({ description: 'What the parameter sets.', examples: ['Stride of the first convolution.'] })),
          },
          { ...strict, description: 'One parameter.', examples: [{ default: 1 }] },
        ),
        {
          description: "The block's parameters. In `layers`, a value written `${name}` is replaced by the parameter's value, and `${name}` inside a longer string by its text.",
          examples: [{ filters: {}, strides: { default: 1 } }],
        },
      ),
    ),
    layers: Type.Array(
      Type.Record(Type.String(), Type.Unknown(), {
        minProperties: 1,
        maxProperties: 1,
        description: 'A layer or block entry, as in `model.layers`, with `${param}` placeholders; checked after substitution, for every use.',
        examples: [{ conv2d: { filters: '${filters}', kernelSize: 3 } }],
      }),
      {
        minItems: 1,
        description: "The block's layers, in order.",
        examples: [[{ conv2d: { filters: '${filters}', kernelSize: 3, padding: 'same' } }, { batchNormalization: {} }]],
      },
    ),
  },
  {
    ...strict,
    description: 'A named, parameterized block, used in a stack with `- block: {use: NAME, with: {...}}`.',
    examples: [{ params: { filters: {} }, layers: [{ conv2d: { filters: '${filters}', kernelSize: 3, padding: 'same' } }] }],
  },
);

export const BlocksSchema = Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_-]*$' }), BlockDef, {
  description: 'Named, parameterized blocks, defined once and used in the stack with `- block: {use: NAME, with: {PARAM: VALUE}, repeat: N}`.',
  examples: [{ conv_bn: { params: { filters: {} }, layers: [{ conv2d: { filters: '${filters}', kernelSize: 3, padding: 'same', useBias: false } }, { batchNormalization: {} }] } }],
});
