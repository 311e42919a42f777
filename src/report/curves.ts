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
export interface PhaseMark {
  name: string;
  /** 0-based global epoch at which the phase starts. */
  firstEpoch: number;
}

export interface CurvesOptions {
  title?: string;
  /** Training phases; a dotted line and the phase name mark where each one after the first starts. */
  phases?: PhaseMark[];
}

function panel(title: string, yTitle: string, data: Point[], seriesOrder: string[], best?: { epoch: number; label: string }, phases: PhaseMark[] = []) {
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
        mark: {
          type: 'text' as const,
          align: leftOfRule ? ('right' as const) : ('left' as const),
          baseline: 'top' as const,
          dx: leftOfRule ? -4 : 4,
          y: 4,
          fontSize: 11,
          color: '#333333',
        },
        encoding: { x: { field: 'epoch', type: 'quantitative' as const }, text: { field: 'label' } },
      },
    );
  }
  const starts = phases.filter((p) => p.firstEpoch > 0).map((p) => ({ x: p.firstEpoch + 0.5, name: p.name }));
  if (starts.length) {
    layer.push(
      {
        data: { values: starts },
        mark: { type: 'rule' as const, strokeDash: [2, 3], color: '#2ca02c', strokeWidth: 1.5 },
        encoding: { x: { field: 'x', type: 'quantitative' as const } },
      },
      {
        data: { values: starts },
        mark: { type: 'text' as const, align: 'left' as const, baseline: 'bottom' as const, dx: 4, y: PANEL.height - 4, fontSize: 11, color: '#2ca02c' },
        encoding: { x: { field: 'x', type: 'quantitative' as const }, text: { field: 'name' } },
      },
    );
  }
  return { title, ...PANEL, data: { values: data }, layer };
}

/** Vega-Lite spec of the learning curves: accuracy and loss panels, training vs validation per epoch. */
export function learningCurvesSpec(history: EpochRow[], opts: CurvesOptions = {}): TopLevelSpec {
  const panels = [];
  const acc = pickMetric(history, ['accuracy', 'acc']);
  const valAcc = pickMetric(history, ['val_accuracy', 'val_acc']);
  const order = ['Training', 'Validation'];
  if (acc || valAcc) {
    const i = valAcc ? bestIndex(history, valAcc, 'max') : -1;
    const best = i < 0 ? undefined : { epoch: history[i]!.epoch + 1, label: `best ${history[i]![valAcc!]!.toFixed(3)} (epoch ${history[i]!.epoch + 1})` };
    panels.push(
      panel(
        'Training and validation accuracy',
        'Accuracy',
        [...(acc ? points(history, acc, 'Training') : []), ...(valAcc ? points(history, valAcc, 'Validation') : [])],
        order,
        best,
        opts.phases,
      ),
    );
  }
  if (pickMetric(history, ['loss', 'val_loss'])) {
    const i = bestIndex(history, 'val_loss', 'min');
    const best = i < 0 ? undefined : { epoch: history[i]!.epoch + 1, label: `min ${history[i]!.val_loss!.toFixed(3)} (epoch ${history[i]!.epoch + 1})` };
    panels.push(panel('Training and validation loss', 'Loss', [...points(history, 'loss', 'Training'), ...points(history, 'val_loss', 'Validation')], order, best, opts.phases));
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
export async function learningCurvesPng(history: EpochRow[], out: string, opts: CurvesOptions = {}): Promise<void> {
  await vegaLiteToPng(learningCurvesSpec(history, opts), out);
}
