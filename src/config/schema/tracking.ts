import { Type } from '@sinclair/typebox';
import { strict } from './common.js';

export const TrackingSchema = Type.Object(
  {
    uri: Type.Optional(Type.String({ minLength: 1, description: 'MLflow tracking server, e.g. http://127.0.0.1:5000. Overridden by MLFLOW_TRACKING_URI. Without one, runs are only stored in `runsDir`.', examples: ['http://127.0.0.1:5000'] })),
    experiment: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'MLflow experiment name; defaults to the experiment `name`.', examples: ['age-detection'] })),
    runName: Type.Optional(Type.String({ minLength: 1, description: 'Run name shown in MLflow; defaults to `<name>-<run id>`.', examples: ['baseline-lr1e-4'] })),
    tags: Type.Record(Type.String({ pattern: '^[/\\w.\\- ]{1,250}$' }), Type.String({ maxLength: 8000 }), { description: 'Extra tags set on the run.', default: {} }),
    runsDir: Type.String({ minLength: 1, description: 'Folder of the local run store.', default: 'runs' }),
  },
  { ...strict, description: 'Where the run is recorded.', default: {} },
);
