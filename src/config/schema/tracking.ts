import { Type } from '@sinclair/typebox';
import { Enum, strict } from './common.js';

export const TrackingSchema = Type.Object(
  {
    uri: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'MLflow tracking server, e.g. http://127.0.0.1:5000. Overridden by MLFLOW_TRACKING_URI. Without one, runs are only stored in `runsDir`.',
        examples: ['http://127.0.0.1:5000'],
      }),
    ),
    experiment: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'MLflow experiment name; defaults to the experiment `name`.', examples: ['age-detection'] }),
    ),
    runName: Type.Optional(Type.String({ minLength: 1, description: 'Run name shown in MLflow; defaults to `<name>-<run id>`.', examples: ['baseline-lr1e-4'] })),
    tags: Type.Record(Type.String({ pattern: '^[/\\w.\\- ]{1,250}$' }), Type.String({ maxLength: 8000 }), { description: 'Extra tags set on the run.', default: {} }),
    runsDir: Type.String({ minLength: 1, description: 'Folder of the local run store.', default: 'runs' }),
    logModel: Enum(['auto', 'always', 'never'] as const, {
      description:
        'Write the trained model as an MLflow Model (`model/MLmodel`, keras flavor, from a Keras file made by the tensorflowjs converter) at the end of training. `auto`: when the run is tracked in MLflow (not for local-only runs, nor for the trials of a sweep, whose best one gets it from `fitspec register`); `always`: for local-only runs too; `never`: only the tfjs model. The conversion environment (scripts/models, about 3.5 GB) is installed on first need, once; a failed install or conversion leaves the run FINISHED with a warning.',
      default: 'auto',
      examples: ['always'],
    }),
    register: Type.Optional(
      Type.Object(
        {
          name: Type.String({
            minLength: 1,
            maxLength: 256,
            description: 'Registered model name: a finished run registers its model as a new version of it (once per run).',
            examples: ['age-detector'],
          }),
          alias: Type.Optional(Type.String({ pattern: '^[A-Za-z_][\\w-]{0,255}$', description: 'Alias moved to the new version, e.g. `champion`.', examples: ['champion'] })),
        },
        {
          ...strict,
          description: "Register the finished run's model in the MLflow model registry (as `fitspec register` does).",
          examples: [{ name: 'age-detector', alias: 'champion' }],
        },
      ),
    ),
  },
  { ...strict, description: 'Where the run is recorded.', default: {} },
);
