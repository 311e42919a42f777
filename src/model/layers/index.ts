import * as tf from '@tensorflow/tfjs';
import type { LayerKind } from '../../config/schema/layers.js';
import { activation } from './activation.js';
import { averagePooling2d } from './average-pooling2d.js';
import { batchNormalization } from './batch-normalization.js';
import { conv2d } from './conv2d.js';
import { dense } from './dense.js';
import { depthwiseConv2d } from './depthwise-conv2d.js';
import { dropout } from './dropout.js';
import { flatten } from './flatten.js';
import { globalAveragePooling2d } from './global-average-pooling2d.js';
import { globalMaxPooling2d } from './global-max-pooling2d.js';
import { layerNormalization } from './layer-normalization.js';
import { maxPooling2d } from './max-pooling2d.js';
import { mergeDefs, type MergeDef } from './merge.js';
import { reLU } from './re-lu.js';
import { rescaling } from './rescaling.js';
import { reshape } from './reshape.js';
import { resizing } from './resizing.js';
import { separableConv2d } from './separable-conv2d.js';
import { spatialDropout2d } from './spatial-dropout2d.js';
import type { LayerDef } from './types.js';
import { zeroPadding2d } from './zero-padding2d.js';

/** Every layer kind a config may use; the schema lists the same kinds (a test checks both agree). */
export const layerDefs: LayerDef[] = [
  conv2d,
  depthwiseConv2d,
  maxPooling2d,
  averagePooling2d,
  globalAveragePooling2d,
  batchNormalization,
  dropout,
  flatten,
  dense,
  activation,
  zeroPadding2d,
  separableConv2d,
  globalMaxPooling2d,
  reshape,
  layerNormalization,
  spatialDropout2d,
  rescaling,
  resizing,
  reLU,
] as LayerDef[];

export const layerDefByKind = new Map<LayerKind, LayerDef>(layerDefs.map((d) => [d.kind, d]));

/** Makes tfjs deserialize the classes fitspec replaces (such as `Resizing`) as fitspec's; called before a model is loaded. */
export function registerLayerClasses(): void {
  for (const d of layerDefs) if (d.layerClass) tf.serialization.registerClass(d.layerClass);
}

/** By tfjs / Keras class name (`layer.getClassName()`): how the graph engine finds a built layer's kind. */
export const layerDefByClass = new Map<string, Pick<LayerDef, 'kerasClass' | 'graph'>>([...layerDefs, ...mergeDefs].map((d) => [d.kerasClass, d]));

export const mergeDefByKind = new Map<string, MergeDef>(mergeDefs.map((d) => [d.kind, d]));
