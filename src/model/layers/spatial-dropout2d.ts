import { common, type LayerDef } from './types.js';
import { dropoutGraph, SteppedDropout } from './dropout.js';

/**
 * tfjs has no SpatialDropout2D; Keras' is Dropout with noise shape (batch, 1, 1, channels), which is
 * what this builds and saves (tfjs' `Dropout` with that `noiseShape`), so the saved model loads in
 * plain tfjs and converts to Keras.
 */
export const spatialDropout2d: LayerDef<'spatialDropout2d'> = {
  kind: 'spatialDropout2d',
  kerasClass: 'SpatialDropout2D',
  build: (a, ctx) => new SteppedDropout({ ...common(a, ctx), rate: a.rate, seed: a.seed ?? ctx.seed, noiseShape: [null, 1, 1, null] }),
  graph: (ctx) => dropoutGraph(ctx),
};
