import type { Check } from './types.js';

/** With counts per class and listed classes, the training split size is known before any image is read. */
export const batchSize: Check = {
  name: 'batch-size',
  description: 'warning: the batch size is larger than the training split (when counts per class and classes are given).',
  run(exp) {
    const train = exp.data.split.train;
    const classes = exp.data.classes?.length;
    if (!classes || !(train >= 1) || !Number.isInteger(train)) return [];
    const total = train * classes;
    if (exp.train.batchSize <= total) return [];
    return [
      {
        code: 'check.batch-size',
        severity: 'warning',
        path: ['train', 'batchSize'],
        message: `batch size ${exp.train.batchSize} is larger than the training split (${train} per class x ${classes} classes = ${total} images): every epoch is one smaller batch.`,
        expected: `at most ${total}`,
        received: String(exp.train.batchSize),
      },
    ];
  },
};
