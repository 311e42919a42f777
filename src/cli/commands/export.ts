import path from 'node:path';
import type { CliCommand } from '../command.js';
import { FitspecError } from '../../errors.js';

const FORMATS = ['keras', 'savedmodel', 'tflite', 'onnx', 'tfjs', 'mlflow'];

const command: CliCommand = {
  name: 'export',
  register(program) {
    program
      .command('export')
      .argument('<model>', 'a finished run folder, a model folder, or an MLflow model: runs:/<run id>, models:/<name>/<version>, models:/<name>@<alias>')
      .description("Write a run's model as Keras (.keras), SavedModel, TFLite, ONNX, tfjs or an MLflow Model, each made by its ecosystem's converter")
      .requiredOption('--format <formats>', `${FORMATS.join(' | ')}; several separated by commas`)
      .option('--out <dir>', 'output folder (default: <run>/export; for mlflow: the model folder itself)')
      .option('--json', 'print the files written as JSON')
      .action(async (ref: string, opts: { format: string; out?: string; json?: boolean }) => {
        const formats = opts.format
          .split(',')
          .map((f) => f.trim())
          .filter(Boolean);
        const bad = formats.filter((f) => !FORMATS.includes(f));
        if (bad.length || !formats.length)
          throw new FitspecError({ code: 'cli.usage', message: `Unknown export format ${bad.join(', ') || '(none)'}.`, expected: FORMATS.join(' | '), received: opts.format });
        const { locateModel } = await import('../../track/model-ref.js');
        const where = await locateModel(ref);
        const out = opts.out ?? (formats.length === 1 && formats[0] === 'mlflow' ? where.modelDir : path.join(where.runDir ?? path.dirname(where.modelDir), 'export'));
        const { exportModel } = await import('../../export/index.js');
        const result = await exportModel(where.modelDir, out, formats as never, { log: (m) => process.stderr.write(m + '\n') });
        if (opts.json) {
          process.stdout.write(JSON.stringify(result, null, 2) + '\n');
          return;
        }
        for (const [f, file] of Object.entries(result.files)) process.stdout.write(`${f.padEnd(11)} ${path.relative(process.cwd(), file!) || file}\n`);
        const v = Object.entries(result.versions)
          .map(([k, x]) => `${k} ${x}`)
          .join(', ');
        if (v) process.stdout.write(`converted with ${v}\n`);
      });
  },
};
export default command;
