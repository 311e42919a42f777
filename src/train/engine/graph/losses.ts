import type { Experiment } from '../../../config/schema/experiment.js';
import type { GraphBuilder, Ref } from '../../../graph-builder.js';

export type LossName = Experiment['train']['loss'];

/** tfjs' (and Keras') epsilon: probabilities are clipped to [eps, 1 - eps] before a log. */
const EPSILON = 1e-7;

interface GraphLoss {
  /** Each example's loss (shape [batch]) from one-hot targets `y` and the model's output `p`, as tfjs computes it. */
  perExample(g: GraphBuilder, y: Ref, p: Ref): Ref;
  /** Which accuracy tfjs' `accuracy` metric means with this loss (for more than one output unit). */
  accuracy: 'categorical' | 'binary';
}

const clip = (g: GraphBuilder, p: Ref) => g.binary('Maximum', g.binary('Minimum', p, g.scalar(1 - EPSILON)), g.scalar(EPSILON));

// tfjs' categoricalCrossentropy on probabilities: renormalize, clip to [eps, 1 - eps], -sum(y log p).
const categorical = (g: GraphBuilder, y: Ref, p: Ref) => g.unary('Neg', g.reduce('Sum', g.mul(y, g.unary('Log', clip(g, g.div(p, g.reduce('Sum', p, [-1], true))))), [-1]));

/** Every loss the schema allows: a loss missing here is a compile error, not a silent fallback. */
export const graphLosses: Record<LossName, GraphLoss> = {
  categoricalCrossentropy: { perExample: categorical, accuracy: 'categorical' },
  // Labels reach the engine one-hot; tfjs turns class indices into that one-hot after clipping the
  // probabilities once, then computes categoricalCrossentropy (which clips again).
  sparseCategoricalCrossentropy: { perExample: (g, y, p) => categorical(g, y, clip(g, p)), accuracy: 'categorical' },
  // tfjs: logits = log(p / (1 - p)) of the clipped p, then TensorFlow's stable sigmoid cross-entropy
  // max(x, 0) - x z + log(1 + exp(-|x|)), averaged over the output units.
  binaryCrossentropy: {
    perExample: (g, y, p) => {
      const c = clip(g, p);
      const x = g.unary('Log', g.div(c, g.sub(g.scalar(1), c)));
      const sce = g.add(g.sub(g.unary('Relu', x), g.mul(x, y)), g.unary('Log1p', g.unary('Exp', g.unary('Neg', g.unary('Abs', x)))));
      return g.reduce('Mean', sce, [-1]);
    },
    accuracy: 'binary',
  },
  meanSquaredError: { perExample: (g, y, p) => g.reduce('Mean', g.unary('Square', g.sub(p, y)), [-1]), accuracy: 'categorical' },
};
