import { parse } from 'csv-parse/sync';
import type { TopLevelSpec } from 'vega-lite';
import { bestIndex, pickMetric, type EpochRow } from './history.js';
import { baseConfig, vegaLiteToPng } from './render.js';

/** What the comparison needs of one run, wherever it was read from (a run folder or MLflow). */
export interface RunData {
  id: string;
  /** Run name when it says more than the id, else the experiment name. */
  name: string;
  status?: string;
  configHash?: string;
  /** Flattened config values and Keras-style params, as logged. */
  params: Record<string, string>;
  history: EpochRow[];
  wallTimeS?: number;
}

export interface CompareRow {
  id: string;
  name: string;
  status?: string;
  configHash?: string;
  /** Values of the differing params, `undefined` where the run does not have the param. */
  params: Record<string, string | undefined>;
  epochs: number;
  bestValAccuracy?: number;
  /** 1-based, as Keras prints epochs. */
  bestValAccuracyEpoch?: number;
  minValLoss?: number;
  minValLossEpoch?: number;
  finalLoss?: number;
  finalValLoss?: number;
  finalAccuracy?: number;
  finalValAccuracy?: number;
  /** Training minus validation accuracy at the last epoch: how much the model overfits. */
  finalGap?: number;
  wallTimeS?: number;
}

export interface Comparison {
  /** Param names whose values are not the same in every run, sorted. */
  differing: string[];
  rows: CompareRow[];
}

/**
 * metrics.csv text -> rows with 0-based epochs; empty cells are left out, `NaN` / `Infinity` kept as
 * numbers. The file counts epochs from 1; run folders written before that counted from 0, and are
 * recognised by their epoch 0.
 */
export function parseMetricsCsv(text: string): EpochRow[] {
  const records = parse(text, { columns: true, skip_empty_lines: true, relax_column_count: true }) as Record<string, string>[];
  const rows = records
    .map((rec) => {
      const row: Record<string, number> = {};
      for (const [k, v] of Object.entries(rec)) if (v !== undefined && v.trim() !== '') row[k] = Number(v);
      return row as EpochRow;
    })
    .filter((r) => Number.isInteger(r.epoch));
  const fromZero = rows.some((r) => r.epoch === 0);
  return fromZero ? rows : rows.map((r) => ({ ...r, epoch: r.epoch - 1 }));
}

/** Metric points (`metrics.jsonl`, MLflow metric history) -> one row per step, the last value of a key winning. */
export function historyFromPoints(points: { key: string; value: number; step: number }[]): EpochRow[] {
  const byStep = new Map<number, EpochRow>();
  for (const p of points) {
    const row = byStep.get(p.step) ?? ({ epoch: p.step } as EpochRow);
    row[p.key] = p.value;
    byStep.set(p.step, row);
  }
  return [...byStep.values()].sort((a, b) => a.epoch - b.epoch);
}

/** Params never worth a column: the name has its own, the description is prose, the others only place the run. */
const IGNORED_PARAMS = new Set(['name', 'description', 'tracking.runName', 'tracking.runsDir', 'tracking.uri']);

/** Top-level config values without a dot in their flattened name. */
const TOP_LEVEL_CONFIG = new Set(['seed']);

/** Layer arguments shift whenever a layer is inserted, so they come after the settings people change by hand. */
const isLayerParam = (k: string) => /^model\.(base\.)?layers\./.test(k);

/**
 * The params that are config values. A fitspec run logs its resolved config (`train.epochs`) and,
 * for MLflow's Keras views, the same values under Keras autolog names (`epochs`, `batch_size`): only
 * the config values count. Runs logged by Keras autolog alone keep their names.
 */
export function configParams(params: Record<string, string>): Record<string, string> {
  const keys = Object.keys(params);
  if (!keys.some((k) => k.includes('.'))) return params;
  return Object.fromEntries(Object.entries(params).filter(([k]) => k.includes('.') || TOP_LEVEL_CONFIG.has(k)));
}

/**
 * One spelling per value, so that values which only look different compare equal: a missing param,
 * an empty list or mapping and `null` / `None`; `1e-4` and `0.0001`; Python's `True` and `true`.
 */
export function canonicalValue(v: string | undefined): string {
  if (v === undefined) return '';
  const t = v.trim();
  if (t === '' || t === '[]' || t === '{}' || t === 'null' || t === 'None') return '';
  if (t === 'True' || t === 'False') return t.toLowerCase();
  const n = Number(t);
  return Number.isFinite(n) && /^[-+.\de]+$/i.test(t) ? String(n) : t;
}

/**
 * Names of params whose values differ between runs (a param missing from some runs differs too,
 * unless the others hold an empty value): settings first, then layer arguments, each in
 * alphabetical order.
 */
export function differingParams(runs: { params: Record<string, string> }[]): string[] {
  if (runs.length < 2) return [];
  const params = runs.map((r) => configParams(r.params));
  const keys = new Set(params.flatMap((p) => Object.keys(p)));
  const differ = [...keys].filter((k) => !IGNORED_PARAMS.has(k) && new Set(params.map((p) => canonicalValue(p[k]))).size > 1).sort();
  return [...differ.filter((k) => !isLayerParam(k)), ...differ.filter(isLayerParam)];
}

/** `model.layers (38), augment (2)`: hidden params counted by their first two path segments. */
function groupNames(keys: string[]): string {
  const groups = new Map<string, string[]>();
  for (const k of keys) {
    const g = k.split('.').slice(0, 2).join('.');
    groups.set(g, [...(groups.get(g) ?? []), k]);
  }
  return [...groups].map(([g, ks]) => (ks.length === 1 ? ks[0]! : `${g}.* (${ks.length})`)).join(', ');
}

export function compareRuns(runs: RunData[]): Comparison {
  const differing = differingParams(runs);
  const rows = runs.map((r): CompareRow => {
    const h = r.history;
    const valAcc = pickMetric(h, ['val_accuracy', 'val_acc']);
    const acc = pickMetric(h, ['accuracy', 'acc']);
    const ia = valAcc ? bestIndex(h, valAcc, 'max') : -1;
    const il = bestIndex(h, 'val_loss', 'min');
    const last = h.at(-1);
    const finite = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : undefined);
    const lastAcc = last && acc ? finite(last[acc]) : undefined;
    const lastValAcc = last && valAcc ? finite(last[valAcc]) : undefined;
    return {
      id: r.id,
      name: r.name,
      status: r.status,
      configHash: r.configHash,
      params: Object.fromEntries(differing.map((k) => [k, r.params[k]])),
      epochs: h.length,
      bestValAccuracy: ia < 0 ? undefined : h[ia]![valAcc!],
      bestValAccuracyEpoch: ia < 0 ? undefined : h[ia]!.epoch + 1,
      minValLoss: il < 0 ? undefined : h[il]!.val_loss,
      minValLossEpoch: il < 0 ? undefined : h[il]!.epoch + 1,
      finalLoss: last ? last.loss : undefined,
      finalValLoss: last ? last.val_loss : undefined,
      finalAccuracy: lastAcc,
      finalValAccuracy: lastValAcc,
      finalGap: lastAcc !== undefined && lastValAcc !== undefined ? lastAcc - lastValAcc : undefined,
      wallTimeS: r.wallTimeS,
    };
  });
  return { differing, rows };
}

export function formatDuration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '-';
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

const num = (v: number | undefined, digits = 4) => (v === undefined ? '-' : Number.isFinite(v) ? v.toFixed(digits) : String(v));
const short = (s: string | undefined, max = 28) => (s === undefined ? '-' : s.length > max ? `${s.slice(0, max - 1)}…` : s);

export interface FormatOptions {
  format: 'text' | 'markdown';
  /** Differing params shown as columns; the rest are named below the table. */
  maxParamColumns?: number;
}

/** The comparison as an aligned terminal table or a Markdown table. */
export function formatComparison(c: Comparison, opts: FormatOptions): string {
  const maxCols = opts.maxParamColumns ?? 6;
  const shown = c.differing.slice(0, maxCols);
  const hidden = c.differing.slice(maxCols);
  const showStatus = c.rows.some((r) => r.status !== undefined && r.status !== 'FINISHED');
  const columns: { title: string; right?: boolean; cell: (r: CompareRow) => string }[] = [
    { title: 'run', cell: (r) => r.id },
    { title: 'name', cell: (r) => short(r.name, 32) },
    ...(showStatus ? [{ title: 'status', cell: (r: CompareRow) => r.status ?? '-' }] : []),
    { title: 'config', cell: (r) => (r.configHash ? r.configHash.slice(0, 8) : '-') },
    ...shown.map((k) => ({ title: k, cell: (r: CompareRow) => short(r.params[k]) })),
    { title: 'best val_accuracy', right: true, cell: (r) => num(r.bestValAccuracy) },
    { title: 'at epoch', right: true, cell: (r) => (r.bestValAccuracyEpoch === undefined ? '-' : String(r.bestValAccuracyEpoch)) },
    { title: 'min val_loss epoch', right: true, cell: (r) => (r.minValLossEpoch === undefined ? '-' : String(r.minValLossEpoch)) },
    { title: 'final loss', right: true, cell: (r) => num(r.finalLoss) },
    { title: 'final val_loss', right: true, cell: (r) => num(r.finalValLoss) },
    { title: 'train-val gap', right: true, cell: (r) => (r.finalGap === undefined ? '-' : `${r.finalGap >= 0 ? '+' : ''}${r.finalGap.toFixed(4)}`) },
    { title: 'epochs run', right: true, cell: (r) => String(r.epochs) },
    { title: 'wall time', right: true, cell: (r) => formatDuration(r.wallTimeS) },
  ];
  const body = c.rows.map((r) => columns.map((col) => col.cell(r)));
  const lines: string[] = [];
  if (opts.format === 'markdown') {
    const esc = (s: string) => s.replace(/\|/g, '\\|');
    lines.push(`| ${columns.map((col) => esc(col.title)).join(' | ')} |`);
    lines.push(`| ${columns.map((col) => (col.right ? '---:' : '---')).join(' | ')} |`);
    for (const cells of body) lines.push(`| ${cells.map(esc).join(' | ')} |`);
  } else {
    const widths = columns.map((col, i) => Math.max(col.title.length, ...body.map((cells) => cells[i]!.length)));
    const fmt = (cells: string[]) =>
      cells
        .map((s, i) => (columns[i]!.right ? s.padStart(widths[i]!) : s.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd();
    lines.push(fmt(columns.map((col) => col.title)));
    lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const cells of body) lines.push(fmt(cells));
  }
  if (c.rows.length > 1 && c.differing.length === 0) lines.push('', 'The runs have the same params.');
  if (hidden.length > 0) lines.push('', `${hidden.length} more params differ: ${groupNames(hidden)} (--param-columns shows more)`);
  return lines.join('\n') + '\n';
}

/**
 * Legend labels: the run name; runs that share a name get the values that tell them apart
 * (`01-baseline train.epochs=3`), and the run id only when even those are equal.
 */
export function runLabels(runs: RunData[]): string[] {
  const groups = new Map<string, number[]>();
  runs.forEach((r, i) => groups.set(r.name, [...(groups.get(r.name) ?? []), i]));
  const labels = runs.map((r) => r.name);
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const group = members.map((i) => runs[i]!);
    const keys = differingParams(group).slice(0, 2);
    for (const i of members) {
      const p = configParams(runs[i]!.params);
      if (keys.length) labels[i] = `${runs[i]!.name} ${keys.map((k) => `${k}=${p[k] ?? '-'}`).join(' ')}`;
    }
    const seen = new Map<string, number>();
    for (const i of members) seen.set(labels[i]!, (seen.get(labels[i]!) ?? 0) + 1);
    for (const i of members) if (seen.get(labels[i]!)! > 1) labels[i] = `${labels[i]} (${runs[i]!.id})`;
  }
  return labels;
}

const METRIC_TITLES: Record<string, string> = { val_accuracy: 'Validation accuracy', val_loss: 'Validation loss', accuracy: 'Training accuracy', loss: 'Training loss' };

/** A horizontal reference line on a metric's panel, e.g. a published figure to compare with; an empty label draws the line only. */
export interface ReferenceLine {
  metric: string;
  value: number;
  label: string;
}

/**
 * Vega-Lite spec overlaying one metric (default: val_accuracy and val_loss side by side) of several
 * runs, with optional dashed reference lines.
 */
export function compareCurvesSpec(runs: { label: string; history: EpochRow[] }[], metric?: string, opts: { title?: string; references?: ReferenceLine[] } = {}): TopLevelSpec {
  const metrics = metric ? [metric] : ['val_accuracy', 'val_loss'];
  const labels = runs.map((r) => r.label);
  const panels = metrics.map((m) => {
    const values = runs.flatMap((r) => {
      const key = pickMetric(r.history, m === 'val_accuracy' ? ['val_accuracy', 'val_acc'] : m === 'accuracy' ? ['accuracy', 'acc'] : [m]);
      return key ? r.history.filter((row) => Number.isFinite(row[key])).map((row) => ({ run: r.label, epoch: row.epoch + 1, value: row[key]! })) : [];
    });
    const x = { field: 'epoch', type: 'quantitative' as const, title: 'Epoch', axis: { tickMinStep: 1, format: 'd' }, scale: { nice: false, zero: false } };
    const y = { field: 'value', type: 'quantitative' as const, title: METRIC_TITLES[m] ?? m, scale: { zero: false } };
    const refs = (opts.references ?? []).filter((r) => r.metric === m);
    const refLayers = refs.length
      ? [
          { data: { values: refs }, mark: { type: 'rule' as const, strokeDash: [6, 4], color: '#666666' }, encoding: { y: { field: 'value', type: 'quantitative' as const } } },
          {
            data: { values: refs.filter((r) => r.label) },
            mark: { type: 'text' as const, align: 'left' as const, dx: 4, dy: -6, fontSize: 11, color: '#444444' },
            encoding: { x: { value: 0 }, y: { field: 'value', type: 'quantitative' as const }, text: { field: 'label' } },
          },
        ]
      : [];
    const color = {
      field: 'run',
      type: 'nominal' as const,
      title: 'run',
      sort: labels,
      scale: { domain: labels, scheme: labels.length > 10 ? 'category20' : 'category10' },
      legend: { orient: 'bottom' as const, columns: 1, labelLimit: 600 },
    };
    return {
      title: METRIC_TITLES[m] ?? m,
      width: 420,
      height: 280,
      data: { values },
      layer: [
        { mark: { type: 'line' as const, strokeWidth: 2 }, encoding: { x, y, color } },
        { mark: { type: 'point' as const, filled: true, size: 30 }, encoding: { x, y, color } },
        ...refLayers,
      ],
    };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: opts.title ?? `${runs.length} runs compared` },
    config: baseConfig,
    padding: 12,
    hconcat: panels,
    resolve: { scale: { color: 'shared' } },
  } as TopLevelSpec;
}

export async function compareCurvesPng(
  runs: { label: string; history: EpochRow[] }[],
  out: string,
  metric?: string,
  opts: { title?: string; references?: ReferenceLine[] } = {},
): Promise<void> {
  await vegaLiteToPng(compareCurvesSpec(runs, metric, opts), out);
}
