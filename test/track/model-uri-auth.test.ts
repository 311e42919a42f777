import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlflowAuthServer } from '../setup/mlflow.js';
import { cli, tmpDir } from '../train/helpers.js';

const dir = tmpDir('model-uri-auth');
let uri = '';
beforeAll(async () => {
  uri = (await mlflowAuthServer()).uri;
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('a model URI the server does not let us read', () => {
  it.each([
    ['no credentials', {}],
    ['wrong password', { MLFLOW_TRACKING_USERNAME: 'admin', MLFLOW_TRACKING_PASSWORD: 'not-the-password' }],
  ])('%s: one clear error, exit 2', (_what, creds) => {
    const r = cli(['predict', 'models:/age-detector@champion', 'photo.jpg'], dir, {
      MLFLOW_TRACKING_URI: uri,
      XDG_CACHE_HOME: dir,
      MLFLOW_TRACKING_USERNAME: '',
      MLFLOW_TRACKING_PASSWORD: '',
      MLFLOW_TRACKING_TOKEN: '',
      ...creds,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\[model\.unauthorized\] MLflow at http:\/\/127\.0\.0\.1:\d+ refused access to models:\/age-detector@champion \(HTTP 401\)/);
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => /error/.test(l)),
    ).toHaveLength(1);
  });
});
