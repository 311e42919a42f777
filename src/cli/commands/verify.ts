import { Option } from 'commander';
import type { CliCommand } from '../command.js';

const command: CliCommand = {
  name: 'verify',
  loadsTensorFlow: true,
  register(program) {
    program
      .command('verify')
      .argument('<run>', 'run folder, fitspec run id, MLflow run id or runs:/<MLflow run id>')
      .description(
        'Retrain the first epochs of a run from its logged config and split (in a scratch folder, untracked) and check that every metric is identical; exit 1 with the first difference when it is not on the same kernels',
      )
      .addOption(new Option('--epochs <n>', 'epochs to retrain (default: all the run has)').argParser((v) => Number.parseInt(v, 10)))
      .option('--runs-dir <dir>', 'where run folders are found by id', 'runs')
      .action(async (ref: string, opts: { epochs?: number; runsDir: string }) => {
        const { FitspecError } = await import('../../errors.js');
        if (opts.epochs !== undefined && !(opts.epochs >= 1))
          throw new FitspecError({ code: 'cli.usage', message: '--epochs is a number of epochs, at least 1.', received: String(opts.epochs) });
        const { findRun, readLoggedRun, whyNotIdentical, rerunExperiment, firstDifference, modelMetrics } = await import('../../train/rerun.js');
        const run = readLoggedRun(await findRun(ref, opts.runsDir));
        const epochs = Math.min(opts.epochs ?? run.history.length, run.history.length);
        if (epochs < 1) throw new FitspecError({ code: 'verify.no-epochs', message: `${run.dir} has no logged epoch to verify`, file: run.dir });
        const exp = run.loaded.experiment;
        const { initBackend } = await import('../../backend.js');
        const reasons = whyNotIdentical(run, await initBackend(exp.train.backend, exp.train.threads));
        const out = (m: string) => process.stdout.write(m + '\n');
        if (reasons.length) out(`the metrics cannot be expected to be identical:\n${reasons.map((r) => `  - ${r}`).join('\n')}`);
        const fs = await import('node:fs');
        const os = await import('node:os');
        const path = await import('node:path');
        const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-verify-'));
        // A check, not a result: nothing is logged to MLflow and nothing stays in runs/.
        delete process.env.MLFLOW_TRACKING_URI;
        try {
          const { train } = await import('../../train/index.js');
          const result = await train(rerunExperiment(run, { runsDir: scratch, untracked: true }), { split: run.split, maxEpochs: epochs, tty: false, log: () => {} });
          if (result.status === 'KILLED') {
            process.exitCode = 130;
            return;
          }
          const { readMetrics } = await import('../../track/runs.js');
          const { historyFromPoints } = await import('../../report/compare.js');
          const now = historyFromPoints(readMetrics(result.runDir).filter((p) => !p.key.startsWith('test_')));
          const diff = firstDifference(run.history, now, epochs);
          const metrics = run.history[0] ? modelMetrics(run.history[0]).length : 0;
          if (!diff) {
            out(`identical: ${epochs} epoch${epochs === 1 ? '' : 's'} of ${run.record.runId} retrained, ${metrics} metrics each, bit for bit`);
            return;
          }
          out(`differs at epoch ${diff.epoch}, ${diff.metric}: logged ${diff.logged}, retrained ${diff.now}`);
          if (reasons.length) out('not counted as a failure: the run was trained in another environment (above)');
          else process.exitCode = 1;
        } finally {
          fs.rmSync(scratch, { recursive: true, force: true });
        }
      });
  },
};
export default command;
