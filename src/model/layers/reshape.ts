import * as tf from '@tensorflow/tfjs';
import { GraphUnsupported } from '../../graph-builder.js';
import { common, type LayerDef } from './types.js';

type ReshapeLayer = tf.layers.Layer & { fixUnknownDimension(input: number[], target: (number | null)[]): number[] };
type ReshapeClass = (new (args: object) => ReshapeLayer) & { className: string };

/**
 * tfjs' Reshape leaves the -1 entry unknown whenever the batch size is (always, in a model), where
 * Keras infers it from the example's size; this subclass infers it (same class name and config).
 */
let StaticReshape: ReshapeClass | undefined;

function reshapeClass(): ReshapeClass {
  if (StaticReshape) return StaticReshape;
  const Base = Object.getPrototypeOf(tf.layers.reshape({ targetShape: [1] })).constructor as ReshapeClass;
  StaticReshape = class extends Base {
    static override className = 'Reshape';
    override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
      const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
      const example = s.slice(1);
      if (example.some((d) => d === null || d < 0)) return super.computeOutputShape(inputShape) as tf.Shape;
      return [s[0] ?? null, ...this.fixUnknownDimension(example as number[], (this as unknown as { targetShape: (number | null)[] }).targetShape)];
    }
  };
  return StaticReshape;
}

export const reshape: LayerDef<'reshape'> = {
  kind: 'reshape',
  kerasClass: 'Reshape',
  get layerClass() {
    return reshapeClass() as never;
  },
  // A copy: tfjs writes into the array it is given, and the experiment is frozen.
  build: (a, ctx) => new (reshapeClass())({ ...common(a, ctx), targetShape: [...a.targetShape] }),
  graph: ({ g, x, layer }) => {
    // The built layer's output shape has the -1 entry inferred.
    const out = (layer.outputShape as (number | null)[]).slice(1);
    if (out.some((d) => d === null || d < 0)) throw new GraphUnsupported('reshape to a shape that is not static');
    return g.reshape(x, [-1, ...(out as number[])]);
  },
};
