import type { MlflowClient } from '../track/mlflow/client.js';
import { historyFromPoints, type RunData } from './compare.js';

type Run = NonNullable<Awaited<ReturnType<MlflowClient['getRun']>>>;

/** Metrics the comparison reads from MLflow (Keras names; `acc` from older Keras autolog runs). */
export const MLFLOW_KEYS = ['loss', 'accuracy', 'acc', 'val_loss', 'val_accuracy', 'val_acc'];

/** An MLflow run as the comparison sees it: its per-epoch history read back from the server. Any MLflow run works, not only fitspec's. */
export async function mlflowRunData(client: MlflowClient, run: Run): Promise<RunData> {
  const keys = MLFLOW_KEYS.filter((k) => k in run.metrics);
  const points = (await Promise.all(keys.map((k) => client.getMetricHistory(run.info.runId, k)))).flat();
  const { startTime, endTime } = run.info;
  const fitspecId = run.tags['fitspec.run_id'];
  const runName = run.info.runName ?? run.info.runId;
  return {
    id: fitspecId ?? run.info.runId,
    // fitspec names a run `<experiment>-<run id>` unless told otherwise; the id has its own column.
    name: fitspecId && runName.endsWith(`-${fitspecId}`) ? runName.slice(0, -fitspecId.length - 1) : runName,
    status: run.info.status,
    configHash: run.tags['fitspec.config_hash'],
    params: run.params,
    history: historyFromPoints(points),
    // fitspec records the training time of every session; MLflow's start and end would count the pauses of a resumed run.
    wallTimeS: run.tags['fitspec.wall_time_s']
      ? Number(run.tags['fitspec.wall_time_s'])
      : startTime !== undefined && endTime !== undefined && endTime > 0
        ? (endTime - startTime) / 1000
        : undefined,
  };
}
