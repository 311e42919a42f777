import { inputShapes, showShape } from './shapes.js';
import type { Check, Finding } from './types.js';

/** Dense on an image-shaped tensor acts on the last axis only, which is almost never what was meant. */
export const denseInputRank: Check = {
  name: 'dense-input-rank',
  description: 'error: a `dense` layer receives an image-shaped (4-D) tensor; add `flatten` or `globalAveragePooling2d` before it.',
  run(exp, _data, plugins) {
    const shapes = inputShapes(exp, plugins);
    const out: Finding[] = [];
    exp.model.layers.forEach((layer, i) => {
      const shape = shapes[i];
      if (!('dense' in layer) || !shape || shape.length === 1) return;
      out.push({
        code: 'check.dense-input-rank',
        severity: 'error',
        atKey: true,
        path: ['model', 'layers', i, 'dense'],
        message: `\`dense\` receives a 4-D tensor ${showShape(shape)}; add \`- flatten: {}\` or \`- globalAveragePooling2d: {}\` before it.`,
        expected: '(batch, features)',
        received: showShape(shape),
      });
    });
    return out;
  },
};
