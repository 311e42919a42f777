import type * as tf from '@tensorflow/tfjs';
import type { BuiltModel } from './build.js';

export interface SummaryRow {
  name: string;
  kind: string;
  outputShape: string;
  params: number /** Functional models: the inputs, Keras style (`conv1_bn[0][0]`). */;
  connectedTo?: string[];
}
export interface ModelSummary {
  rows: SummaryRow[];
  total: number;
  trainable: number;
  nonTrainable: number /** A functional model (not a Sequential): the summary shows the input layer and the "Connected to" column. */;
  functional?: boolean;
}

function count(weights: tf.LayerVariable[]): number {
  return weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

function shape(s: tf.Shape | tf.Shape[]): string {
  const one = (Array.isArray(s[0]) ? s[0] : s) as (number | null)[];
  return `(${one.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;
}

/** The layers a layer of `model` reads, as Keras' summary writes them. */
function connections(_model: tf.LayersModel, layer: tf.layers.Layer, members: Set<tf.layers.Layer>): string[] {
  const node = layer.inboundNodes.find((n) => n.inboundLayers.length > 0 && n.inboundLayers.every((l) => members.has(l)));
  if (!node) return [];
  return node.inboundLayers.map((l, i) => `${l.name}[${node.nodeIndices[i]}][${node.tensorIndices[i]}]`);
}

export function summarize(built: BuiltModel): ModelSummary {
  const { model, kinds } = built;
  const functional = model.getClassName() !== 'Sequential';
  const members = new Set(model.layers);
  const rows = model.layers
    .filter((l) => functional || l.getClassName() !== 'InputLayer')
    .map((l) => ({
      name: l.name,
      kind: kinds.get(l.name) ?? l.getClassName(),
      outputShape: functional && l.getClassName() === 'InputLayer' ? `[${shape(l.outputShape)}]` : shape(l.outputShape),
      params: l.countParams(),
      ...(functional ? { connectedTo: connections(model, l, members) } : {}),
    }));
  const trainable = count(model.trainableWeights);
  const nonTrainable = count(model.nonTrainableWeights);
  return { rows, total: trainable + nonTrainable, trainable, nonTrainable, ...(functional ? { functional } : {}) };
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** Keras' `model.summary()` layout, so numbers can be compared with a notebook at a glance. */
export function formatSummary(s: ModelSummary, title = 'Model'): string {
  const connected = (r: SummaryRow) => `[${(r.connectedTo ?? []).map((c) => `'${c}'`).join(', ')}]`;
  const cols = [
    Math.max(28, ...s.rows.map((r) => `${r.name} (${r.kind})`.length + 2)),
    Math.max(26, ...s.rows.map((r) => r.outputShape.length + 2)),
    s.functional ? 12 + 2 : 12,
    s.functional ? Math.max(14, ...s.rows.map((r) => connected(r).length)) : 0,
  ];
  const width = cols[0]! + cols[1]! + cols[2]! + cols[3]!;
  const line = (a: string, b: string, c: string, d = '') => (a.padEnd(cols[0]!) + b.padEnd(cols[1]!) + (d ? c.padEnd(cols[2]!) + d : c)).trimEnd();
  const out = [`Model: "${title}"`, '_'.repeat(width), line('Layer (type)', 'Output Shape', 'Param #', s.functional ? 'Connected to' : ''), '='.repeat(width)];
  s.rows.forEach((r, i) => {
    out.push(line(`${r.name} (${r.kind})`, r.outputShape, fmt(r.params), s.functional ? connected(r) : ''));
    out.push(i === s.rows.length - 1 ? '='.repeat(width) : '_'.repeat(width));
  });
  out.push(`Total params: ${fmt(s.total)}`, `Trainable params: ${fmt(s.trainable)}`, `Non-trainable params: ${fmt(s.nonTrainable)}`, '_'.repeat(width));
  return out.join('\n');
}
