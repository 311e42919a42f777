import type { TopLevelSpec } from 'vega-lite';
import { bestIndex, pickMetric, type EpochRow } from './history.js';
import { baseConfig, vegaLiteToPng } from './render.js';

interface Point {
  epoch: number;
  value: number;
  series: string;
}

const PANEL = { width: 380, height: 260 };

function points(history: EpochRow[], metric: string, series: string): Point[] {
  return history.filter((r) => Number.isFinite(r[metric])).map((r) => ({ epoch: r.epoch + 1, value: r[metric]!, series }));
}

/** One panel of training and validation curves, with a dashed rule at the best validation epoch (1-based). */
function panel(title: string, yTitle: string, data: Point[], seriesOrder: string[], best?: { epoch: number; label: string }) {
  // The label goes on the side of the rule with more room, so it stays inside the plot.
  const lastEpoch = Math.max(1, ...data.map((p) => p.epoch));
  const leftOfRule = best !== undefined && best.epoch > 1 + (lastEpoch - 1) * 0.6;
  const x = { field: 'epoch', type: 'quantitative' as const, title: 'Epoch', axis: { tickMinStep: 1, format: 'd' }, scale: { nice: false, zero: false } };
  const y = { field: 'value', type: 'quantitative' as const, title: yTitle, scale: { zero: false } };
  const legend = { orient: 'bottom' as const, direction: 'horizontal' as const };
  const color = { field: 'series', type: 'nominal' as const, title: null, scale: { domain: seriesOrder, range: ['#1f77b4', '#d62728'] }, legend };
  const shape = { field: 'series', type: 'nominal' as const, title: null, scale: { domain: seriesOrder, range: ['circle', 'square'] }, legend };
  const layer: object[] = [
    { mark: { type: 'line' as const, strokeWidth: 2 }, encoding: { x, y, color } },
    { mark: { type: 'point' as const, filled: true, size: 40, opacity: 1 }, encoding: { x, y, color, shape } },
  ];
  if (best) {
    layer.push(
      { data: { values: [best] }, mark: { type: 'rule' as const, strokeDash: [6, 4], color: '#555555' }, encoding: { x: { field: 'epoch', type: 'quantitative' as const } } },
      {
        data: { values: [best] },
        mark: { type: 'text' as const, align: leftOfRule ? ('right' as const) : ('left' as const), baseline: 'top' as const, dx: leftOfRule ? -4 : 4, y: 4, fontSize: 11, color: '#333333' },
        encoding: { x: { field: 'epoch', type: 'quantitative' as const }, text: { field: 'label' } },
      },
    );
  }
  return { title, ...PANEL, data: { values: data }, layer };
}

/** Vega-Lite spec of the learning curves: accuracy and loss panels, training vs validation per epoch. */
export function learningCurvesSpec(history: EpochRow[], opts: { title?: string } = {}): TopLevelSpec {
  const panels = [];
  const acc = pickMetric(history, ['accuracy', 'acc']);
  const valAcc = pickMetric(history, ['val_accuracy', 'val_acc']);
  const order = ['Training', 'Validation'];
  if (acc || valAcc) {
    const i = valAcc ? bestIndex(history, valAcc, 'max') : -1;
    const best = i < 0 ? undefined : { epoch: history[i]!.epoch + 1, label: `best ${history[i]![valAcc!]!.toFixed(3)} (epoch ${history[i]!.epoch + 1})` };
    panels.push(panel('Training and validation accuracy', 'Accuracy', [...(acc ? points(history, acc, 'Training') : []), ...(valAcc ? points(history, valAcc, 'Validation') : [])], order, best));
  }
  if (pickMetric(history, ['loss', 'val_loss'])) {
    const i = bestIndex(history, 'val_loss', 'min');
    const best = i < 0 ? undefined : { epoch: history[i]!.epoch + 1, label: `min ${history[i]!.val_loss!.toFixed(3)} (epoch ${history[i]!.epoch + 1})` };
    panels.push(panel('Training and validation loss', 'Loss', [...points(history, 'loss', 'Training'), ...points(history, 'val_loss', 'Validation')], order, best));
  }
  if (panels.length === 0) panels.push(panel('No accuracy or loss recorded', 'Value', [], order));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title ? { title: { text: opts.title, fontSize: 18 } } : {}),
    config: baseConfig,
    padding: 12,
    hconcat: panels,
    resolve: { scale: { color: 'independent', shape: 'independent' } },
  } as TopLevelSpec;
}

/** Learning curves like the notebook's figures, as a PNG. */
export async function learningCurvesPng(history: EpochRow[], out: string, opts: { title?: string } = {}): Promise<void> {
  await vegaLiteToPng(learningCurvesSpec(history, opts), out);
}
