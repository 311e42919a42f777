import { existsSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { writeFileSafe } from '../disk.js';
import { FitspecError } from '../errors.js';
import type { MetricPoint, RunRecord } from './types.js';
import { decodeNumber } from './values.js';

export interface RunFolder {
  dir: string;
  record: RunRecord;
}

/** Reads run.json of a run folder. */
export function readRun(dir: string): RunFolder {
  const file = join(dir, 'run.json');
  if (!existsSync(file)) {
    throw new FitspecError({ code: 'run.not-found', message: `${dir} is not a run folder: it has no run.json`, file: dir, hint: 'run folders are runs/<experiment>/<run id>/' });
  }
  let record: RunRecord;
  try {
    record = JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
  } catch (e) {
    throw new FitspecError({ code: 'run.invalid', message: `run.json is not valid JSON: ${(e as Error).message}`, file });
  }
  if (!record || typeof record !== 'object' || typeof record.runId !== 'string' || typeof record.experimentName !== 'string') {
    throw new FitspecError({ code: 'run.invalid', message: 'run.json has no runId / experimentName: not written by fitspec', file });
  }
  record.params ??= {};
  record.tags ??= {};
  record.artifacts ??= [];
  return { dir, record };
}

/**
 * Every run under runsDir (runs/<experiment>/<run id>/), oldest first; only those of `experiment`
 * when given. Folders without a readable run.json are skipped.
 */
export function listRuns(runsDir: string, experiment?: string): RunFolder[] {
  if (!existsSync(runsDir)) return [];
  const out: RunFolder[] = [];
  const experiments = experiment !== undefined ? [experiment] : readdirSync(runsDir);
  for (const e of experiments) {
    const edir = join(runsDir, e);
    if (!existsSync(edir) || !statSync(edir).isDirectory()) continue;
    for (const r of readdirSync(edir)) {
      const dir = join(edir, r);
      if (!existsSync(join(dir, 'run.json'))) continue;
      try {
        out.push(readRun(dir));
      } catch {
        /* not a fitspec run folder */
      }
    }
  }
  return out.sort((a, b) => a.record.startTime - b.record.startTime || a.record.runId.localeCompare(b.record.runId));
}

function parsePoint(line: string): MetricPoint {
  const p = JSON.parse(line) as { key: string; value: unknown; step: number; timestamp: number };
  if (!p || typeof p.key !== 'string' || typeof p.step !== 'number') throw new Error('not a metric point');
  return { key: p.key, value: decodeNumber(p.value), step: p.step, timestamp: p.timestamp };
}

/** A line of metrics.jsonl: a record, or a torn one with a whole record glued to its end (recovered). */
function parseLine(line: string): MetricPoint {
  try {
    return parsePoint(line);
  } catch (e) {
    const glued = line.lastIndexOf('{"key":');
    if (glued > 0) return parsePoint(line.slice(glued));
    throw e;
  }
}

/**
 * Every point of metrics.jsonl, in the order logged; a torn last line (crash mid-write) is ignored.
 * Earlier versions appended after a torn line on resume, gluing a whole record to the torn one; that
 * record is recovered from the end of the line.
 */
export function readMetrics(dir: string): MetricPoint[] {
  const file = join(dir, 'metrics.jsonl');
  if (!existsSync(file)) return [];
  const out: MetricPoint[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(parseLine(line));
    } catch {
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim())) {
        throw new FitspecError({ code: 'run.invalid', message: `metrics.jsonl line ${i + 1} is not JSON`, file, line: i + 1 });
      }
    }
  });
  return out;
}

/**
 * Cuts metrics.jsonl back to its last whole record (a crash mid-write leaves a torn last line), so
 * what is appended next starts on a line of its own; returns the bytes removed.
 */
export function cutTornTail(dir: string): number {
  const file = join(dir, 'metrics.jsonl');
  if (!existsSync(file)) return 0;
  // latin1: one character per byte, so offsets are byte offsets (records are ASCII JSON).
  const text = readFileSync(file).toString('latin1');
  // Every record ends with its newline: what follows the last one is torn.
  let end = text.lastIndexOf('\n') + 1;
  while (end > 0) {
    const start = text.lastIndexOf('\n', end - 2) + 1;
    try {
      parseLine(text.slice(start, end - 1));
      break;
    } catch {
      end = start;
    }
  }
  const removed = text.length - end;
  if (removed > 0) truncateSync(file, end);
  return removed;
}

/** Files (not folders) an artifact path stands for, relative to the run folder. */
export function artifactFiles(dir: string, rel: string): string[] {
  const abs = resolve(dir, rel);
  if (!existsSync(abs)) return [];
  const st = statSync(abs);
  if (st.isFile()) return [relative(dir, abs).split('\\').join('/')];
  if (!st.isDirectory()) return [];
  const out: string[] = [];
  for (const e of readdirSync(abs, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    out.push(...artifactFiles(dir, join(rel, e.name)));
  }
  return out;
}

/** `<size>:<mtime ms>`: changes when a file is rewritten, so re-logged artifacts are uploaded again. */
export function fileFingerprint(dir: string, rel: string): string {
  const st = statSync(join(dir, rel));
  return `${st.size}:${Math.round(st.mtimeMs)}`;
}

/**
 * Removes the points logged after global epoch `epoch` (0-based step): a resume that falls back to an
 * earlier checkpoint trains those epochs again and must not log them twice. Returns how many went.
 */
export function dropMetricsAfter(dir: string, epoch: number): number {
  const file = join(dir, 'metrics.jsonl');
  if (!existsSync(file)) return 0;
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  const keep = lines.filter((l) => {
    try {
      return parsePoint(l).step <= epoch;
    } catch {
      return true;
    }
  });
  if (keep.length === lines.length) return 0;
  writeFileSafe(file, keep.map((l) => l + '\n').join(''));
  return lines.length - keep.length;
}
