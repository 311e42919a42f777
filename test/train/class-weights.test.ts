import { describe, expect, it } from 'vitest';
import { FitspecError } from '../../src/errors.js';
import { classWeights } from '../../src/train/class-weights.js';

const classes = ['young', 'middle', 'old'];

describe('classWeights', () => {
  it('is undefined when the config sets none', () => {
    expect(classWeights(undefined, classes, [0, 1, 2])).toBeUndefined();
  });

  it('balanced: n_samples / (n_classes * count), as scikit-learn computes it', () => {
    // 6 young, 3 middle, 1 old: 10 / (3 * count)
    const labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2];
    const w = classWeights('balanced', classes, labels)!;
    expect(w).toHaveLength(3);
    [10 / 18, 10 / 9, 10 / 3].forEach((v, i) => expect(w[i]).toBeCloseTo(v, 12));
    // The weighted class counts are equal, which is the point of `balanced`.
    const weighted = [6 * w[0]!, 3 * w[1]!, 1 * w[2]!];
    weighted.forEach((v) => expect(v).toBeCloseTo(10 / 3, 12));
  });

  it('balanced gives 1 to every class of a balanced split', () => {
    expect(classWeights('balanced', classes, [2, 1, 0, 0, 1, 2])).toEqual([1, 1, 1]);
  });

  it('balanced with a class missing from the training split is a user error', () => {
    const err = (() => {
      try {
        classWeights('balanced', classes, [0, 1, 1]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FitspecError);
    expect((err as FitspecError).code).toBe('train.class-weight-empty-class');
    expect((err as FitspecError).message).toContain('`old`');
  });

  it('a mapping by class name; unnamed classes keep 1', () => {
    expect(classWeights({ old: 2, young: 0.5 }, classes, [])).toEqual([0.5, 1, 2]);
  });

  it('an unknown class name is a user error with a suggestion', () => {
    let err: unknown;
    try {
      classWeights({ olde: 2 }, classes, []);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FitspecError);
    expect((err as FitspecError).code).toBe('train.class-weight-unknown-class');
    expect((err as FitspecError).problems[0]!.hint).toBe('did you mean `old`?');
  });
});
