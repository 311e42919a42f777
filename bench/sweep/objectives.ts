/**
 * Synthetic objectives with simulated learning curves (minimized), the TypeScript twin of
 * objectives.py (the bench checks both give the same values): loss(x, epoch) falls towards f(x),
 * reached at maxEpochs, at a speed that depends on x, so curves cross as real ones do.
 */
const A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
];
const ALPHA = [1.0, 1.2, 3.0, 3.2];

export interface Objective {
  f: (x: number[]) => number;
  bounds: [number, number][];
  min: number;
  scale: number;
}

export const OBJECTIVES: Record<string, Objective> = {
  branin: {
    f: (x) => {
      const b = 5.1 / (4 * Math.PI ** 2);
      const c = 5 / Math.PI;
      const t = 1 / (8 * Math.PI);
      return (x[1]! - b * x[0]! ** 2 + c * x[0]! - 6) ** 2 + 10 * (1 - t) * Math.cos(x[0]!) + 10;
    },
    bounds: [
      [-5, 10],
      [0, 15],
    ],
    min: 0.397887,
    scale: 10,
  },
  hartmann6: {
    f: (x) => -ALPHA.reduce((s, a, i) => s + a * Math.exp(-x.reduce((q, xj, j) => q + A[i]![j]! * (xj - 1e-4 * P[i]![j]!) ** 2, 0)), 0),
    bounds: Array.from({ length: 6 }, () => [0, 1] as [number, number]),
    min: -3.32237,
    scale: 1,
  },
  rosenbrock4: {
    f: (x) => Math.log1p([0, 1, 2].reduce((s, i) => s + 100 * (x[i + 1]! - x[i]! ** 2) ** 2 + (1 - x[i]!) ** 2, 0)),
    bounds: Array.from({ length: 4 }, () => [-2, 2] as [number, number]),
    min: 0,
    scale: 2,
  },
};

export function loss(name: string, x: number[], epoch: number, maxEpochs: number): number {
  const o = OBJECTIVES[name]!;
  const speed = 0.5 + 0.5 * Math.sin(7 * x.reduce((a, b) => a + b, 0));
  return o.f(x) + o.scale * speed * (1 / Math.sqrt(epoch) - 1 / Math.sqrt(maxEpochs));
}
