import type { Check } from './types.js';

/** The last softmax layer outputs one probability per class. */
export const softmaxUnits: Check = {
  name: 'softmax-units',
  description: 'error: the last softmax `dense` layer has a different number of units than `data.classes` lists.',
  run(exp) {
    const classes = exp.data.classes;
    const i = exp.model.layers.length - 1;
    const last = exp.model.layers[i] as { dense?: { units: number; activation?: string } };
    if (!classes || !last.dense || last.dense.activation !== 'softmax' || last.dense.units === classes.length) return [];
    return [{ code: 'check.softmax-units', severity: 'error', path: ['model', 'layers', i, 'dense', 'units'], message: `the last \`dense\` layer has ${last.dense.units} softmax units but \`data.classes\` lists ${classes.length} classes (${classes.join(', ')}).`, expected: String(classes.length), received: String(last.dense.units) }];
  },
};
