import type { OptimizerConfig } from '../schema/experiment.js';
import type { Check, Finding } from './types.js';

/** Arguments each optimizer takes in tfjs; anything else would be silently ignored. */
export const OPTIMIZER_ARGS: Record<OptimizerConfig['name'], string[]> = {
  sgd: ['momentum', 'nesterov'],
  adam: ['beta1', 'beta2', 'epsilon'],
  rmsprop: ['rho', 'momentum', 'centered', 'epsilon'],
  adagrad: ['initialAccumulatorValue'],
  adadelta: ['rho', 'epsilon'],
  adamax: ['beta1', 'beta2', 'epsilon'],
};

export const optimizerArgs: Check = {
  name: 'optimizer-args',
  description: 'error: an optimizer argument that the chosen optimizer does not take (`momentum` with `adam`).',
  run(exp) {
    const out: Finding[] = [];
    const scan = (opt: OptimizerConfig | undefined, path: (string | number)[]) => {
      if (!opt) return;
      const allowed = OPTIMIZER_ARGS[opt.name];
      for (const key of Object.keys(opt)) {
        if (key === 'name' || key === 'learningRate' || allowed.includes(key)) continue;
        const users = Object.entries(OPTIMIZER_ARGS)
          .filter(([, a]) => a.includes(key))
          .map(([n]) => n);
        out.push({
          code: 'check.optimizer-args',
          severity: 'error',
          atKey: true,
          path: [...path, key],
          message: `\`${key}\` does not apply to the \`${opt.name}\` optimizer (it is an argument of ${users.join(', ')}); remove it or change \`name\`.`,
          expected: `one of learningRate${allowed.length ? ', ' + allowed.join(', ') : ''}`,
          received: key,
        });
      }
    };
    scan(exp.train.optimizer, ['train', 'optimizer']);
    exp.train.phases?.forEach((p, i) => scan(p.optimizer, ['train', 'phases', i, 'optimizer']));
    return out;
  },
};
