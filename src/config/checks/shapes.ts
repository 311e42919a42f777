import type { Experiment, LayerSpecT } from '../schema/experiment.js';
import { buildNetwork, type BlockDefT } from '../blocks.js';

/** Shape of one example (no batch axis), e.g. [126, 126, 32] or [512]. */
export type Shape = number[];

const pair = (v: number | number[] | undefined, def: number): [number, number] => (v === undefined ? [def, def] : typeof v === 'number' ? [v, v] : [v[0], v[1]]);

function spatial(shape: Shape, window: [number, number], strides: [number, number], padding: string | undefined, channels: number): Shape {
  const out = [0, 1].map((d) => (padding === 'same' ? Math.ceil(shape[d] / strides[d]) : Math.floor((shape[d] - window[d]) / strides[d]) + 1));
  return [out[0], out[1], channels];
}

/** Output shapes of layer plugins' kinds (their `outputShape`), by kind. */
export type PluginShapes = Map<string, (args: Record<string, unknown>, input: Shape) => Shape>;

/** Output shape of one known layer kind, as Keras computes it (channels last). */
export function outputShape(layer: LayerSpecT, input: Shape, plugins?: PluginShapes): Shape {
  const kind = Object.keys(layer)[0] as keyof LayerSpecT;
  const a = (layer as Record<string, Record<string, unknown>>)[kind] ?? {};
  const plugin = plugins?.get(kind);
  if (plugin) return plugin(a, [...input]);
  switch (kind) {
    case 'conv2d':
      if (input.length !== 3) return input;
      return spatial(input, pair(a.kernelSize as number, 1), pair(a.strides as number, 1), a.padding as string, a.filters as number);
    case 'depthwiseConv2d':
      if (input.length !== 3) return input;
      return spatial(input, pair(a.kernelSize as number, 1), pair(a.strides as number, 1), a.padding as string, input[2] * ((a.depthMultiplier as number) ?? 1));
    case 'maxPooling2d':
    case 'averagePooling2d': {
      if (input.length !== 3) return input;
      const pool = pair(a.poolSize as number, 2);
      return spatial(input, pool, a.strides === undefined ? pool : pair(a.strides as number, 1), a.padding as string, input[2]);
    }
    case 'globalAveragePooling2d':
    case 'globalMaxPooling2d':
      return input.length === 3 ? [input[2]] : input;
    case 'separableConv2d':
      if (input.length !== 3) return input;
      return spatial(input, pair(a.kernelSize as number, 1), pair(a.strides as number, 1), a.padding as string, a.filters as number);
    case 'zeroPadding2d': {
      if (input.length !== 3) return input;
      const p = a.padding as number | number[] | number[][] | undefined;
      const [[t, b], [l, r]] = (p === undefined
        ? [
            [1, 1],
            [1, 1],
          ]
        : typeof p === 'number'
          ? [
              [p, p],
              [p, p],
            ]
          : typeof p[0] === 'number'
            ? [
                [p[0], p[0]],
                [p[1], p[1]],
              ]
            : p) as number[][] as [[number, number], [number, number]];
      return [input[0] + t + b, input[1] + l + r, input[2]];
    }
    case 'resizing':
      return input.length === 3 ? [a.height as number, a.width as number, input[2]] : input;
    case 'reshape': {
      // -1 takes what is left; a target that cannot hold the input's values gives 0s (the spatial-size check says so).
      const target = a.targetShape as number[];
      const known = target.filter((d) => d !== -1).reduce((x, y) => x * y, 1);
      const total = input.reduce((x, y) => x * y, 1);
      const fits = target.includes(-1) ? total % known === 0 : total === known;
      return fits ? target.map((d) => (d === -1 ? total / known : d)) : target.map(() => 0);
    }
    case 'flatten':
      return [input.reduce((x, y) => x * y, 1)];
    case 'dense':
      return [...input.slice(0, -1), a.units as number];
    default:
      return input;
  }
}

/**
 * Input shape of every entry of the stack, walked from `data.image` through the base's layers; empty
 * when the base's layers are not known here. The walk stops at a layer whose output would have a
 * dimension below 1. Blocks (residual, parallel, named) are walked through their network.
 */
export function inputShapes(exp: Experiment, plugins?: PluginShapes): Shape[] {
  const base = exp.model.base as { layers?: LayerSpecT[]; blocks?: Record<string, BlockDefT> } | undefined;
  if (base && !base.layers) return [];
  let shape: Shape = [exp.data.image.height, exp.data.image.width, exp.data.image.channels];
  if (base?.layers) {
    const net = buildNetwork(base.layers, base.blocks, ['model', 'base', 'layers'], shape, plugins);
    const out = net.output < 0 ? shape : net.nodes[net.output]!.shape;
    if (!out || net.problems.length) return [];
    shape = out;
  }
  const net = buildNetwork(exp.model.layers, (exp.model as { blocks?: Record<string, BlockDefT> }).blocks, ['model', 'layers'], shape, plugins);
  const shapes: Shape[] = [];
  for (const s of net.entryInputs) {
    if (!s) break;
    shapes.push(s);
  }
  return shapes;
}

export const showShape = (s: Shape) => `(batch, ${s.join(', ')})`;
