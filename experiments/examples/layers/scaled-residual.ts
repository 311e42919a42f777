/**
 * A layer plugin: `scaledResidual` adds `scale` times a learned per-channel gain applied to its input
 * back onto the input, y = x + scale * gamma * x (a ReZero / LayerScale-style residual gate).
 * Named by `plugins: [./layers/scaled-residual.ts]` in an experiment; fitspec loads it only then.
 *
 * The top level imports no TensorFlow: `fitspec validate` loads `kind`, `schema` and `outputShape`
 * alone. `build` and `graph` receive TensorFlow.js and the graph builder as arguments.
 */
import { Type } from '@sinclair/typebox';
// Types only (erased when the module loads): no TensorFlow at the top level.
import type * as tfjs from '@tensorflow/tfjs';
import type { LayerPlugin } from '../../../src/config/plugins.js';

export const kind = 'scaledResidual';
export const kerasClass = 'ScaledResidual';

export const schema = Type.Object(
  {
    scale: Type.Number({ exclusiveMinimum: 0, default: 1, description: 'Factor of the gated branch.' }),
    gammaInit: Type.Optional(Type.Number({ default: 0.1, description: 'Initial value of the per-channel gain.' })),
  },
  { additionalProperties: false, description: 'y = x + scale * gamma * x, with a learned per-channel gain gamma.' },
);

export const outputShape: LayerPlugin['outputShape'] = (_args, input) => input;

export const build: LayerPlugin['build'] = (tf, args, ctx) => {
  const scale = Number(args.scale ?? 1);
  const gammaInit = Number(args.gammaInit ?? 0.1);
  class ScaledResidual extends tf.layers.Layer {
    static className = 'ScaledResidual';
    gamma!: tfjs.LayerVariable;
    override build(inputShape: (number | null)[] | (number | null)[][]): void {
      const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as (number | null)[];
      this.gamma = this.addWeight('gamma', [s[s.length - 1]!], 'float32', tf.initializers.constant({ value: gammaInit }));
      this.built = true;
    }
    override call(inputs: tfjs.Tensor | tfjs.Tensor[]) {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return tf.tidy(() => tf.add(x, tf.mul(tf.mul(x, this.gamma.read()), scale)));
    }
    override getConfig() {
      return { ...super.getConfig(), scale, gammaInit };
    }
  }
  return new ScaledResidual({ name: ctx.name, trainable: ctx.trainable });
};

/** The same forward pass as TensorFlow graph ops, so the graph engine trains it. */
export const graph: LayerPlugin['graph'] = ({ g, x, layer, read }) => {
  const { gamma } = layer as unknown as { gamma: tfjs.LayerVariable };
  const scale = Number((layer.getConfig() as { scale: number }).scale);
  return g.add(x, g.mul(g.mul(x, read(gamma)), g.scalar(scale)));
};
