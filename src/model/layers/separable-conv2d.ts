import * as tf from '@tensorflow/tfjs';
import { channelsLast, GraphUnsupported, layerConfig, pair, tfPadding } from '../../graph-builder.js';
import { common, initializer, type LayerDef } from './types.js';

type SeparableClass = (new (args: object) => tf.layers.Layer) & { className: string };

/** tfjs' SeparableConv2D does not save `depthMultiplier` (a model saved with 2 reloads with 1); this subclass does. */
let SavedSeparableConv2D: SeparableClass | undefined;

function separableClass(): SeparableClass {
  if (SavedSeparableConv2D) return SavedSeparableConv2D;
  const Base = Object.getPrototypeOf(tf.layers.separableConv2d({ filters: 1, kernelSize: 1 })).constructor as SeparableClass;
  SavedSeparableConv2D = class extends Base {
    static override className = 'SeparableConv2D';
    override getConfig(): tf.serialization.ConfigDict {
      return { ...super.getConfig(), depthMultiplier: (this as unknown as { depthMultiplier: number }).depthMultiplier };
    }
  };
  return SavedSeparableConv2D;
}

export const separableConv2d: LayerDef<'separableConv2d'> = {
  kind: 'separableConv2d',
  kerasClass: 'SeparableConv2D',
  get layerClass() {
    return separableClass() as never;
  },
  build: (a, ctx) =>
    new (separableClass())({
      ...common(a, ctx),
      filters: a.filters,
      kernelSize: a.kernelSize,
      strides: a.strides ?? 1,
      padding: a.padding ?? 'valid',
      depthMultiplier: a.depthMultiplier ?? 1,
      activation: a.activation ?? 'linear',
      useBias: a.useBias ?? true,
      depthwiseInitializer: initializer(tf, a.depthwiseInitializer, 'glorotUniform', ctx.seed),
      // Another seed than the depthwise kernel's, so the two kernels do not share their random stream.
      pointwiseInitializer: initializer(tf, a.pointwiseInitializer, 'glorotUniform', ctx.seed + 7919),
      biasInitializer: initializer(tf, a.biasInitializer, 'zeros', ctx.seed),
    }),
  graph: (ctx) => {
    const { g } = ctx;
    const c = layerConfig(ctx.layer);
    channelsLast(c, 'separableConv2d');
    const [dh, dw] = pair(c.dilationRate ?? 1);
    if (dh !== 1 || dw !== 1) throw new GraphUnsupported('separableConv2d with a dilation rate');
    const l = ctx.layer as unknown as { depthwiseKernel: tf.LayerVariable; pointwiseKernel: tf.LayerVariable; bias?: tf.LayerVariable };
    const [sh, sw] = pair(c.strides);
    const F = ['T', 'type', 'float32'] as const;
    const depthwise = g.op(
      'DepthwiseConv2dNative',
      [ctx.x, ctx.read(l.depthwiseKernel)],
      [F, ['strides', 'ints', [1, sh, sw, 1]], ['padding', 'string', tfPadding(c.padding)], ['data_format', 'string', 'NHWC'], ['dilations', 'ints', [1, 1, 1, 1]]],
    );
    let y = g.op(
      'Conv2D',
      [depthwise, ctx.read(l.pointwiseKernel)],
      [F, ['strides', 'ints', [1, 1, 1, 1]], ['padding', 'string', 'VALID'], ['data_format', 'string', 'NHWC'], ['dilations', 'ints', [1, 1, 1, 1]]],
    );
    if (c.useBias && l.bias) y = g.biasAdd(y, ctx.read(l.bias));
    return g.activation(String(c.activation), y);
  },
};
