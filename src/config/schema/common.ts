import { Type, type TSchema } from '@sinclair/typebox';

/** tfjs activation identifiers; a Keras snake_case spelling gets a hint with the tfjs name. */
export const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'softmax', 'softplus', 'softsign', 'tanh', 'swish', 'mish', 'gelu'] as const;
export const INITIALIZERS = [
  'glorotUniform',
  'glorotNormal',
  'heNormal',
  'heUniform',
  'leCunNormal',
  'leCunUniform',
  'zeros',
  'ones',
  'randomNormal',
  'randomUniform',
  'truncatedNormal',
  'varianceScaling',
  'orthogonal',
  'identity',
] as const;

export const strict = { additionalProperties: false } as const;

/** A plain JSON Schema `enum` (rather than a union of literals) so that a bad value yields one error, not one per literal. */
export function Enum<T extends readonly string[]>(values: T, opts: { description: string; default?: T[number]; title?: string; examples?: unknown[] }) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...opts }) as TSchema & { static: T[number] };
}

export const Activation = (def = 'linear', description = 'Activation function applied to the output (tfjs name).') =>
  Enum(ACTIVATIONS, { description, default: def as (typeof ACTIVATIONS)[number], examples: ['relu'] });

export const Initializer = (def: (typeof INITIALIZERS)[number], description: string) => Enum(INITIALIZERS, { description, default: def, examples: [def] });

export const Regularizer = Type.Object(
  {
    l1: Type.Optional(Type.Number({ minimum: 0, description: 'L1 factor.', default: 0, examples: [0.0001] })),
    l2: Type.Optional(Type.Number({ minimum: 0, description: 'L2 factor.', default: 0, examples: [0.0001] })),
  },
  { ...strict, description: 'Weight penalty added to the loss (Keras `l1_l2`).', examples: [{ l2: 0.0001 }] },
);

/** An integer or an [height, width] pair, as Keras accepts for kernel and pool sizes. */
export const IntOrPair = (description: string, def?: number) =>
  Type.Union([Type.Integer({ minimum: 1 }), Type.Tuple([Type.Integer({ minimum: 1 }), Type.Integer({ minimum: 1 })])], {
    description,
    ...(def !== undefined ? { default: def } : {}),
    examples: [3, [3, 3]],
  });

export const Padding = Enum(['valid', 'same'] as const, { description: 'Keras padding mode.', default: 'valid' });

/** Arguments every layer accepts. */
export const layerCommon = {
  name: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z][A-Za-z0-9_]*$',
      description: 'Layer name; used by `extends` patches and `unfreezeFrom`. Defaults to the Keras-style `<kind>_<n>`.',
      examples: ['block1_conv1'],
    }),
  ),
  trainable: Type.Optional(Type.Boolean({ description: 'Whether the layer weights are updated by training.', default: true })),
};
