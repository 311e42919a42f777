import { stringify } from 'yaml';
import { flattenValue, type FlatValue } from './flatten.js';
import { defaultLayerNames, kindOf } from './names.js';
import type { Experiment } from './schema/experiment.js';

export interface DiffLine {
  /** `~` changed, `+` added or inserted, `-` removed. */
  op: '~' | '+' | '-';
  path: string;
  old?: FlatValue;
  new?: FlatValue;
  /** Layer context: its name, and where an inserted layer went. */
  note?: string;
}

export interface ConfigDiff {
  equal: boolean;
  lines: DiffLine[];
}

const LAYERS = 'model.layers';

/** Ordered union of two key lists: a's order, b's extra keys placed after their predecessor in b. */
function unionKeys(a: string[], b: string[]): string[] {
  const out = [...a];
  const have = new Set(a);
  let after = -1;
  for (const k of b) {
    if (have.has(k)) after = out.indexOf(k);
    else {
      out.splice(after + 1, 0, k);
      have.add(k);
      after++;
    }
  }
  return out;
}

function compareFlat(a: Record<string, FlatValue>, b: Record<string, FlatValue>, prefix: string, note?: string): DiffLine[] {
  const lines: DiffLine[] = [];
  for (const k of unionKeys(Object.keys(a), Object.keys(b))) {
    const path = prefix ? (k ? `${prefix}.${k}` : prefix) : k;
    const extra = note ? { note } : {};
    if (!(k in a)) lines.push({ op: '+', path, new: b[k], ...extra });
    else if (!(k in b)) lines.push({ op: '-', path, old: a[k], ...extra });
    else if (a[k] !== b[k]) lines.push({ op: '~', path, old: a[k], new: b[k], ...extra });
  }
  return lines;
}

/** Longest common subsequence of two token lists, as index pairs. */
function lcs(a: string[], b: string[]): [number, number][] {
  const n = a.length;
  const m = b.length;
  const t = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) t[i][j] = a[i] === b[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
  const pairs: [number, number][] = [];
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (a[i] === b[j]) pairs.push([i++, j++]);
    else if (t[i + 1][j] >= t[i][j + 1]) i++;
    else j++;
  }
  return pairs;
}

const compact = (v: unknown) => stringify(v, { collectionStyle: 'flow', lineWidth: 0 }).trim();

/**
 * Layer stacks are aligned, not compared index by index: layers match by explicit `name` when they have
 * one, otherwise by kind, along a longest common subsequence; what is left is inserted or removed.
 */
function diffLayers(a: readonly unknown[], b: readonly unknown[]): DiffLine[] {
  const token = (l: unknown) => {
    const kind = kindOf(l) ?? '?';
    const name = ((l as Record<string, { name?: string }>)[kind] ?? {}).name;
    return name ? `name:${name}` : `kind:${kind}`;
  };
  const namesA = defaultLayerNames(a);
  const namesB = defaultLayerNames(b);
  const pairs = lcs(a.map(token), b.map(token));
  const lines: DiffLine[] = [];
  let i = 0;
  let j = 0;
  const flush = (untilA: number, untilB: number) => {
    for (; i < untilA; i++) lines.push({ op: '-', path: `${LAYERS}.${i}`, old: compact(a[i]), note: `removed ${namesA[i]}` });
    for (; j < untilB; j++) lines.push({ op: '+', path: `${LAYERS}.${j}`, new: compact(b[j]), note: `inserted ${namesB[j]} ${j === 0 ? 'at the top' : `after ${namesB[j - 1]}`}` });
  };
  for (const [pa, pb] of pairs) {
    flush(pa, pb);
    lines.push(...compareFlat(flattenValue(a[pa]), flattenValue(b[pb]), `${LAYERS}.${pb}`, namesB[pb] + (pa !== pb ? `, was ${LAYERS}.${pa}` : '')));
    i = pa + 1;
    j = pb + 1;
  }
  flush(a.length, b.length);
  return lines;
}

/** What differs between two resolved experiments, path by path. */
export function diffExperiments(a: Experiment, b: Experiment): ConfigDiff {
  const fa = flattenValue(a);
  const fb = flattenValue(b);
  const outside = (f: Record<string, FlatValue>) => Object.fromEntries(Object.entries(f).filter(([k]) => !k.startsWith(LAYERS + '.')));
  const rest = compareFlat(outside(fa), outside(fb), '');
  const layers = diffLayers(a.model.layers, b.model.layers);
  // Layer changes go right after the other `model.*` lines, keeping sections in config order.
  const lastModel = rest.map((l) => l.path.startsWith('model.')).lastIndexOf(true);
  const firstAfter = lastModel >= 0 ? lastModel + 1 : rest.findIndex((l) => /^(train|tracking)\b/.test(l.path));
  const at = firstAfter < 0 ? rest.length : firstAfter;
  const lines = [...rest.slice(0, at), ...layers, ...rest.slice(at)];
  return { equal: lines.length === 0, lines };
}

const showValue = (v: FlatValue | undefined) => (v === undefined ? '' : String(v));

/** `text`: one line per difference; `markdown`: a table for a pull-request comment. */
export function formatDiff(d: ConfigDiff, format: 'text' | 'markdown', labels: [string, string]): string {
  if (format === 'markdown') {
    if (d.equal) return `No differences between \`${labels[0]}\` and \`${labels[1]}\` after resolving.\n`;
    const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
    const rows = d.lines.map((l) => `| ${l.op} | \`${cell(l.path)}\`${l.note ? ` (${cell(l.note)})` : ''} | ${l.old !== undefined ? `\`${cell(showValue(l.old))}\`` : ''} | ${l.new !== undefined ? `\`${cell(showValue(l.new))}\`` : ''} |`);
    return [`**${d.lines.length} difference${d.lines.length === 1 ? '' : 's'}** between \`${labels[0]}\` and \`${labels[1]}\` (resolved configs):`, '', `| | path | ${cell(labels[0])} | ${cell(labels[1])} |`, '| --- | --- | --- | --- |', ...rows, ''].join('\n');
  }
  if (d.equal) return '';
  return (
    d.lines
      .map((l) => {
        const note = l.note ? ` (${l.note})` : '';
        if (l.op === '~') return `~ ${l.path}: ${showValue(l.old)} -> ${showValue(l.new)}${note}`;
        if (l.op === '+') return `+ ${l.path}: ${showValue(l.new)}${note}`;
        return `- ${l.path}: ${showValue(l.old)}${note}`;
      })
      .join('\n') + '\n'
  );
}
