import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { mlflowServer } from '../setup/mlflow.js';
import { startRedis, type TestRedis } from '../setup/redis.js';
import { synth, tinyExperiment, tmpDir } from '../train/helpers.js';

/** tiny.yaml (5 + 3 images per class, `epochs` epochs) and sweep.yaml extending it with `block` under `sweep:`. */
export function tinySweep(dir: string, dataDir: string, epochs: number, block: string): string {
  const base = tinyExperiment(dir, dataDir, '');
  fs.writeFileSync(base, fs.readFileSync(base, 'utf8').replace('split: {train: 8, validation: 4}', 'split: {train: 5, validation: 3}').replace('epochs: 2', `epochs: ${epochs}`));
  const file = path.join(dir, 'sweep.yaml');
  fs.writeFileSync(file, `extends: tiny.yaml\nsweep:\n${block}`);
  return file;
}

/** For a file of queue tests: a real redis-server and MLflow server, and 8 synthetic faces per class. */
export function queueServices(prefix: string): { redis: TestRedis; uri: string; dataDir: string } {
  const services = {} as { redis: TestRedis; uri: string; dataDir: string };
  beforeAll(async () => {
    services.redis = await startRedis();
    services.uri = await mlflowServer();
    services.dataDir = path.join(tmpDir(prefix), 'faces');
    synth(services.dataDir, 8);
  });
  afterAll(async () => {
    await services.redis?.stop();
  });
  return services;
}
