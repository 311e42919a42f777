import { inputShapes, outputShape, showShape } from './shapes.js';
import type { Check } from './types.js';

/** A stack that shrinks the image below one pixel fails at build time; say which layer does it. */
export const spatialSize: Check = {
  name: 'spatial-size',
  description: 'error: the layer stack shrinks the image below one pixel.',
  run(exp, _data, plugins) {
    const shapes = inputShapes(exp, plugins);
    for (let i = 0; i < shapes.length; i++) {
      const out = outputShape(exp.model.layers[i], shapes[i], plugins);
      if (out.some((d) => !(d >= 1))) {
        const kind = Object.keys(exp.model.layers[i])[0];
        return [{ code: 'check.spatial-size', severity: 'error', atKey: true, path: ['model', 'layers', i, kind], message: `\`${kind}\` gets input ${showShape(shapes[i])} and would output ${showShape(out)}; use larger images (\`data.image\`), \`padding: same\` or fewer pooling layers.`, expected: 'every dimension >= 1', received: showShape(out) }];
      }
    }
    return [];
  },
};
