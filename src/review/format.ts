import path from 'node:path';
import { formatDiff } from '../config/diff.js';
import type { Review, ReviewEntry } from '../config/review.js';
import { formatProblem } from '../errors.js';
import { formatDuration, type CompareRow } from '../report/compare.js';
import type { Affected } from './affected.js';
import type { FoundRun, Results } from './results.js';

export type ReviewFormat = 'text' | 'markdown';

/** GitHub refuses comments over 65,536 characters; the rest is kept for the marker and headroom. */
export const MARKDOWN_LIMIT = 60_000;

const short = (h: string) => h.slice(0, 12);

/** `3 experiments change, 2 have results, 1 stale`: the first line a reviewer reads. */
export function summaryLine(affected: Affected[], results?: Results): string {
  const trains = affected.filter((a) => a.trains);
  const n = (k: number, one: string, many = `${one}s`) => `${k} ${k === 1 ? one : many}`;
  const parts = [`${n(trains.length, 'experiment')} ${trains.length === 1 ? 'changes' : 'change'}`];
  if (results) {
    const stale = trains.filter((a) => results.byAffected.get(a)?.stale).length;
    parts.push(`${trains.length - stale} ${trains.length - stale === 1 ? 'has' : 'have'} results`, `${stale} stale`);
  }
  return parts.join(', ');
}

function counts(r: Review, affected: Affected[]): string {
  const n = (s: ReviewEntry['status']) => r.entries.filter((e) => e.status === s).length;
  const renamed = affected.filter((a) => a.entry.status === 'changed' && !a.trains).length;
  const parts = [`${n('changed') - renamed} changed`, `${n('added')} new`, `${n('deleted')} deleted`];
  if (renamed) parts.push(`${renamed} with other names, tags or tracking only`);
  if (n('error')) parts.push(`${n('error')} not resolving`);
  parts.push(`${r.unchanged} unchanged`);
  return parts.join(', ');
}

const num = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(4));
const signed = (v: number, digits = 4) => `${v > 0 ? '+' : v < 0 ? '-' : '±'}${Math.abs(v).toFixed(digits)}`;

interface Metric {
  title: string;
  value: (r: CompareRow) => number | undefined;
  show: (r: CompareRow) => string;
  diff: (a: number, b: number) => string;
}

const METRICS: Metric[] = [
  {
    title: 'best val_accuracy (epoch)',
    value: (r) => r.bestValAccuracy,
    show: (r) => (r.bestValAccuracy === undefined ? '-' : `${num(r.bestValAccuracy)} (${r.bestValAccuracyEpoch})`),
    diff: (a, b) => signed(b - a),
  },
  {
    title: 'lowest val_loss (epoch)',
    value: (r) => r.minValLoss,
    show: (r) => (r.minValLoss === undefined ? '-' : `${num(r.minValLoss)} (${r.minValLossEpoch})`),
    diff: (a, b) => signed(b - a),
  },
  { title: 'final accuracy', value: (r) => r.finalAccuracy, show: (r) => num(r.finalAccuracy), diff: (a, b) => signed(b - a) },
  { title: 'epochs', value: (r) => r.epochs, show: (r) => String(r.epochs), diff: (a, b) => signed(b - a, 0) },
  { title: 'wall time', value: (r) => r.wallTimeS, show: (r) => formatDuration(r.wallTimeS), diff: (a, b) => `${b >= a ? '+' : '-'}${formatDuration(Math.abs(b - a))}` },
];

function metricCell(m: Metric, base: CompareRow | undefined, head: CompareRow | undefined, headState: string | undefined, arrow: string): string {
  const b = base ? m.show(base) : '-';
  const h = head ? m.show(head) : (headState ?? '-');
  const vb = base && m.value(base);
  const vh = head && m.value(head);
  const d = vb !== undefined && vh !== undefined && Number.isFinite(vb) && Number.isFinite(vh) ? ` ${m.diff(vb, vh)}` : '';
  return `${b} ${arrow} ${h}${d}`;
}

const runRef = (f: FoundRun | undefined, md: boolean) => {
  if (!f) return undefined;
  const where = f.dir ? path.relative(process.cwd(), f.dir) || f.dir : (f.url ?? f.id);
  return md && f.url ? `[${f.id}](${f.url})` : md ? `\`${where}\`` : where;
};

/** One group of experiments the same change affects, each a row: hashes, base -> head per metric (when there are runs), and its state. */
function resultTable(group: Affected[], results: Results | undefined, md: boolean): string[] {
  const arrow = md ? '→' : '->';
  const withRuns = results && group.some((a) => results.byAffected.get(a)?.base.shown || results.byAffected.get(a)?.head.shown);
  const header = ['experiment', 'config hash', ...(withRuns ? METRICS.map((m) => m.title) : []), ...(results ? ['state'] : [])];
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const a of group) {
    const r = results?.byAffected.get(a);
    const bh = a.base.length === 1 ? short(a.base[0]!.hash) : a.base.length ? `${a.base.length} trials` : '-';
    const hh = a.head.length === 1 ? short(a.head[0]!.hash) : a.head.length ? `${a.head.length} trials` : '-';
    const name = a.sweep ? `${a.entry.file} (sweep${r?.head.shown || r?.base.shown ? ', best trial' : ''})` : a.entry.file;
    const hashCell = a.entry.status === 'changed' ? (a.trains ? `${bh} ${arrow} ${hh}` : `${hh} (same)`) : a.entry.status === 'deleted' ? bh : hh;
    const trials = (n: number) => (a.sweep ? `: ${n} of ${a.head.length} trials` : '');
    const state = !r
      ? ''
      : a.entry.status === 'deleted'
        ? 'deleted'
        : r.stale
          ? `stale${trials(r.head.missing.length)}`
          : !a.trains
            ? 'same config'
            : `has results${trials(r.head.found.length)}`;
    rows.push([
      md ? `\`${name}\`` : name,
      md ? hashCell.replace(/([0-9a-f]{12})/g, '`$1`') : hashCell,
      ...(withRuns ? METRICS.map((m) => metricCell(m, r?.base.shown?.run.row, r?.head.shown?.run.row, undefined, arrow)) : []),
      ...(results ? [state] : []),
    ]);
    if (r && (r.base.shown || r.head.shown)) {
      const parts = [`base ${runRef(r.base.shown?.run, md) ?? 'no run'}`, `head ${runRef(r.head.shown?.run, md) ?? 'no run'}`];
      if (a.sweep) parts.push(`trials with results: base ${r.base.found.length}/${a.base.length}, head ${r.head.found.length}/${a.head.length}`);
      if (r.curves) parts.push(`curves ${md ? `\`${r.curves}\`` : r.curves}`);
      notes.push(`${a.name}: ${parts.join('; ')}`);
    }
  }
  if (md) {
    const esc = (s: string) => s.replace(/\|/g, '\\|');
    return [
      `| ${header.join(' | ')} |`,
      `| ${header.map(() => '---').join(' | ')} |`,
      ...rows.map((c) => `| ${c.map(esc).join(' | ')} |`),
      ...(notes.length ? ['', ...notes.map((n) => `- ${n}`)] : []),
    ];
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt), ...notes];
}

interface Group {
  status: ReviewEntry['status'];
  through: string[];
  diffText: string;
  members: Affected[];
}

/** Experiments with the same status, the same files changing them and the same resolved diff are one change. */
function groups(affected: Affected[], r: Review): Group[] {
  const out = new Map<string, Group>();
  for (const a of affected) {
    const e = a.entry;
    if (e.status === 'error') continue;
    const through = e.via.filter((f) => path.resolve(f) !== path.resolve(e.file));
    const diffText = e.diff ? formatDiff(e.diff, 'text', [r.base, r.head]) : '';
    // A file's own edit is its own change, even when it reads like another's.
    const own = e.via.some((f) => path.resolve(f) === path.resolve(e.file)) || e.status !== 'changed' ? e.file : '';
    const key = JSON.stringify([e.status, through, diffText, own, a.trains]);
    const g = out.get(key) ?? { status: e.status, through, diffText, members: [] };
    g.members.push(a);
    out.set(key, g);
  }
  return [...out.values()];
}

const TITLE = { changed: 'changed', added: 'new', deleted: 'deleted', error: 'error' } as const;

function renderGroup(g: Group, r: Review, results: Results | undefined, md: boolean, withDiff: boolean): string[] {
  const code = (s: string) => (md ? `\`${s}\`` : s);
  const first = g.members[0]!;
  const files = g.members.map((a) => a.entry.file);
  const what = g.status === 'changed' && !first.trains ? 'same training, other names, tags or tracking' : TITLE[g.status];
  const title = g.members.length === 1 ? `${what}: ${code(files[0]!)} (${first.name})` : `${what}: ${g.members.length} experiments`;
  const out: string[] = ['', md ? `#### ${title}` : title];
  const facts: string[] = [];
  if (g.through.length) facts.push(`changed through: ${g.through.map(code).join(', ')}${first.entry.via.length > g.through.length ? ' and the file itself' : ''}`);
  if (facts.length) out.push(...(md ? ['', ...facts.map((f) => `- ${f}`)] : facts.map((f) => `  ${f}`)));
  if (first.entry.diff && withDiff) {
    const n = first.entry.diff.lines.length;
    if (md)
      out.push(
        '',
        `<details><summary>${n} difference${n === 1 ? '' : 's'} in the resolved config${g.members.length > 1 ? ' (the same for each)' : ''}</summary>`,
        '',
        formatDiff(first.entry.diff, 'markdown', [r.base, r.head]).trimEnd(),
        '',
        '</details>',
      );
    else
      out.push(
        ...g.diffText
          .trimEnd()
          .split('\n')
          .map((l) => `  ${l}`),
      );
  } else if (first.entry.diff)
    out.push(md ? '' : '', md ? `_${first.entry.diff.lines.length} differences: run \`fitspec review\` to see them._` : `  (${first.entry.diff.lines.length} differences)`);
  {
    const table = resultTable(g.members, results, md);
    out.push('', ...(md ? table : table.map((l) => `  ${l}`)));
  }
  return out;
}

function renderErrors(_r: Review, affected: Affected[], md: boolean): string[] {
  const out: string[] = [];
  for (const a of affected.filter((x) => x.entry.status === 'error')) {
    const e = a.entry;
    out.push('', md ? `#### error: \`${e.file}\`` : `error    ${e.file}`);
    for (const p of e.problems ?? []) {
      const head = `does not resolve at ${md ? `\`${p.side}\`` : p.side}:`;
      const lines = p.problems.map((x) => formatProblem(x));
      out.push(...(md ? ['', `- ${head}`, '', '```', ...lines, '```'] : [`  ${head}`, ...lines.map((x) => x.replace(/^/gm, '    '))]));
    }
  }
  return out;
}

export interface FormatReviewOptions {
  format: ReviewFormat;
  results?: Results;
  /** The command that trains the stale experiments, shown under their list. */
  trainCommand?: string;
}

/** The review read top to bottom: the summary, each change once with the experiments it affects and their results, then what is stale. */
export function formatReview(r: Review, affected: Affected[], opts: FormatReviewOptions): string {
  const md = opts.format === 'markdown';
  const render = (withDiff: (g: Group) => boolean) => {
    const out: string[] = [];
    out.push(md ? `### fitspec review: \`${r.base}\` → \`${r.head}\`` : `fitspec review: ${r.base} -> ${r.head}`);
    out.push('', md ? `**${summaryLine(affected, opts.results)}.**` : `${summaryLine(affected, opts.results)}.`);
    out.push('', `Experiments (resolved configs): ${counts(r, affected)}.`);
    for (const n of opts.results?.notes ?? []) out.push('', md ? `> ${n}` : `note: ${n}`);
    for (const g of gs) out.push(...renderGroup(g, r, opts.results, md, withDiff(g)));
    out.push(...renderErrors(r, affected, md));
    const stale = affected.filter((a) => opts.results?.byAffected.get(a)?.stale);
    if (stale.length) {
      // When nothing has results the tables above already say it of every row: no second list.
      const all = stale.length === affected.filter((a) => a.trains).length && stale.length > 3;
      const title = all ? `stale: all ${stale.length}, none has a finished run of its head config` : `stale: ${stale.length} without a finished run of the head config`;
      out.push('', md ? `#### ${title}` : title);
      const lines = all
        ? []
        : stale.map((a) => `${md ? `\`${a.entry.file}\`` : a.entry.file}${a.sweep ? ` (${opts.results!.byAffected.get(a)!.head.missing.length} of ${a.head.length} trials)` : ''}`);
      out.push(...(md ? (lines.length ? ['', ...lines.map((l) => `- ${l}`)] : []) : lines.map((l) => `  ${l}`)));
      if (opts.trainCommand) out.push('', md ? `Train them: \`${opts.trainCommand}\`` : `  train them: ${opts.trainCommand}`);
    }
    return out.join('\n') + '\n';
  };
  const gs = groups(affected, r);
  let text = render(() => true);
  if (!md || text.length <= MARKDOWN_LIMIT) return text;
  // Too long for one comment: the largest diffs go first, the tables of results stay.
  const bySize = [...gs].sort((a, b) => b.diffText.length - a.diffText.length);
  const dropped = new Set<Group>();
  for (const g of bySize) {
    dropped.add(g);
    text = render((x) => !dropped.has(x));
    if (text.length <= MARKDOWN_LIMIT) return text;
  }
  return text.slice(0, MARKDOWN_LIMIT - 200) + "\n\n_…cut at GitHub's comment size; run `fitspec review` for the rest._\n";
}
