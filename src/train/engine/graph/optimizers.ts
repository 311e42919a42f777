import type { OptimizerConfig } from '../../../config/schema/experiment.js';
import type { GraphBuilder, Ref } from '../../../graph-builder.js';

/**
 * One optimizer as TensorFlow's fused training ops on resource variables. The updates are Keras'
 * (checked step by step by test/train/keras-parity), which are also tfjs' except where noted; the
 * slot names and order are those of tfjs' optimizer.getWeights() (what a checkpoint's slots mean).
 */
export interface GraphOptimizer {
  /** Slots per variable, in tfjs' getWeights() order (all variables' first slot, then the second...). */
  slots: { suffix: string; init: number }[];
  /** Scalars fed at each step (1-based step number t), besides the learning rate. */
  stepScalars(t: number): Record<string, number>;
  /** The update op of one variable. */
  apply(g: GraphBuilder, v: { handle: Ref; slots: Ref[]; grad: Ref }, s: { lr: Ref; scalars: Record<string, Ref> }): string;
}

const T = ['T', 'type', 'float32'] as const;
const noLock = ['use_locking', 'bool', false] as const;

type Def = (o: OptimizerConfig) => GraphOptimizer;

const defs: Record<OptimizerConfig['name'], Def> = {
  sgd: (o) => {
    const momentum = o.momentum ?? 0;
    if (!momentum) {
      return { slots: [], stepScalars: () => ({}), apply: (g, v, s) => g.target('ResourceApplyGradientDescent', [v.handle, s.lr, v.grad], [T, noLock]) };
    }
    // tfjs' momentum: accum = m accum + g; var -= lr accum (Nesterov: var -= lr (g + m accum)); TF's ResourceApplyMomentum is the same.
    return {
      slots: [{ suffix: 'momentum', init: 0 }],
      stepScalars: () => ({}),
      apply: (g, v, s) => g.target('ResourceApplyMomentum', [v.handle, v.slots[0]!, s.lr, v.grad, g.scalar(momentum)], [T, noLock, ['use_nesterov', 'bool', o.nesterov ?? false]]),
    };
  },
  rmsprop: (o) => {
    const rho = o.rho ?? 0.9;
    const momentum = o.momentum ?? 0;
    const eps = o.epsilon ?? 1e-7;
    const centered = o.centered ?? false;
    return {
      slots: [{ suffix: 'rms', init: 0 }, { suffix: 'momentum', init: 0 }, ...(centered ? [{ suffix: 'mg', init: 0 }] : [])],
      stepScalars: () => ({}),
      apply: (g, v, s) => {
        const [ms, mom, mg] = v.slots;
        const common = [s.lr, g.scalar(rho), g.scalar(momentum), g.scalar(eps), v.grad];
        return centered
          ? g.target('ResourceApplyCenteredRMSProp', [v.handle, mg!, ms!, mom!, ...common], [T, noLock])
          : g.target('ResourceApplyRMSProp', [v.handle, ms!, mom!, ...common], [T, noLock]);
      },
    };
  },
  adam: (o) => {
    const b1 = o.beta1 ?? 0.9;
    const b2 = o.beta2 ?? 0.999;
    const eps = o.epsilon ?? 1e-7;
    return {
      slots: [
        { suffix: 'm', init: 0 },
        { suffix: 'v', init: 0 },
      ],
      // TF's op divides by sqrt(v) + epsilon with a bias-corrected rate: Keras' update (the eager
      // engine gives tfjs' Adam the epsilon that makes its update this one, see prepareStep).
      stepScalars: (t) => ({ beta1Power: b1 ** t, beta2Power: b2 ** t, epsilon: eps }),
      apply: (g, v, s) =>
        g.target(
          'ResourceApplyAdam',
          [v.handle, v.slots[0]!, v.slots[1]!, s.scalars.beta1Power!, s.scalars.beta2Power!, s.lr, g.scalar(b1), g.scalar(b2), s.scalars.epsilon!, v.grad],
          [T, noLock, ['use_nesterov', 'bool', false]],
        ),
    };
  },
  adamax: (o) => {
    const b1 = o.beta1 ?? 0.9;
    const b2 = o.beta2 ?? 0.999;
    const eps = o.epsilon ?? 1e-7;
    return {
      slots: [
        { suffix: 'm', init: 0 },
        { suffix: 'v', init: 0 },
      ],
      stepScalars: (t) => ({ beta1Power: b1 ** t }),
      apply: (g, v, s) =>
        g.target('ResourceApplyAdaMax', [v.handle, v.slots[0]!, v.slots[1]!, s.scalars.beta1Power!, s.lr, g.scalar(b1), g.scalar(b2), g.scalar(eps), v.grad], [T, noLock]),
    };
  },
  adagrad: (o) => ({
    slots: [{ suffix: 'accumulator', init: o.initialAccumulatorValue ?? 0.1 }],
    stepScalars: () => ({}),
    // tfjs divides by sqrt(accum + 1e-7), TF by sqrt(accum) + 1e-7: equal to float32 precision once accum >= 0.1.
    apply: (g, v, s) => g.target('ResourceApplyAdagradV2', [v.handle, v.slots[0]!, s.lr, g.scalar(1e-7), v.grad], [T, noLock, ['update_slots', 'bool', true]]),
  }),
  adadelta: (o) => {
    const rho = o.rho ?? 0.95;
    const eps = o.epsilon ?? 1e-7;
    return {
      slots: [
        { suffix: 'accum_grad', init: 0 },
        { suffix: 'accum_var', init: 0 },
      ],
      stepScalars: () => ({}),
      apply: (g, v, s) => g.target('ResourceApplyAdadelta', [v.handle, v.slots[0]!, v.slots[1]!, s.lr, g.scalar(rho), g.scalar(eps), v.grad], [T, noLock]),
    };
  },
};

export function graphOptimizer(o: OptimizerConfig): GraphOptimizer {
  return defs[o.name](o);
}
