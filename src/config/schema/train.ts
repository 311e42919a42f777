import { Type } from '@sinclair/typebox';
import { CallbackSpec } from './callbacks.js';
import { Enum, strict } from './common.js';

export const OPTIMIZERS = ['sgd', 'adam', 'rmsprop', 'adagrad', 'adadelta', 'adamax'] as const;

const optimizerArgs = {
  name: Enum(OPTIMIZERS, { description: 'Optimizer (tfjs / Keras name).', default: 'rmsprop' }),
  learningRate: Type.Number({ exclusiveMinimum: 0, description: 'Learning rate.', default: 0.001, examples: [0.0001] }),
  momentum: Type.Optional(Type.Number({ minimum: 0, description: '`sgd`, `rmsprop`: momentum.', examples: [0.9] })),
  nesterov: Type.Optional(Type.Boolean({ description: '`sgd`: use Nesterov momentum.', examples: [true] })),
  rho: Type.Optional(
    Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: '`rmsprop`, `adadelta`: decay of the moving average of squared gradients.', examples: [0.9] }),
  ),
  centered: Type.Optional(Type.Boolean({ description: '`rmsprop`: normalize by the variance of the gradient.', examples: [false] })),
  beta1: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: '`adam`, `adamax`: decay of the first moment.', examples: [0.9] })),
  beta2: Type.Optional(Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, description: '`adam`, `adamax`: decay of the second moment.', examples: [0.999] })),
  epsilon: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Small constant for numerical stability (`adam`, `adamax`, `rmsprop`, `adadelta`).', examples: [1e-7] })),
  initialAccumulatorValue: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: '`adagrad`: starting value of the accumulators.', examples: [0.1] })),
};

export const OptimizerSchema = Type.Object(optimizerArgs, {
  ...strict,
  description: 'Optimizer and its arguments, named as in tfjs / Keras.',
  default: {},
  examples: [{ name: 'rmsprop', learningRate: 0.0001 }],
});

/** No default at the object level: a phase without `optimizer` uses `train.optimizer`. */
const PhaseOptimizerSchema = Type.Object(optimizerArgs, {
  ...strict,
  description:
    'Optimizer of this phase, rebuilt at its start; when omitted, `train.optimizer`. When given, it is complete: `name` defaults to `rmsprop`, not to the name in `train.optimizer`.',
  examples: [{ name: 'rmsprop', learningRate: 0.00001 }],
});

export const PhaseSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, description: 'Name of the phase, shown in logs and summaries.', examples: ['finetune'] })),
    epochs: Type.Integer({ minimum: 1, description: 'Epochs in this phase; epoch numbers continue across phases.', examples: [10] }),
    optimizer: Type.Optional(PhaseOptimizerSchema),
    freeze: Type.Optional(Enum(['none', 'base'] as const, { description: '`base`: the pretrained base is not trained in this phase.', default: 'none' })),
    unfreezeFrom: Type.Optional(
      Type.String({ minLength: 1, description: 'Layer name from which the base is trainable again (Keras fine-tuning), e.g. `block5_conv1`.', examples: ['block5_conv1'] }),
    ),
    callbacks: Type.Optional(
      Type.Array(CallbackSpec, { description: 'Callbacks for this phase (replacing `train.callbacks`).', examples: [[{ earlyStopping: { patience: 3 } }]] }),
    ),
  },
  { ...strict, description: 'One training phase: the optimizer is rebuilt at its start.' },
);

export const TrainSchema = Type.Object(
  {
    epochs: Type.Integer({ minimum: 1, description: 'Number of epochs (ignored when `phases` is given).', default: 10, examples: [30] }),
    batchSize: Type.Integer({ minimum: 1, description: 'Images per training step.', default: 32 }),
    stepsPerEpoch: Type.Optional(
      Type.Integer({ minimum: 1, description: 'Training steps per epoch (Keras `steps_per_epoch`); defaults to one pass over the training split.', examples: [150] }),
    ),
    validationSteps: Type.Optional(Type.Integer({ minimum: 1, description: 'Validation batches per evaluation; defaults to the whole validation split.', examples: [75] })),
    shuffle: Type.Boolean({ description: 'Shuffle the training split every epoch (seeded).', default: true }),
    optimizer: OptimizerSchema,
    loss: Enum(['categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy', 'meanSquaredError'] as const, {
      description: 'Loss function (tfjs name).',
      default: 'categoricalCrossentropy',
    }),
    metrics: Type.Array(Enum(['accuracy'] as const, { description: 'Metric name.' }), {
      description: 'Metrics reported per epoch, with Keras names.',
      default: ['accuracy'],
      uniqueItems: true,
    }),
    callbacks: Type.Array(CallbackSpec, { description: 'Callbacks run during training.', default: [] }),
    classWeight: Type.Optional(
      Type.Union([Type.Literal('balanced'), Type.Record(Type.String(), Type.Number({ minimum: 0 }))], {
        description: 'Loss weight per class name, or `balanced` (inverse class frequency).',
        examples: ['balanced', { old: 2 }],
      }),
    ),
    phases: Type.Optional(
      Type.Array(PhaseSchema, {
        minItems: 1,
        description: 'Training in phases (e.g. frozen base, then fine-tuning). Replaces `epochs`.',
        examples: [
          [
            { name: 'frozen', epochs: 10, freeze: 'base' },
            { name: 'finetune', epochs: 10, unfreezeFrom: 'block5_conv1', optimizer: { name: 'rmsprop', learningRate: 0.00001 } },
          ],
        ],
      }),
    ),
    backend: Enum(['auto', 'tensorflow', 'tensorflow-gpu', 'cpu'] as const, {
      description: '`auto`: GPU if usable, else native TensorFlow, else the pure-JS `cpu` backend (very slow, with a warning).',
      default: 'auto',
    }),
    engine: Enum(['auto', 'graph', 'eager'] as const, {
      description:
        'How training steps run. `graph`: the whole step (forward, loss, gradients, optimizer update) as one compiled TensorFlow graph, one session run per batch; `eager`: tfjs op by op. `auto`: graph on the native CPU backend, eager elsewhere; anything the graph engine cannot run falls back to eager with a warning.',
      default: 'auto',
    }),
    threads: Type.Object(
      {
        intraOp: Type.Integer({ minimum: 0, description: 'Threads inside one op; 0 means one per core.', default: 0 }),
        interOp: Type.Integer({ minimum: 0, description: 'Ops run in parallel; 0 means one per core.', default: 0 }),
      },
      { ...strict, description: 'Native TensorFlow thread pools.', default: {} },
    ),
  },
  { ...strict, description: 'How the model is trained.', default: {} },
);
