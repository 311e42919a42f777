import { batchSize } from './batch-size.js';
import { batchnormAxis } from './batchnorm-axis.js';
import { denseInputRank } from './dense-input-rank.js';
import { optimizerArgs } from './optimizer-args.js';
import { softmaxUnits } from './softmax-units.js';
import { sourceFields } from './source-fields.js';
import { spatialSize } from './spatial-size.js';
import { uniqueLayerNames } from './unique-layer-names.js';
import { valMonitor } from './val-monitor.js';
import type { Check } from './types.js';

export type { Check, Finding } from './types.js';

/** Cross-field checks, run in this order after validation and defaults. */
export const checks: Check[] = [sourceFields, batchSize, valMonitor, uniqueLayerNames, spatialSize, denseInputRank, batchnormAxis, softmaxUnits, optimizerArgs];
