import * as tf from '@tensorflow/tfjs';
import { GraphUnsupported, layerConfig } from '../graph/builder.js';
import { common, type LayerDef } from './types.js';

export const dropout: LayerDef<'dropout'> = {
  kind: 'dropout',
  kerasClass: 'Dropout',
  build: (a, ctx) => tf.layers.dropout({ ...common(a, ctx), rate: a.rate, seed: a.seed ?? ctx.seed }),
  graph: ({ g, x, layer, training, step }) => {
    const c = layerConfig(layer);
    const rate = Number(c.rate);
    // tfjs applies dropout only for 0 < rate < 1 and only while training.
    if (!training || !(rate > 0 && rate < 1)) return x;
    if (c.noiseShape) throw new GraphUnsupported('dropout with noiseShape');
    // The mask is a pure function of (the layer's seed, its name, the global step): the layer's seed
    // (its own, or the experiment's plus its index) and its name make the first half of the stateless
    // seed, the step the second. Nothing lives in the session, so rebuilding it (a phase change, a
    // resumed run) changes no mask. The mask differs from tfjs' own.
    const seed = g.constant(new Int32Array([hashName(`${Number(c.seed ?? 0)}/${layer.name}`)]), []);
    const seeds = g.op('Pack', [[seed, step]], [['N', 'int', 2], ['T', 'type', 'int32'], ['axis', 'int', 0]]);
    const shape = g.op('Shape', [x], [['T', 'type', 'float32'], ['out_type', 'type', 'int32']]);
    const u = g.op('StatelessRandomUniform', [shape, seeds], [['dtype', 'type', 'float32'], ['T', 'type', 'int32'], ['Tseed', 'type', 'int32']]);
    const keep = g.cast(g.op('GreaterEqual', [u, g.scalar(rate)], [['T', 'type', 'float32']]), 'bool', 'float32');
    return g.mul(g.mul(x, keep), g.scalar(1 / (1 - rate)));
  },
};

function hashName(s: string): number {
  let h = 17;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) % 2_000_000_011;
  return h;
}
