import type { TopLevelSpec } from 'vega-lite';
import { baseConfig, vegaLiteToPng } from './render.js';

/** `matrix[t][p]`: images of true class t predicted as p (rows: truth, columns: prediction, as scikit-learn). */
export function confusionMatrix(trueLabels: ArrayLike<number>, predLabels: ArrayLike<number>, nClasses: number): number[][] {
  if (trueLabels.length !== predLabels.length) throw new Error(`confusionMatrix: ${trueLabels.length} true labels but ${predLabels.length} predictions`);
  const m = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  for (let i = 0; i < trueLabels.length; i++) {
    const t = trueLabels[i]!;
    const p = predLabels[i]!;
    if (!(t >= 0 && t < nClasses && p >= 0 && p < nClasses && Number.isInteger(t) && Number.isInteger(p))) {
      throw new Error(`confusionMatrix: label pair (${t}, ${p}) at ${i} is outside 0..${nClasses - 1}`);
    }
    m[t]![p]! += 1;
  }
  return m;
}

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  accuracy: number;
  perClass: Record<string, ClassMetrics>;
  /** Unweighted mean over classes. */
  macro: ClassMetrics;
  /** Mean weighted by support. */
  weighted: ClassMetrics;
}

/**
 * scikit-learn's `classification_report` from a confusion matrix: a ratio with a zero denominator is 0
 * (its `zero_division=0`), and `support` of the averages is the number of images.
 */
export function classificationReport(matrix: number[][], classes: string[]): ClassificationReport {
  const n = classes.length;
  if (matrix.length !== n || matrix.some((r) => r.length !== n)) throw new Error(`classificationReport: matrix is not ${n}x${n}`);
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const total = matrix.flat().reduce((a, b) => a + b, 0);
  const per = classes.map((_, i) => {
    const tp = matrix[i]![i]!;
    const support = matrix[i]!.reduce((a, b) => a + b, 0);
    const predicted = matrix.reduce((a, r) => a + r[i]!, 0);
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    return { precision, recall, f1: ratio(2 * precision * recall, precision + recall), support };
  });
  const mean = (key: 'precision' | 'recall' | 'f1', w: (m: ClassMetrics) => number, wsum: number) =>
    ratio(
      per.reduce((a, m) => a + m[key] * w(m), 0),
      wsum,
    );
  const avg = (w: (m: ClassMetrics) => number, wsum: number): ClassMetrics => ({
    precision: mean('precision', w, wsum),
    recall: mean('recall', w, wsum),
    f1: mean('f1', w, wsum),
    support: total,
  });
  return {
    accuracy: ratio(
      classes.reduce((a, _, i) => a + matrix[i]![i]!, 0),
      total,
    ),
    perClass: Object.fromEntries(classes.map((c, i) => [c, per[i]!])),
    macro: avg(() => 1, n),
    weighted: avg((m) => m.support, total),
  };
}

/** Vega-Lite spec of a confusion matrix heatmap: counts and the share of the true class in each cell. */
export function confusionMatrixSpec(matrix: number[][], classes: string[], opts: { title?: string } = {}): TopLevelSpec {
  const cells = classes.flatMap((t, i) => {
    const rowTotal = matrix[i]!.reduce((a, b) => a + b, 0);
    return classes.map((p, j) => {
      const count = matrix[i]![j]!;
      const share = rowTotal === 0 ? 0 : count / rowTotal;
      return { truth: t, predicted: p, count, share, label: `${count}\n${(share * 100).toFixed(1)}%` };
    });
  });
  const accuracy = classificationReport(matrix, classes).accuracy;
  const side = Math.min(640, Math.max(240, 90 * classes.length));
  const x = { field: 'predicted', type: 'nominal' as const, sort: classes, title: 'Predicted class', axis: { labelAngle: 0, orient: 'bottom' as const, labelLimit: 140 } };
  const y = { field: 'truth', type: 'nominal' as const, sort: classes, title: 'True class', axis: { labelLimit: 140 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: opts.title ?? 'Confusion matrix',
      subtitle: `accuracy ${(accuracy * 100).toFixed(1)}%, ${matrix.flat().reduce((a, b) => a + b, 0)} images; cell: count and share of the true class`,
      subtitleFontSize: 12,
    },
    config: { ...baseConfig, axis: { ...baseConfig.axis, grid: false, ticks: false, domain: false, labelFontSize: 13 } },
    padding: 12,
    width: side,
    height: side,
    data: { values: cells },
    layer: [
      {
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: {
          x,
          y,
          color: {
            field: 'share',
            type: 'quantitative',
            title: 'share of row',
            scale: { scheme: 'blues', domain: [0, 1] },
            legend: { format: '.0%', gradientLength: Math.min(200, side) },
          },
        },
      },
      {
        mark: { type: 'text', fontSize: classes.length > 8 ? 10 : 14, lineBreak: '\n', fontWeight: 'bold' },
        encoding: { x, y, text: { field: 'label' }, color: { condition: { test: 'datum.share > 0.55', value: 'white' }, value: '#222222' } },
      },
    ],
  } as TopLevelSpec;
}

export async function confusionMatrixPng(matrix: number[][], classes: string[], out: string, opts: { title?: string } = {}): Promise<void> {
  await vegaLiteToPng(confusionMatrixSpec(matrix, classes, opts), out);
}
