import { defaultLayerNames } from '../names.js';
import type { Check, Finding } from './types.js';

/** Layer names address layers in `$patch`, `unfreezeFrom` and the saved model, so they must be unique. */
export const uniqueLayerNames: Check = {
  name: 'unique-layer-names',
  description: 'error: two layers with the same name (explicit or default).',
  run(exp) {
    const names = defaultLayerNames(exp.model.layers);
    const out: Finding[] = [];
    names.forEach((n, i) => {
      const first = names.indexOf(n);
      if (first < i) {
        const kind = Object.keys(exp.model.layers[i])[0];
        out.push({
          code: 'check.layer-name',
          severity: 'error',
          atKey: true,
          path: ['model', 'layers', i, kind],
          message: `layer ${i} is named \`${n}\`, like layer ${first}; give it another \`name\`.`,
          received: n,
        });
      }
    });
    return out;
  },
};
