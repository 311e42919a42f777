import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { flattenValue } from '../config/flatten.js';
import { readMetrics, readRun } from '../track/runs.js';
import { historyFromPoints, parseMetricsCsv, type RunData } from './compare.js';

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
  let params = record.params;
  const resolved = path.join(dir, 'resolved.yaml');
  if (Object.keys(params).length === 0 && fs.existsSync(resolved)) {
    params = Object.fromEntries(Object.entries(flattenValue(YAML.parse(fs.readFileSync(resolved, 'utf8')))).map(([k, v]) => [k, String(v)]));
  }
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

