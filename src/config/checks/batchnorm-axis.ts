import { inputShapes, showShape } from './shapes.js';
import type { Check, Finding } from './types.js';

/**
 * Keras code written for channels-first images often passes `axis=1`; with channels-last input that
 * normalizes over image rows. It is valid and reproduced exactly, so this is a warning, not an error.
 */
export const batchnormAxis: Check = {
  name: 'batchnorm-axis',
  description:
    'warning: a `batchNormalization` axis is not the channel axis (Keras code written for channels-first images, such as `axis=1`; kept as written); error when the axis does not exist.',
  run(exp, _data, plugins) {
    const shapes = inputShapes(exp, plugins);
    const out: Finding[] = [];
    exp.model.layers.forEach((layer, i) => {
      const bn = (layer as { batchNormalization?: { axis?: number } }).batchNormalization;
      const shape = shapes[i];
      if (!bn || !shape) return;
      const rank = shape.length + 1;
      const axis = bn.axis ?? -1;
      const norm = axis < 0 ? axis + rank : axis;
      const path = ['model', 'layers', i, 'batchNormalization', 'axis'];
      if (norm < 1 || norm >= rank) {
        out.push({
          code: 'check.batchnorm-axis-range',
          severity: 'error',
          path,
          message: `\`batchNormalization\` axis ${axis} does not exist for input ${showShape(shape)}; use -1 (the channel axis).`,
          expected: `an axis from 1 to ${rank - 1}, or -1`,
          received: String(axis),
        });
      } else if (norm !== rank - 1) {
        out.push({
          code: 'check.batchnorm-axis',
          severity: 'warning',
          path,
          message: `\`batchNormalization\` axis ${axis} is not the channel axis for input ${showShape(shape)}: it normalizes over image ${norm === 1 ? 'rows' : 'columns'} (kept as written, as Keras does); the channel axis is -1.`,
          expected: `-1 (or ${rank - 1})`,
          received: String(axis),
        });
      }
    });
    return out;
  },
};
