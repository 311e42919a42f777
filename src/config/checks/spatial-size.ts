import { inputShapes, outputShape, showShape } from './shapes.js';
import type { Check } from './types.js';

/** A stack that shrinks the image below one pixel fails at build time; say which layer does it. */
export const spatialSize: Check = {
  name: 'spatial-size',
  description: 'error: the layer stack shrinks the image below one pixel, or a `reshape` target cannot hold its input.',
  run(exp, _data, plugins) {
    const shapes = inputShapes(exp, plugins);
    for (let i = 0; i < shapes.length; i++) {
      const out = outputShape(exp.model.layers[i], shapes[i], plugins);
      if (out.some((d) => !(d >= 1))) {
        const kind = Object.keys(exp.model.layers[i])[0];
        if (kind === 'reshape') {
          const target = (exp.model.layers[i] as { reshape: { targetShape: number[] } }).reshape.targetShape;
          const values = shapes[i].reduce((x, y) => x * y, 1);
          return [
            {
              code: 'check.reshape-size',
              severity: 'error',
              path: ['model', 'layers', i, kind, 'targetShape'],
              message: `\`reshape\` gets input ${showShape(shapes[i])} (${values} values per example), which \`targetShape\` ${JSON.stringify(target)} cannot hold.`,
              expected: `a shape of ${values} values (one entry may be -1)`,
              received: JSON.stringify(target),
            },
          ];
        }
        return [
          {
            code: 'check.spatial-size',
            severity: 'error',
            atKey: true,
            path: ['model', 'layers', i, kind],
            message: `\`${kind}\` gets input ${showShape(shapes[i])} and would output ${showShape(out)}; use larger images (\`data.image\`), \`padding: same\` or fewer pooling layers.`,
            expected: 'every dimension >= 1',
            received: showShape(out),
          },
        ];
      }
    }
    return [];
  },
};
