import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { writeFileSafe } from '../disk.js';

/** `YYYYMMDD-HHMMSS-xxxx`: sorts by time, unique enough for one machine. */
export function newRunId(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
  return `${stamp}-${crypto.randomBytes(2).toString('hex')}`;
}

/** Written through a temporary file: a crash or a full disk leaves the previous content, never a truncated file. */
export function writeText(runDir: string, rel: string, text: string): string {
  const file = path.join(runDir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileSafe(file, text);
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

/**
 * The sessions earlier runs of this folder recorded: summary.json's (written when a session ends) merged
 * with the checkpoint's (written at every epoch end), so a session that died without ending (SIGKILL,
 * power cut) still counts up to its last checkpoint. One entry per session start, the later end wins.
 */
export function previousSessions(runDir: string, fromCheckpoint: Session[] = []): Session[] {
  let fromSummary: Session[] = [];
  try {
    const s = JSON.parse(fs.readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as { sessions?: Session[]; wall_time_s?: number };
    if (Array.isArray(s.sessions)) fromSummary = s.sessions;
    else if (typeof s.wall_time_s === 'number') fromSummary = [{ start: 0, end: 0, wall_time_s: s.wall_time_s }];
  } catch {
    // no summary yet: the checkpoint's record is all there is
  }
  const byStart = new Map<number, Session>();
  for (const x of [...fromSummary, ...fromCheckpoint]) {
    const have = byStart.get(x.start);
    if (!have || x.end > have.end) byStart.set(x.start, x);
  }
  return [...byStart.values()].sort((a, b) => a.start - b.start);
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
