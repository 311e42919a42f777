import type { Review, RunLinks } from '../config/review.js';
import { mlflowClient, trackingUri } from './connect.js';

/**
 * MLflow runs tagged with the config hash of each side of a review, in each experiment's MLflow
 * experiment. The tracking server is MLFLOW_TRACKING_URI, else the `tracking.uri` of the experiments;
 * without one there is nothing to look up. A server that cannot be reached is a note, not an error:
 * the review itself does not depend on it.
 */
export async function reviewRunLinks(review: Review, env: NodeJS.ProcessEnv = process.env): Promise<RunLinks | undefined> {
  const loaded = review.entries.flatMap((e) => [e.before, e.after]).filter((l) => l !== undefined);
  const uri = loaded.map((l) => trackingUri(l.experiment.tracking, env)).find(Boolean);
  if (!uri) return undefined;
  // A review should not wait through a training run's retries for a server that is down.
  const client = mlflowClient(uri, { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0', MLFLOW_HTTP_REQUEST_TIMEOUT: '20', ...env });
  const byHash = new Map<string, { name: string; url: string }[]>();
  const experimentIds = new Map<string, string | undefined>();
  try {
    for (const l of loaded) {
      if (byHash.has(l.hash)) continue;
      const name = l.experiment.tracking.experiment ?? l.experiment.name;
      if (!experimentIds.has(name)) experimentIds.set(name, (await client.getExperimentByName(name))?.experimentId);
      const id = experimentIds.get(name);
      if (!id) {
        byHash.set(l.hash, []);
        continue;
      }
      const { runs } = await client.searchRuns({ experimentIds: [id], filter: `tags.\`fitspec.config_hash\` = '${l.hash}'`, orderBy: ['attributes.start_time DESC'], maxResults: 5 });
      byHash.set(l.hash, runs.map((r) => ({ name: r.info.runName ?? r.info.runId, url: `${client.uri}/#/experiments/${id}/runs/${r.info.runId}` })));
    }
  } catch (e) {
    return { byHash: new Map(), note: `MLflow runs not listed: the tracking server ${client.uri} could not be reached (${(e as Error).message.split('\n')[0]}).` };
  }
  return { byHash };
}
