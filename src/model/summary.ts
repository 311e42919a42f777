import type * as tf from '@tensorflow/tfjs';
import type { BuiltModel } from './build.js';

export interface SummaryRow { name: string; kind: string; outputShape: string; params: number }
export interface ModelSummary { rows: SummaryRow[]; total: number; trainable: number; nonTrainable: number }

function count(weights: tf.LayerVariable[]): number {
  return weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

function shape(s: tf.Shape | tf.Shape[]): string {
  const one = (Array.isArray(s[0]) ? s[0] : s) as (number | null)[];
  return `(${one.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;
}

export function summarize(built: BuiltModel): ModelSummary {
  const { model, kinds } = built;
  const rows = model.layers
    .filter((l) => l.getClassName() !== 'InputLayer')
    .map((l) => ({ name: l.name, kind: kinds.get(l.name) ?? l.getClassName(), outputShape: shape(l.outputShape), params: l.countParams() }));
  const trainable = count(model.trainableWeights);
  const nonTrainable = count(model.nonTrainableWeights);
  return { rows, total: trainable + nonTrainable, trainable, nonTrainable };
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** Keras' `model.summary()` layout, so numbers can be compared with a notebook at a glance. */
export function formatSummary(s: ModelSummary, title = 'Model'): string {
  const cols = [
    Math.max(28, ...s.rows.map((r) => `${r.name} (${r.kind})`.length + 2)),
    Math.max(26, ...s.rows.map((r) => r.outputShape.length + 2)),
    12,
  ];
  const width = cols[0]! + cols[1]! + cols[2]!;
  const line = (a: string, b: string, c: string) => a.padEnd(cols[0]!) + b.padEnd(cols[1]!) + c;
  const out = [`Model: "${title}"`, '_'.repeat(width), line('Layer (type)', 'Output Shape', 'Param #'), '='.repeat(width)];
  s.rows.forEach((r, i) => {
    out.push(line(`${r.name} (${r.kind})`, r.outputShape, fmt(r.params)));
    out.push(i === s.rows.length - 1 ? '='.repeat(width) : '_'.repeat(width));
  });
  out.push(`Total params: ${fmt(s.total)}`, `Trainable params: ${fmt(s.trainable)}`, `Non-trainable params: ${fmt(s.nonTrainable)}`, '_'.repeat(width));
  return out.join('\n');
}
