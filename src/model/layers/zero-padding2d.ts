import * as tf from '@tensorflow/tfjs';
import { channelsLast, layerConfig } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

type Padding = number | [number, number] | [[number, number], [number, number]];

/** Keras' three spellings of the padding as [[top, bottom], [left, right]]. */
export function paddingPairs(p: Padding | undefined): [[number, number], [number, number]] {
  if (p === undefined)
    return [
      [1, 1],
      [1, 1],
    ];
  if (typeof p === 'number')
    return [
      [p, p],
      [p, p],
    ];
  if (typeof p[0] === 'number')
    return [
      [p[0], p[0]],
      [p[1] as number, p[1] as number],
    ];
  return p as [[number, number], [number, number]];
}

export const zeroPadding2d: LayerDef<'zeroPadding2d'> = {
  kind: 'zeroPadding2d',
  kerasClass: 'ZeroPadding2D',
  build: (a, ctx) => tf.layers.zeroPadding2d({ ...common(a, ctx), padding: paddingPairs(a.padding as Padding | undefined) }),
  graph: ({ g, x, layer }) => {
    const c = layerConfig(layer);
    channelsLast(c, 'zeroPadding2d');
    const [[t, b], [l, r]] = paddingPairs(c.padding as Padding);
    return g.op(
      'Pad',
      [x, g.constant(new Int32Array([0, 0, t, b, l, r, 0, 0]), [4, 2])],
      [
        ['T', 'type', 'float32'],
        ['Tpaddings', 'type', 'int32'],
      ],
    );
  },
};
