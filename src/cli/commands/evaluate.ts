import fs from 'node:fs';
import path from 'node:path';
import { Option } from 'commander';
import type { CliCommand } from '../command.js';
import { FitspecError } from '../../errors.js';

type Source = import('../../config/schema/experiment.js').DataConfig['source'];

/** `--data` as a data source: a CSV file is a `csv` source, anything else a folder of class folders. */
function otherSource(opts: { data?: string; images?: string; idColumn?: string; labelColumn?: string }, runSource: Source): Source {
  const data = opts.data!;
  const isCsv = fs.existsSync(data) && fs.statSync(data).isFile();
  if (!isCsv) {
    if (opts.images || opts.idColumn || opts.labelColumn) throw new FitspecError({ code: 'cli.usage', message: '--images, --id-column and --label-column go with a labels CSV as --data, not a folder.', received: data });
    return { type: 'directory', path: data };
  }
  const csv = runSource.type === 'csv' ? runSource : undefined;
  return { type: 'csv', labels: data, images: opts.images ?? path.dirname(data), idColumn: opts.idColumn ?? csv?.idColumn ?? 'ID', labelColumn: opts.labelColumn ?? csv?.labelColumn ?? 'Class' } as Source;
}

const command: CliCommand = {
  name: 'evaluate',
  loadsTensorFlow: true,
  register(program) {
    program
      .command('evaluate')
      .argument('<runDir>', 'a finished run folder (runs/<experiment>/<run id>)')
      .description("Evaluate a run's trained model on its own validation/test split, or on other labelled images")
      .option('--data <path>', 'other labelled images, in either source form of `data.source`: a folder with one subfolder per class, or a labels CSV (same class names as the run)')
      .option('--images <dir>', 'with a CSV --data: the folder of the images (default: the folder of the CSV)')
      .option('--id-column <name>', "with a CSV --data: the column of image ids (default: the run's, else ID)")
      .option('--label-column <name>', "with a CSV --data: the column of labels (default: the run's, else Class)")
      .addOption(new Option('--part <part>', 'split of the run to evaluate when --data is not given').choices(['validation', 'test', 'train']).default('validation'))
      .option('--json', 'print the report as JSON')
      .action(async (runDir: string, opts: { data?: string; images?: string; idColumn?: string; labelColumn?: string; part: 'validation' | 'test' | 'train'; json?: boolean }) => {
        const { loadExperiment } = await import('../../config/index.js');
        const resolved = loadExperiment(path.join(runDir, 'resolved.yaml'));
        const exp = resolved.experiment;
        const { initBackend } = await import('../../backend.js');
        await initBackend(exp.train.backend, exp.train.threads);
        const { loadTrainedRun, predictFiles } = await import('../../train/predict.js');
        const { confusionMatrix, classificationReport } = await import('../../report/index.js');
        const run = await loadTrainedRun(runDir, { exp, plugins: resolved.plugins });
        let truth: number[];
        let pred: number[];
        let label: string;
        if (opts.data) {
          const { listSource } = await import('../../data/sources.js');
          const listing = listSource({ ...exp.data, source: otherSource(opts, exp.data.source), classes: run.classes });
          if (listing.problems.length && exp.data.onError === 'fail') throw new FitspecError(listing.problems);
          const probs = await predictFiles(run, exp, listing.items.map((i) => i.file));
          truth = listing.items.map((i) => i.label);
          pred = probs.map((p) => p.indexOf(Math.max(...p)));
          label = opts.data;
        } else {
          const { prepareData } = await import('../../data/index.js');
          const { predictPart } = await import('../../train/trainer.js');
          const data = await prepareData(exp.data, exp.seed);
          if (!data.parts[opts.part]?.ids.length) throw new FitspecError({ code: 'evaluate.empty-part', message: `The run has no ${opts.part} split (data.split.${opts.part} is 0).`, path: `data.split.${opts.part}` });
          ({ truth, pred } = await predictPart(run.model, data, opts.part, exp));
          label = opts.part;
        }
        const matrix = confusionMatrix(truth, pred, run.classes.length);
        const report = { data: label, images: truth.length, classes: run.classes, matrix, ...classificationReport(matrix, run.classes) };
        const out = path.join(runDir, 'reports', `evaluate-${opts.data ? 'data' : opts.part}.json`);
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
        if (opts.json) {
          process.stdout.write(JSON.stringify(report, null, 2) + '\n');
          return;
        }
        process.stdout.write(`${label}: ${truth.length} images, accuracy ${report.accuracy.toFixed(4)}\n`);
        process.stdout.write(`${'class'.padEnd(12)}${'precision'.padStart(10)}${'recall'.padStart(10)}${'f1'.padStart(10)}${'support'.padStart(10)}\n`);
        for (const c of run.classes) {
          const m = report.perClass[c]!;
          process.stdout.write(`${c.padEnd(12)}${m.precision.toFixed(3).padStart(10)}${m.recall.toFixed(3).padStart(10)}${m.f1.toFixed(3).padStart(10)}${String(m.support).padStart(10)}\n`);
        }
        process.stdout.write(`report written to ${out}\n`);
      });
  },
};
export default command;
