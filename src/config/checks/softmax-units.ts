import type { Check } from './types.js';

/** The last softmax layer outputs one probability per class: the listed classes, or those the data defines. */
export const softmaxUnits: Check = {
  name: 'softmax-units',
  description:
    'error: the last softmax `dense` layer has a different number of units than `data.classes` lists or, with `validate --data` and `train`, than the data defines (class folders, or the distinct labels of the CSV).',
  run(exp, data) {
    const listed = exp.data.classes;
    const classes = listed ?? data?.classes;
    const i = exp.model.layers.length - 1;
    const last = exp.model.layers[i] as { dense?: { units: number; activation?: string } };
    if (!classes || !last.dense || last.dense.activation !== 'softmax' || last.dense.units === classes.length) return [];
    const base = {
      code: 'check.softmax-units',
      severity: 'error' as const,
      path: ['model', 'layers', i, 'dense', 'units'],
      expected: String(classes.length),
      received: String(last.dense.units),
    };
    if (listed)
      return [{ ...base, message: `the last \`dense\` layer has ${last.dense.units} softmax units but \`data.classes\` lists ${classes.length} classes (${classes.join(', ')}).` }];
    const names = classes.map((c) => (data?.counts?.[c] !== undefined ? `${c}: ${data.counts[c]} row${data.counts[c] === 1 ? '' : 's'}` : c)).join(', ');
    return [
      {
        ...base,
        message: `the last \`dense\` layer has ${last.dense.units} softmax units but the data has ${classes.length} classes: ${data!.from} (${names}).`,
        hint: `Set its \`units\` to ${classes.length}, or list the ${last.dense.units} classes to train on in \`data.classes\`${exp.data.source.type === 'csv' ? ' (rows with other labels then follow `data.onError`)' : ' (other class folders are then left out)'}.`,
      },
    ];
  },
};
