import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';

/** `YYYYMMDD-HHMMSS-xxxx`: sorts by time, unique enough for one machine. */
export function newRunId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `${stamp}-${crypto.randomBytes(2).toString('hex')}`;
}

export function writeText(runDir: string, rel: string, text: string): string {
  const file = path.join(runDir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return rel;
}

export function writeJson(runDir: string, rel: string, value: unknown): string {
  return writeText(runDir, rel, JSON.stringify(value, null, 2) + '\n');
}

export type EpochRow = { epoch: number } & Record<string, number>;

/** One `train` or `train --resume` of a run: start and end (ms since epoch) and the seconds between. */
export interface Session {
  start: number;
  end: number;
  wall_time_s: number;
}

/** The sessions an earlier summary.json of this run folder recorded (before sessions were, its wall time as one). */
export function previousSessions(runDir: string): Session[] {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as { sessions?: Session[]; wall_time_s?: number };
    if (Array.isArray(s.sessions)) return s.sessions;
    return typeof s.wall_time_s === 'number' ? [{ start: 0, end: 0, wall_time_s: s.wall_time_s }] : [];
  } catch {
    return [];
  }
}

/**
 * metrics.csv with Keras' column names, `epoch` counted from 1 as the terminal prints it (the
 * in-memory rows and MLflow steps are 0-based); rewritten whole each epoch so it is always complete.
 */
export function writeMetricsCsv(runDir: string, history: EpochRow[]): string {
  const keys = ['epoch', ...new Set(history.flatMap((r) => Object.keys(r).filter((k) => k !== 'epoch')))];
  const rows = history.map((r) => keys.map((k) => (k === 'epoch' ? r.epoch + 1 : r[k] === undefined ? '' : r[k])));
  return writeText(runDir, 'metrics.csv', stringify([keys, ...rows]));
}
