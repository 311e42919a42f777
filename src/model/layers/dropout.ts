import * as tf from '@tensorflow/tfjs';
import { GraphUnsupported, layerConfig } from '../graph/builder.js';
import { common, type LayerDef } from './types.js';

export const dropout: LayerDef<'dropout'> = {
  kind: 'dropout',
  kerasClass: 'Dropout',
  build: (a, ctx) => tf.layers.dropout({ ...common(a, ctx), rate: a.rate, seed: a.seed ?? ctx.seed }),
  graph: ({ g, x, layer, training }) => {
    const c = layerConfig(layer);
    const rate = Number(c.rate);
    // tfjs applies dropout only for 0 < rate < 1 and only while training.
    if (!training || !(rate > 0 && rate < 1)) return x;
    if (c.noiseShape) throw new GraphUnsupported('dropout with noiseShape');
    // Seeded like the layer; seed2 tells layers with the same seed apart. The mask differs from tfjs' own.
    const seed = Number(c.seed ?? 1) || 1;
    const shape = g.op('Shape', [x], [['T', 'type', 'float32'], ['out_type', 'type', 'int32']]);
    const u = g.op('RandomUniform', [shape], [['dtype', 'type', 'float32'], ['T', 'type', 'int32'], ['seed', 'int', seed], ['seed2', 'int', hashName(layer.name)]]);
    const keep = g.cast(g.op('GreaterEqual', [u, g.scalar(rate)], [['T', 'type', 'float32']]), 'bool', 'float32');
    return g.mul(g.mul(x, keep), g.scalar(1 / (1 - rate)));
  },
};

function hashName(s: string): number {
  let h = 17;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) % 2_000_000_011;
  return h;
}
