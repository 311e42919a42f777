export { buildModel, applyTrainable, leafLayers, loadBaseWeights, type BuiltModel } from './build.js';
export { buildOptimizer, getLearningRate, prepareStep, setLearningRate } from './optimizers.js';
export { summarize, formatSummary, type ModelSummary } from './summary.js';
export { saveModel, loadModel } from './io.js';
export { layerDefs, layerDefByKind } from './layers/index.js';
export { SteppedDropout } from './layers/dropout.js';
export { layerNames, layerKind } from './names.js';
export { DESCRIPTOR_FILE, describeModel, readDescriptor, writeDescriptor, type ModelDescriptor } from './descriptor.js';
