import * as tf from '@tensorflow/tfjs';
import { GraphUnsupported } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

interface LN extends tf.layers.Layer {
  axis: number[];
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
}

export const layerNormalization: LayerDef<'layerNormalization'> = {
  kind: 'layerNormalization',
  kerasClass: 'LayerNormalization',
  build: (a, ctx) =>
    tf.layers.layerNormalization({
      ...common(a, ctx),
      axis: a.axis ?? -1,
      epsilon: a.epsilon ?? 0.001,
      center: a.center ?? true,
      scale: a.scale ?? true,
    }),
  graph: ({ g, x, layer, read }) => {
    const ln = layer as unknown as LN;
    const shape = g.shape(x);
    if (!shape || shape.slice(1).some((d) => d < 0)) throw new GraphUnsupported('layerNormalization of an input without a static shape');
    // After build, tfjs holds the axes as non-negative indices.
    const axes = ln.axis;
    const bshape = shape.map((d, i) => (axes.includes(i) ? d : 1));
    // tfjs' moments: the mean, then the mean squared deviation from it.
    const mean = g.reduce('Mean', x, axes, true);
    const centered = g.sub(x, mean);
    const variance = g.reduce('Mean', g.unary('Square', centered), axes, true);
    let y = g.mul(centered, g.unary('Rsqrt', g.add(variance, g.scalar(ln.epsilon))));
    if (ln.scale && ln.gamma) y = g.mul(y, g.reshape(read(ln.gamma), bshape));
    if (ln.center && ln.beta) y = g.add(y, g.reshape(read(ln.beta), bshape));
    return y;
  },
};
