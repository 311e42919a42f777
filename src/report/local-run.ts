import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { flattenValue } from '../config/flatten.js';
import { loadExperimentText } from '../config/index.js';
import { readMetrics, readRun } from '../track/runs.js';
import { historyFromPoints, parseMetricsCsv, type RunData } from './compare.js';

/**
 * The run's resolved config with today's defaults filled in, flattened: a run trained before a
 * setting existed then compares equal to one that has its default. Older files that no longer
 * validate are flattened as written.
 */
function resolvedParams(dir: string): Record<string, string> | undefined {
  const resolved = path.join(dir, 'resolved.yaml');
  if (!fs.existsSync(resolved)) return undefined;
  const text = fs.readFileSync(resolved, 'utf8');
  let value: unknown;
  try {
    value = loadExperimentText(text, resolved).experiment;
  } catch {
    value = YAML.parse(text);
  }
  return Object.fromEntries(Object.entries(flattenValue(value)).map(([k, v]) => [k, String(v)]));
}

/** A local run folder as the comparison sees it. */
export async function loadLocalRun(dir: string): Promise<RunData & { dir: string; experiment: string }> {
  const { record } = readRun(dir);
  const csv = path.join(dir, 'metrics.csv');
  const history = fs.existsSync(csv) ? parseMetricsCsv(fs.readFileSync(csv, 'utf8')) : historyFromPoints(readMetrics(dir).filter((p) => !p.key.startsWith('test_')));
  let summary: { config_hash?: string; wall_time_s?: number } = {};
  try {
    summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
  } catch {
    /* a run still going or killed hard has no summary yet */
  }
  const params = resolvedParams(dir) ?? record.params;
  const wall = summary.wall_time_s ?? (record.endTime !== undefined ? (record.endTime - record.startTime) / 1000 : undefined);
  return {
    dir,
    experiment: record.experimentName,
    id: record.runId,
    name: record.runName && record.runName !== `${record.experimentName}-${record.runId}` ? record.runName : record.experimentName,
    status: record.status,
    configHash: summary.config_hash ?? record.tags['fitspec.config_hash'],
    params,
    history,
    wallTimeS: wall,
  };
}
