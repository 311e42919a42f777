// fitspec from a script: an experiment built as a typed object, validated, trained while its epochs are
// watched (and stopped by a time limit), then its model used to predict and evaluate, and its run compared
// with the earlier ones.
//
//   node --import tsx train-from-script.ts                        (in a project that installed fitspec)
//   PER_CLASS=20 EPOCHS=1 node --import tsx train-from-script.ts  (a quick check)
import fs from 'node:fs';
import { compare, evaluate, FitspecError, formatProblem, generateImages, predict, train, validateExperiment, type ExperimentInput } from 'fitspec';

const perClass = Number(process.env.PER_CLASS ?? 100);
const epochs = Number(process.env.EPOCHS ?? 5);
const dataDir = 'data/script-faces';

if (!fs.existsSync(dataDir)) await generateImages({ out: dataDir, perClass });

const config: ExperimentInput = {
  name: 'from-script',
  description: 'A small CNN trained from examples/train-from-script.ts.',
  seed: 7,
  data: {
    source: { type: 'directory', path: dataDir },
    image: { height: 48, width: 48, channels: 3 },
    split: { train: 0.75, validation: 0.25 },
  },
  model: {
    layers: [
      { conv2d: { filters: 16, kernelSize: 3, activation: 'relu', padding: 'same' } },
      { maxPooling2d: { poolSize: 2 } },
      { conv2d: { filters: 32, kernelSize: 3, activation: 'relu', padding: 'same' } },
      { maxPooling2d: { poolSize: 2 } },
      { flatten: {} },
      { dense: { units: 32, activation: 'relu' } },
      { dense: { units: 3, activation: 'softmax' } },
    ],
  },
  train: { epochs, batchSize: 16, optimizer: { name: 'adam', learningRate: 0.001 } },
};

let loaded;
try {
  // The same checks as `fitspec validate --data`: schema, defaults, cross-field checks, the classes in the data.
  loaded = validateExperiment(config, { data: true });
} catch (e) {
  if (!(e instanceof FitspecError)) throw e;
  console.error(e.problems.map(formatProblem).join('\n'));
  process.exit(2);
}
for (const w of loaded.warnings) console.warn(formatProblem(w));

const result = await train(loaded, {
  progress: false,
  log: () => {},
  // Stops cleanly after the current step: the run ends KILLED and `train(loaded, { resume: runDir })` continues it.
  signal: AbortSignal.timeout(10 * 60_000),
  callbacks: {
    onEpochEnd(epoch, logs) {
      console.log(`epoch ${epoch + 1}: loss ${logs.loss?.toFixed(4)} val_accuracy ${logs.val_accuracy?.toFixed(3)}`);
    },
  },
});
console.log(`${result.status}: ${result.runDir}, best val_accuracy ${result.summary.best_val_accuracy?.toFixed(3)} at epoch ${result.summary.best_val_accuracy_epoch}`);

const { predictions } = await predict(result.runDir, [`${dataDir}/old`]);
const right = predictions.filter((p) => p.class === 'old').length;
console.log(`predict: ${right} of ${predictions.length} images of ${dataDir}/old classed old`);

const report = await evaluate(result.runDir, { part: 'validation' });
console.log(`evaluate: accuracy ${report.accuracy.toFixed(3)} on ${report.images} validation images (${report.file})`);

const { comparison } = await compare([], { experiment: 'from-script' });
for (const row of comparison.rows) console.log(`compare: ${row.id} ${row.epochs} epochs, best val_accuracy ${row.bestValAccuracy?.toFixed(3) ?? '-'}`);
