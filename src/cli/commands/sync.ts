import type { CliCommand } from '../command.js';

const command: CliCommand = {
  name: 'sync',
  register(program) {
    program
      .command('sync')
      .description('Upload local runs to MLflow (params, every metric with its step and time, tags, dataset, artifacts); safe to repeat')
      .argument('[runDirs...]', 'run folders (runs/<experiment>/<run id>); default: every run in --runs-dir not yet fully uploaded')
      .option('--uri <uri>', 'MLflow tracking URI (default: MLFLOW_TRACKING_URI, then the one the run was started with)')
      .option('--runs-dir <dir>', 'local run store searched when no run folder is given', 'runs')
      .action(async (runDirs: string[], opts: { uri?: string; runsDir: string }) => {
        const { syncRun, runsToSync, syncProblems } = await import('../../track/sync.js');
        const { FitspecError } = await import('../../errors.js');
        let dirs = runDirs;
        if (!dirs.length) {
          const { pending, running } = runsToSync(opts.runsDir);
          for (const r of running) process.stderr.write(`skipped ${r.dir}: still training (its process holds run.lock); sync it once it ends\n`);
          dirs = pending.map((r) => r.dir);
          if (!dirs.length) {
            process.stdout.write(`nothing to upload: every finished run in ${opts.runsDir} is in MLflow\n`);
            return;
          }
        }
        const problems: import('../../errors.js').Problem[] = [];
        for (const dir of dirs) {
          try {
            const r = await syncRun(dir, { uri: opts.uri, onRetry: (m) => process.stderr.write(`${m}\n`) });
            const what = r.created ? 'created' : 'updated';
            process.stdout.write(
              `${dir} -> ${r.uri}/#/experiments/${r.experimentId}/runs/${r.mlflowRunId} (${what}; ${r.metrics} metric points, ${r.artifacts} files sent; ${r.status})\n`,
            );
          } catch (e) {
            const list = syncProblems(dir, e);
            problems.push(...list);
          }
        }
        // Every run was attempted; the CLI prints each failure with its run folder and exits 2.
        if (problems.length) throw new FitspecError(problems);
      });
  },
};
export default command;
