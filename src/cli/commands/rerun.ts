import type { CliCommand } from '../command.js';

const command: CliCommand = {
  name: 'rerun',
  loadsTensorFlow: true,
  register(program) {
    program
      .command('rerun')
      .argument('<run>', 'run folder, fitspec run id, MLflow run id or runs:/<MLflow run id>')
      .description(
        'Train a run again from its logged resolved config and split, as a new run tagged with the run it repeats; says first why the metrics could differ, then whether they do',
      )
      .option('--runs-dir <dir>', 'where run folders are found by id', 'runs')
      .option('--no-progress', 'one line per epoch instead of a live progress bar')
      .action(async (ref: string, opts: { runsDir: string; progress: boolean }) => {
        const { findRun, readLoggedRun, whyNotIdentical, rerunExperiment, firstDifference } = await import('../../train/rerun.js');
        const run = readLoggedRun(await findRun(ref, opts.runsDir));
        const exp = run.loaded.experiment;
        const { initBackend } = await import('../../backend.js');
        const reasons = whyNotIdentical(run, await initBackend(exp.train.backend, exp.train.threads));
        const out = (m: string) => process.stdout.write(m + '\n');
        out(`rerun of ${run.dir} (${run.record.runId}, config ${run.loaded.hash.slice(0, 12)}): the logged resolved config and split`);
        if (reasons.length) out(`the metrics may differ from the run's:\n${reasons.map((r) => `  - ${r}`).join('\n')}`);
        const { train } = await import('../../train/index.js');
        const result = await train(rerunExperiment(run), { split: run.split, tty: opts.progress ? undefined : false });
        if (result.status === 'KILLED') {
          process.exitCode = 130;
          return;
        }
        const { readMetrics } = await import('../../track/runs.js');
        const { historyFromPoints } = await import('../../report/compare.js');
        const now = historyFromPoints(readMetrics(result.runDir).filter((p) => !p.key.startsWith('test_')));
        const diff = firstDifference(run.history, now, Math.max(run.history.length, now.length));
        if (!diff) out(`the new run ${result.runDir} repeats every metric of ${run.record.runId} exactly (${now.length} epochs)`);
        else
          out(
            `the new run ${result.runDir} differs from ${run.record.runId} first at epoch ${diff.epoch}, ${diff.metric}: ${diff.logged} then, ${diff.now} now${reasons.length ? '' : ' (nothing known differs: a bug worth reporting)'}`,
          );
      });
  },
};
export default command;
