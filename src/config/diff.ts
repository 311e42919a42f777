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

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalarList = (v: unknown): v is unknown[] => Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object');

/** One-line value: scalars as they are (multi-line strings too: formatting shows them as blocks), subtrees as flow YAML, long ones shortened. */
function compact(v: unknown): FlatValue {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  if (isScalarList(v)) return JSON.stringify(v);
  const flow = stringify(v, { collectionStyle: 'flow', lineWidth: 0 }).trim();
  if (flow.length <= 200) return flow;
  if (Array.isArray(v)) return `[${v.length} items]`;
  if (isMap(v))
    return `{ ${Object.entries(v)
      .map(([k, x]) => `${k}: ${Array.isArray(x) && !isScalarList(x) ? `[${x.length} items]` : isMap(x) ? '{...}' : String(compact(x))}`)
      .join(', ')} }`;
  return flow;
}

/** Lists compared as layer stacks (aligned) rather than index by index. */
const STACKS = new Set(['model.layers', 'model.base.layers']);

/**
 * Layer stacks are aligned, not compared index by index: layers match by explicit `name` when they have
 * one, otherwise by kind, along a longest common subsequence; what is left is inserted or removed.
 */
function diffLayers(a: readonly unknown[], b: readonly unknown[], at: string, lines: DiffLine[]): void {
  const token = (l: unknown) => {
    const kind = kindOf(l) ?? '?';
    const name = (l as Record<string, { name?: string }>)[kind]?.name;
    return name ? `name:${name}` : `kind:${kind}`;
  };
  const namesA = defaultLayerNames(a);
  const namesB = defaultLayerNames(b);
  const pairs = lcs(a.map(token), b.map(token));
  let i = 0;
  let j = 0;
  const flush = (untilA: number, untilB: number) => {
    for (; i < untilA; i++) lines.push({ op: '-', path: `${at}.${i}`, old: compact(a[i]), note: `removed ${namesA[i]}` });
    for (; j < untilB; j++) lines.push({ op: '+', path: `${at}.${j}`, new: compact(b[j]), note: `inserted ${namesB[j]} ${j === 0 ? 'at the top' : `after ${namesB[j - 1]}`}` });
  };
  for (const [pa, pb] of pairs) {
    flush(pa, pb);
    const fa = flattenValue(a[pa]);
    const fb = flattenValue(b[pb]);
    const note = namesB[pb] + (pa !== pb ? `, was ${at}.${pa}` : '');
    for (const k of unionKeys(Object.keys(fa), Object.keys(fb))) {
      const path = `${at}.${pb}.${k}`;
      if (!(k in fa)) lines.push({ op: '+', path, new: fb[k], note });
      else if (!(k in fb)) lines.push({ op: '-', path, old: fa[k], note });
      else if (fa[k] !== fb[k]) lines.push({ op: '~', path, old: fa[k], new: fb[k], note });
    }
    i = pa + 1;
    j = pb + 1;
  }
  flush(a.length, b.length);
}

/**
 * An added or removed subtree, one line per leaf key (an `augment` block per setting), with lists of
 * mappings (phases, callbacks, layers) one item per line.
 */
function oneSided(path: string, v: unknown): [string, unknown][] {
  if (isMap(v) && Object.keys(v).length) return Object.entries(v).flatMap(([k, x]) => oneSided(`${path}.${k}`, x));
  if (Array.isArray(v) && v.length && !isScalarList(v)) return v.map((x, i) => [`${path}.${i}`, x]);
  return [[path, v]];
}

function diffValue(a: unknown, b: unknown, path: string, lines: DiffLine[]): void {
  if (isMap(a) && isMap(b)) {
    for (const k of unionKeys(Object.keys(a), Object.keys(b))) {
      const p = path ? `${path}.${k}` : k;
      if (k in a && k in b) diffValue(a[k], b[k], p, lines);
      else {
        const v = k in a ? a[k] : b[k];
        const op = k in a ? '-' : '+';
        for (const [ip, x] of oneSided(p, v)) lines.push(op === '+' ? { op, path: ip, new: compact(x) } : { op, path: ip, old: compact(x) });
      }
    }
  } else if (Array.isArray(a) && Array.isArray(b) && STACKS.has(path)) {
    diffLayers(a, b, path, lines);
  } else if (Array.isArray(a) && Array.isArray(b) && !isScalarList(a) && !isScalarList(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i >= a.length) lines.push({ op: '+', path: `${path}.${i}`, new: compact(b[i]) });
      else if (i >= b.length) lines.push({ op: '-', path: `${path}.${i}`, old: compact(a[i]) });
      else diffValue(a[i], b[i], `${path}.${i}`, lines);
    }
  } else if (compact(a) !== compact(b) || typeof a !== typeof b) {
    lines.push({ op: '~', path, old: compact(a), new: compact(b) });
  }
}

/** What differs between two resolved experiments, path by path. */
export function diffExperiments(a: Experiment, b: Experiment): ConfigDiff {
  const lines: DiffLine[] = [];
  diffValue(a, b, '', lines);
  return { equal: lines.length === 0, lines };
}

const showValue = (v: FlatValue | undefined) => (v === undefined ? '' : String(v));
const multiLine = (l: DiffLine) => [l.old, l.new].some((v) => typeof v === 'string' && v.includes('\n'));

/** A multi-line value's change, line by line: `  ` kept, `- ` removed, `+ ` added. */
function textBlock(l: DiffLine): string[] {
  const split = (v: FlatValue | undefined) => (v === undefined || v === '' ? [] : String(v).replace(/\n$/, '').split('\n'));
  const a = split(l.old);
  const b = split(l.new);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  for (const [pa, pb] of [...lcs(a, b), [a.length, b.length] as [number, number]]) {
    for (; i < pa; i++) out.push(`- ${a[i]}`);
    for (; j < pb; j++) out.push(`+ ${b[j]}`);
    if (pa < a.length) out.push(`  ${a[pa]}`);
    i = pa + 1;
    j = pb + 1;
  }
  return out;
}

/** `text`: one line per difference (multi-line values as an indented block); `markdown`: a table, then each multi-line value as a diff block. */
export function formatDiff(d: ConfigDiff, format: 'text' | 'markdown', labels: [string, string]): string {
  if (format === 'markdown') {
    if (d.equal) return `No differences between \`${labels[0]}\` and \`${labels[1]}\` after resolving.\n`;
    const cell = (s: string) => s.replace(/\|/g, '\\|');
    const code = (v: FlatValue | undefined) => (v === undefined ? '' : `\`${cell(showValue(v))}\``);
    const rows = d.lines.filter((l) => !multiLine(l)).map((l) => `| ${l.op} | \`${cell(l.path)}\`${l.note ? ` (${cell(l.note)})` : ''} | ${code(l.old)} | ${code(l.new)} |`);
    const blocks = d.lines.filter(multiLine).flatMap((l) => {
      const body = textBlock(l);
      const fence = '`'.repeat(Math.max(3, ...body.map((x) => (x.match(/`+/g) ?? []).reduce((m, r) => Math.max(m, r.length + 1), 0))));
      return ['', `${l.op} \`${l.path}\`${l.note ? ` (${l.note})` : ''}:`, '', `${fence}diff`, ...body, fence];
    });
    const head = `**${d.lines.length} difference${d.lines.length === 1 ? '' : 's'}** between \`${labels[0]}\` and \`${labels[1]}\` (resolved configs):`;
    const table = rows.length ? ['', `| | path | ${cell(labels[0])} | ${cell(labels[1])} |`, '| --- | --- | --- | --- |', ...rows] : [];
    return [head, ...table, ...blocks, ''].join('\n');
  }
  if (d.equal) return '';
  return (
    d.lines
      .map((l) => {
        const note = l.note ? ` (${l.note})` : '';
        if (multiLine(l)) return [`${l.op} ${l.path}:${note}`, ...textBlock(l).map((x) => `    ${x}`)].join('\n');
        if (l.op === '~') return `~ ${l.path}: ${showValue(l.old)} -> ${showValue(l.new)}${note}`;
        if (l.op === '+') return `+ ${l.path}: ${showValue(l.new)}${note}`;
        return `- ${l.path}: ${showValue(l.old)}${note}`;
      })
      .join('\n') + '\n'
  );
}
