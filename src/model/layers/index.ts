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
import { maxPooling2d } from './max-pooling2d.js';
import { mergeDefs, type MergeDef } from './merge.js';
import type { LayerDef } from './types.js';

/** Every layer kind a config may use; the schema lists the same kinds (a test checks both agree). */
export const layerDefs: LayerDef[] = [conv2d, depthwiseConv2d, maxPooling2d, averagePooling2d, globalAveragePooling2d, batchNormalization, dropout, flatten, dense, activation] as LayerDef[];

export const layerDefByKind = new Map<LayerKind, LayerDef>(layerDefs.map((d) => [d.kind, d]));

/** By tfjs / Keras class name (`layer.getClassName()`): how the graph engine finds a built layer's kind. */
export const layerDefByClass = new Map<string, Pick<LayerDef, 'kerasClass' | 'graph'>>([...layerDefs, ...mergeDefs].map((d) => [d.kerasClass, d]));

export const mergeDefByKind = new Map<string, MergeDef>(mergeDefs.map((d) => [d.kind, d]));
