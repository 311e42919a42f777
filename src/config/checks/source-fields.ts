import type { Check, Finding } from './types.js';

const NEEDS = { directory: ['path'], csv: ['images', 'labels'] } as const;
/** Fields the other source type reads (idColumn / labelColumn always carry defaults, so they are not listed). */
const IGNORED = { directory: ['images', 'labels'], csv: ['path'] } as const;

/** Each source type needs its own fields; fields of the other type are ignored, so say so. */
export const sourceFields: Check = {
  name: 'source-fields',
  description: 'error: a `directory` source without `path`, a `csv` source without `images` or `labels`; warning for fields the source type ignores.',
  run(exp) {
    const src = exp.data.source as Record<string, unknown> & { type: 'directory' | 'csv' };
    const out: Finding[] = [];
    for (const key of NEEDS[src.type]) {
      if (src[key] === undefined)
        out.push({
          code: 'check.source-fields',
          severity: 'error',
          path: ['data', 'source'],
          message: `a \`${src.type}\` source needs \`${key}\` (${src.type === 'directory' ? 'the folder with one subfolder per class' : key === 'images' ? 'the folder of image files' : 'the labels CSV'}).`,
          expected: `data.source.${key}`,
          received: 'nothing',
        });
    }
    for (const key of IGNORED[src.type]) {
      if (src[key] !== undefined)
        out.push({
          code: 'check.source-unused',
          severity: 'warning',
          atKey: true,
          path: ['data', 'source', key],
          message: `\`${key}\` is ignored by a \`${src.type}\` source.`,
          received: key,
        });
    }
    return out;
  },
};
