import { closest } from 'fastest-levenshtein';
import { fail } from '../errors.js';

export type ClassWeightSpec = 'balanced' | Record<string, number>;

/**
 * Loss weight per class index, or undefined when the config sets none.
 * `balanced` is scikit-learn's (and Keras users') inverse frequency: n_samples / (n_classes * count).
 * A mapping names classes; a class it leaves out keeps weight 1.
 */
export function classWeights(spec: ClassWeightSpec | undefined, classes: string[], trainLabels: number[]): number[] | undefined {
  if (spec === undefined) return undefined;
  if (spec === 'balanced') {
    const counts = new Array<number>(classes.length).fill(0);
    for (const y of trainLabels) {
      if (!Number.isInteger(y) || y < 0 || y >= classes.length) throw new Error(`label ${y} is outside 0..${classes.length - 1}`);
      counts[y]! += 1;
    }
    const empty = classes.filter((_, i) => counts[i] === 0);
    if (empty.length > 0) {
      fail(
        'train.class-weight-empty-class',
        `classWeight: balanced needs every class in the training split, but ${empty.map((c) => `\`${c}\``).join(', ')} has no training images`,
        {
          path: 'train.classWeight',
          expected: 'at least one training image per class',
          received: `0 images of ${empty.join(', ')}`,
          hint: 'check the data split, or give the weights as a mapping of class name to weight',
        },
      );
    }
    return counts.map((c) => trainLabels.length / (classes.length * c));
  }
  const unknown = Object.keys(spec).filter((k) => !classes.includes(k));
  if (unknown.length > 0) {
    fail(
      'train.class-weight-unknown-class',
      `classWeight names ${unknown.map((c) => `\`${c}\``).join(', ')}, which ${unknown.length > 1 ? 'are not classes' : 'is not a class'} of this dataset`,
      {
        path: `train.classWeight.${unknown[0]}`,
        expected: `class names: ${classes.join(', ')}`,
        received: unknown.join(', '),
        hint: classes.length > 0 ? `did you mean \`${closest(unknown[0]!, classes)}\`?` : undefined,
      },
    );
  }
  return classes.map((c) => spec[c] ?? 1);
}
