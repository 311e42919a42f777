import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend.js';
import { GraphBuilder, type Ref } from '../../src/graph-builder.js';
import { loadGraphAddon, type GraphAddon } from '../../src/native-addon.js';

// Grappler fuses Conv2D/MatMul + BiasAdd + Relu into one oneDNN primitive only when the BiasAdd's
// output has no other consumer. TensorFlow's C++ Relu/Relu6 gradients read the activation's input,
// which would be that second consumer; the addon's `gradients` makes them read the output instead.
let addon: GraphAddon;

beforeAll(async () => {
  expect((await initBackend('auto')).native).toBe(true);
  const a = loadGraphAddon();
  if (typeof a === 'string') throw new Error(a);
  addon = a;
});

const F = ['T', 'type', 'float32'] as const;
const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 2);

const cases = [
  {
    description: 'Conv2D + BiasAdd + Relu',
    activation: 'relu',
    op: 'Relu',
    grad: 'ReluGrad',
    build: (g: GraphBuilder, x: Ref) =>
      g.op(
        'Conv2D',
        [x, g.constant(values(3 * 3 * 2 * 4, 2), [3, 3, 2, 4])],
        [F, ['strides', 'ints', [1, 1, 1, 1]], ['padding', 'string', 'VALID'], ['data_format', 'string', 'NHWC']],
      ),
    input: [2, 5, 5, 2],
    bias: 4,
  },
  {
    description: 'MatMul + BiasAdd + Relu6',
    activation: 'relu6',
    op: 'Relu6',
    grad: 'Relu6Grad',
    build: (g: GraphBuilder, x: Ref) => g.matmul(x, g.constant(values(6 * 5, 3), [6, 5])),
    input: [4, 6],
    bias: 5,
  },
];

describe('graph gradients of Relu and Relu6', () => {
  it.each(cases)('$description: the gradient reads the activation output, and the values are right', ({ activation, op, grad, build, input, bias }) => {
    const native = new addon.Graph();
    const g = new GraphBuilder(native);
    const x = g.constant(
      values(
        input.reduce((a, b) => a * b),
        1,
      ),
      input,
    );
    const pre = g.biasAdd(build(g, x), g.constant(values(bias, 4), [bias]));
    const act = g.activation(activation, pre);
    const loss = g.reduce(
      'Sum',
      g.mul(
        act,
        g.constant(
          values(
            g.shape(act)!.reduce((a, b) => a * b),
            5,
          ),
          g.shape(act)!,
        ),
      ),
      g.shape(act)!.map((_, i) => i),
    );
    const [dPre] = native.gradients([loss], [pre], 'gradients');

    const ops = native.ops();
    const grads = ops.filter(([, type]) => type === grad);
    expect(grads).toHaveLength(1);
    expect(grads[0]![2][1]).toEqual(act);
    // The BiasAdd's only consumer is the activation: the remapper's fusion condition.
    expect(ops.filter(([, , inputs]) => inputs.some((r) => r[0] === pre[0])).map(([, type]) => type)).toEqual([op]);

    const session = new addon.Session(native);
    try {
      const [p, a, d] = session.runSync([], [pre, act, dPre!], []);
      const upstream = values(p!.data.length, 5);
      for (let i = 0; i < p!.data.length; i++) {
        const v = p!.data[i]!;
        const passes = activation === 'relu' ? v > 0 : v > 0 && v < 6;
        expect(d!.data[i]! + 0).toBe(passes ? upstream[i] : 0);
        expect(a!.data[i]).toBeCloseTo(activation === 'relu' ? Math.max(v, 0) : Math.min(Math.max(v, 0), 6), 6);
      }
    } finally {
      session.close();
    }
  });
});
