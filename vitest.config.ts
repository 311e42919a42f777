import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native TensorFlow does not belong in worker threads; each test file gets its own process.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 900_000,
    globalSetup: ['test/setup/mlflow-server.ts'],
  },
});
