import { batchSize } from './batch-size.js';
import { blocks } from './blocks.js';
import { batchnormAxis } from './batchnorm-axis.js';
import { denseInputRank } from './dense-input-rank.js';
import { optimizerArgs } from './optimizer-args.js';
import { softmaxUnits } from './softmax-units.js';
import { sourceFields } from './source-fields.js';
import { spatialSize } from './spatial-size.js';
import { uniqueLayerNames } from './unique-layer-names.js';
import { monitor } from './monitor.js';
import type { Check } from './types.js';

export type { Check, DiscoveredClasses, Finding } from './types.js';

/** Cross-field checks, run in this order after validation and defaults. */
export const checks: Check[] = [sourceFields, batchSize, monitor, uniqueLayerNames, blocks, spatialSize, denseInputRank, batchnormAxis, softmaxUnits, optimizerArgs];
