import fs from 'node:fs';
import { Option } from 'commander';
import { withConfigOptions, type CliCommand } from '../command.js';
import { FitspecError } from '../../errors.js';
import { printProblems } from '../output.js';

interface SweepOpts {
  set: string[];
  dryRun?: boolean;
  parallel?: number;
  threads?: number;
  queue?: string;
  follow?: boolean;
  yes?: boolean;
  runsDir: string;
}

const out = (m: string) => process.stdout.write(m + '\n');
const int = (v: string) => Number.parseInt(v, 10);

const command: CliCommand = {
  name: 'sweep',
  loadsTensorFlow: true,
  register(program) {
    withConfigOptions(
      program
        .command('sweep')
        .argument('<file|status|cancel>', 'sweep file (an experiment with a `sweep:` block), or `status NAME` / `cancel NAME`')
        .argument('[name]', 'sweep name, for `status` and `cancel`')
        .description('Run a search over an experiment: every trial trained once, here or by workers on any machine')
        .option('--dry-run', 'list the trials (values, config hash) and train nothing')
        .addOption(new Option('--parallel <n>', 'worker processes on this machine (default: sweep.parallel)').argParser(int))
        .addOption(new Option('--threads <n>', 'TensorFlow threads per worker process (default: the cores split between them)').argParser(int))
        .option('--queue <redis-url>', 'enqueue the trials in Redis (BullMQ) for `fitspec worker` processes instead of training here')
        .option('--follow', 'with --queue: wait and show progress until every trial is done')
        .option('--yes', 'run a sweep larger than sweep.maxTrials')
        // As `train` takes it; trials always log one line per epoch (several share the terminal).
        .option('--no-progress', 'one line per epoch instead of a live progress bar (trials always print lines)')
        .option('--runs-dir <dir>', 'with `status`: the local run store to read', 'runs'),
    ).action(async (first: string, name: string | undefined, opts: SweepOpts) => {
      if ((first === 'status' || first === 'cancel') && !fs.existsSync(first)) return first === 'status' ? status(name, opts) : cancel(name, opts);
      if (name) throw new FitspecError({ code: 'cli.usage', message: `fitspec sweep takes one file; \`${name}\` is extra (for a sweep's progress: fitspec sweep status NAME).` });
      const { planSweep } = await import('../../sweep/plan.js');
      const plan = planSweep(first, { set: opts.set, yes: opts.yes });
      printProblems(plan.base.warnings);
      if (opts.dryRun) return dryRun(plan);
      const { isScheduled } = await import('../../sweep/drive.js');
      const scheduled = isScheduled(plan);
      if (opts.queue && scheduled) return coordinate(plan, opts);
      if (opts.queue) return enqueue(plan, opts);
      const { runSweep } = await import('../../api/sweep.js');
      const { formatTable, resultRows, budgetOf, formatBudget } = await import('../../sweep/records.js');
      const r = await runSweep(plan, { parallel: opts.parallel, threads: opts.threads, log: out });
      out('');
      out(formatTable(resultRows(r.meta, r.outcomes), undefined));
      if (r.meta.scheduler) out(formatBudget(budgetOf(r.meta, r.outcomes)));
      const best = r.best;
      if (best) out(`best: ${best.trial} ${r.meta.metric} ${best.metric}`);
      out(`results: ${r.dir}/results.csv`);
      const failed = r.outcomes.filter((o) => o.status !== 'FINISHED' && o.status !== 'SKIPPED' && o.status !== 'PAUSED');
      if (failed.length) process.exitCode = failed.some((o) => o.status === 'KILLED') ? 130 : 2;
    });
  },
};
export default command;

async function coordinate(plan: import('../../sweep/plan.js').SweepPlan, opts: SweepOpts) {
  const { coordinateSweep, showQueueUrl } = await import('../../sweep/queue.js');
  const { formatTable, resultRows, bestTrial, budgetOf, formatBudget } = await import('../../sweep/records.js');
  const r = await coordinateSweep(opts.queue!, plan, { parallel: opts.parallel ?? plan.sweep.parallel, log: out });
  out('');
  out(formatTable(resultRows(r.meta, r.outcomes)));
  if (r.meta.scheduler) out(formatBudget(budgetOf(r.meta, r.outcomes)));
  const best = bestTrial(r.outcomes, r.meta.mode);
  if (best) out(`best: ${best.trial} ${r.meta.metric} ${best.metric}`);
  if (r.cancelled) out(`sweep ${r.meta.name} was cancelled: run the same command again to continue it`);
  out(`progress from anywhere: fitspec sweep status ${r.meta.name} --queue ${showQueueUrl(opts.queue!)}`);
  if (r.outcomes.some((o) => o.status === 'FAILED')) process.exitCode = 2;
}

async function dryRun(plan: import('../../sweep/plan.js').SweepPlan) {
  const { MODEL_BASED } = await import('../../sweep/plan.js');
  if (MODEL_BASED.has(plan.sweep.method)) {
    const { searchSpace } = await import('../../sweep/sampler.js');
    out(
      `sweep ${plan.name}: ${plan.sweep.method}, ${plan.sweep.count} trials drawn by Optuna one at a time from the results so far (seed ${plan.sweep.seed}), ranked by ${plan.sweep.metric} (${plan.sweep.mode})${plan.sweep.scheduler ? `, scheduler ${plan.sweep.scheduler.type} ${plan.sweep.scheduler.minEpochs}-${plan.sweep.scheduler.maxEpochs} epochs` : ''}; nothing is trained (--dry-run)`,
    );
    for (const p of searchSpace(plan.sweep))
      out(
        `  ${p.name}: ${p.type === 'categorical' ? `one of ${p.choices} values` : `${p.type} ${p.low}..${p.high}${p.log ? ' (log)' : ''}${p.step ? ` step ${p.step}` : ''}`}${p.when ? ` when ${JSON.stringify(plan.sweep.parameters[p.name]!.when)}` : ''}`,
      );
    return;
  }
  const { formatTable, localTrialRuns } = await import('../../sweep/records.js');
  const { valueLabel } = await import('../../sweep/plan.js');
  const keys = Object.keys(plan.sweep.parameters);
  const runsDir = plan.base.experiment.tracking.runsDir;
  const rows = plan.trials.map((t) => ({
    trial: t.id,
    ...Object.fromEntries(keys.map((k) => [k, valueLabel(plan.sweep.parameters[k], t.params[k])])),
    hash: t.hash.slice(0, 12),
    state: localTrialRuns(runsDir, plan.experimentName, plan.name, t.hash).some((r) => r.record.status === 'FINISHED') ? 'finished' : 'to train',
  }));
  out(`sweep ${plan.name}: ${plan.sweep.method}, ${plan.trials.length} trials, ranked by ${plan.sweep.metric} (${plan.sweep.mode}); nothing is trained (--dry-run)`);
  out(formatTable(rows));
  for (const d of plan.duplicates) out(`${d.id}: the same config as ${d.sameAs}, left out`);
}

async function enqueue(plan: import('../../sweep/plan.js').SweepPlan, opts: SweepOpts) {
  const { enqueueSweep, checkQueue, showQueueUrl } = await import('../../sweep/queue.js');
  const { openSweep } = await import('../../sweep/run.js');
  const redactUri = showQueueUrl;
  // A queue that is down is reported before anything is created.
  await checkQueue(opts.queue!);
  const { meta, jobs } = await openSweep(plan, out);
  const r = await enqueueSweep(opts.queue!, meta, jobs);
  out(`sweep ${meta.name}: ${r.added.length} trials enqueued, ${r.present.length} already queued or done, at ${redactUri(opts.queue!)}`);
  out(`start workers with: fitspec worker --queue ${redactUri(opts.queue!)}   progress: fitspec sweep status ${meta.name} --queue ${redactUri(opts.queue!)}`);
  if (opts.follow) await follow(meta.name, opts.queue!);
}

async function follow(name: string, url: string) {
  const { sweepStatus } = await import('../../sweep/queue.js');
  let last = '';
  for (;;) {
    const s = await sweepStatus(url, name);
    const line = `done ${s.counts.done}, running ${s.counts.running}, queued ${s.counts.queued}, failed ${s.counts.failed}`;
    if (line !== last) out(`sweep ${name}: ${line}`);
    last = line;
    if (!s.counts.running && !s.counts.queued) {
      await printQueueStatus(s);
      if (s.counts.failed) process.exitCode = 2;
      return;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

async function printQueueStatus(s: import('../../sweep/queue.js').SweepStatus) {
  const { formatTable, resultRows, bestTrial, budgetOf, formatBudget } = await import('../../sweep/records.js');
  const c = s.counts;
  out(
    `sweep ${s.meta.name}: done ${c.done}, running ${c.running}, queued ${c.queued}, failed ${c.failed}${c.cancelled ? `, cancelled ${c.cancelled}` : ''} (of ${s.meta.count && (s.meta.method === 'tpe' || s.meta.method === 'cmaes') ? s.meta.count : s.meta.trials.length})`,
  );
  const stateOf = new Map(s.trials.map((t) => [t.trial, t.state]));
  out(formatTable(resultRows(s.meta, s.outcomes).map((r) => ({ ...r, status: r.status === 'PENDING' ? stateOf.get(r.trial)! : r.status }))));
  if (s.meta.scheduler) out(formatBudget(budgetOf(s.meta, s.outcomes)));
  const best = bestTrial(s.outcomes, s.meta.mode);
  out(best ? `best so far: ${best.trial} ${s.meta.metric} ${best.metric}` : 'no finished trial yet');
  if (s.meta.cancelled) out(`sweep ${s.meta.name} was cancelled (fitspec sweep cancel)`);
}

async function status(name: string | undefined, opts: SweepOpts) {
  if (!name) throw new FitspecError({ code: 'cli.usage', message: 'Missing the sweep name: fitspec sweep status NAME [--queue redis://HOST:PORT]' });
  const { formatTable, resultRows, bestTrial, sweepDir, budgetOf, formatBudget } = await import('../../sweep/records.js');
  if (opts.queue) {
    const { sweepStatus } = await import('../../sweep/queue.js');
    await printQueueStatus(await sweepStatus(opts.queue, name));
    return;
  }
  const dir = sweepDir(opts.runsDir, name);
  const file = `${dir}/results.json`;
  if (!fs.existsSync(`${dir}/sweep.json`))
    throw new FitspecError({
      code: 'sweep.unknown',
      message: `No sweep named ${JSON.stringify(name)} in ${opts.runsDir}/sweeps/; for a queued sweep add --queue redis://HOST:PORT.`,
      received: name,
    });
  const meta = JSON.parse(fs.readFileSync(`${dir}/sweep.json`, 'utf8'));
  const outcomes = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')).trials : [];
  const rows = resultRows(meta, outcomes);
  const n = (st: string) => rows.filter((r) => r.status === st).length;
  if (meta.scheduler) {
    const st = (x: string) => rows.filter((r) => r.state === x).length;
    out(
      `sweep ${name}: finished ${st('finished')}, stopped ${st('stopped')}, paused ${st('paused')}, running ${st('running') + st('promoted')}, failed ${st('failed')} (of ${meta.count && (meta.method === 'tpe' || meta.method === 'cmaes') ? meta.count : rows.length})`,
    );
  } else out(`sweep ${name}: done ${n('FINISHED')}, failed ${n('FAILED')}, not done ${rows.length - n('FINISHED') - n('FAILED')} (of ${rows.length})`);
  out(formatTable(rows));
  if (meta.scheduler) out(formatBudget(budgetOf(meta, outcomes)));
  const best = bestTrial(outcomes, meta.mode);
  out(best ? `best: ${best.trial} ${meta.metric} ${best.metric}` : 'no finished trial yet');
  if (meta.cancelled) out(`sweep ${name} was cancelled (fitspec sweep cancel)`);
}

async function cancel(name: string | undefined, opts: SweepOpts) {
  if (!name) throw new FitspecError({ code: 'cli.usage', message: 'Missing the sweep name: fitspec sweep cancel NAME --queue redis://HOST:PORT' });
  if (!opts.queue) throw new FitspecError({ code: 'cli.usage', message: 'fitspec sweep cancel needs --queue redis://HOST:PORT (a sweep run here stops with Ctrl-C).' });
  const { cancelSweep } = await import('../../sweep/queue.js');
  const r = await cancelSweep(opts.queue, name);
  if (!r.coordinated) {
    out(`sweep ${name}: ${r.removed} queued trials removed${r.running ? `; ${r.running} running trials finish, nothing else of this sweep starts` : ''}`);
    return;
  }
  out(
    `sweep ${name}: ${r.removed} queued jobs removed${r.running ? `; ${r.running} running jobs finish their current rung` : ''}; no new trial or promotion starts${r.coordinator ? '; its `fitspec sweep --queue` process stops within seconds' : ''}`,
  );
}
