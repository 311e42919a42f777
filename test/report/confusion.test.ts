import { describe, expect, it } from 'vitest';
import { classificationReport, confusionMatrix } from '../../src/report/index.js';

describe('confusionMatrix', () => {
  it('counts rows by true class and columns by predicted class', () => {
    expect(confusionMatrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 3)).toEqual([
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 2],
    ]);
  });

  it('accepts typed arrays, as tensors give them', () => {
    expect(confusionMatrix(new Int32Array([1, 1]), new Float32Array([1, 0]), 2)).toEqual([
      [0, 0],
      [1, 1],
    ]);
  });

  it('rejects labels out of range and length mismatches', () => {
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/outside 0..2/);
    expect(() => confusionMatrix([0], [0, 1], 3)).toThrow(/1 true labels but 2 predictions/);
  });
});

describe('classificationReport', () => {
  // Same figures as scikit-learn's classification_report for these labels:
  // y_true = [0]*6 + [1]*3 + [2]*1 with the predictions below.
  const matrix = [
    [4, 2, 0],
    [1, 2, 0],
    [0, 1, 0],
  ];
  const r = classificationReport(matrix, ['young', 'middle', 'old']);

  it('per class precision, recall, f1 and support', () => {
    expect(r.perClass.young!.precision).toBeCloseTo(4 / 5, 12);
    expect(r.perClass.young!.recall).toBeCloseTo(4 / 6, 12);
    expect(r.perClass.young!.f1).toBeCloseTo((2 * 0.8 * (4 / 6)) / (0.8 + 4 / 6), 12);
    expect(r.perClass.young!.support).toBe(6);
    expect(r.perClass.middle!.precision).toBeCloseTo(2 / 5, 12);
    expect(r.perClass.middle!.recall).toBeCloseTo(2 / 3, 12);
    expect(r.perClass.middle!.f1).toBeCloseTo(0.5, 12);
  });

  it('a class never predicted has precision 0 (zero_division=0), not NaN', () => {
    expect(r.perClass.old).toEqual({ precision: 0, recall: 0, f1: 0, support: 1 });
  });

  it('accuracy, macro and weighted averages', () => {
    expect(r.accuracy).toBeCloseTo(6 / 10, 12);
    const f1Young = (2 * 0.8 * (4 / 6)) / (0.8 + 4 / 6);
    expect(r.macro.precision).toBeCloseTo((0.8 + 0.4 + 0) / 3, 12);
    expect(r.macro.recall).toBeCloseTo((4 / 6 + 2 / 3 + 0) / 3, 12);
    expect(r.macro.f1).toBeCloseTo((f1Young + 0.5) / 3, 12);
    expect(r.weighted.precision).toBeCloseTo((0.8 * 6 + 0.4 * 3) / 10, 12);
    expect(r.weighted.f1).toBeCloseTo((f1Young * 6 + 0.5 * 3) / 10, 12);
    expect(r.macro.support).toBe(10);
    expect(r.weighted.support).toBe(10);
  });

  it('an empty matrix gives zeros, not NaN', () => {
    const e = classificationReport(
      [
        [0, 0],
        [0, 0],
      ],
      ['a', 'b'],
    );
    expect(e.accuracy).toBe(0);
    expect(e.macro).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
  });
});
