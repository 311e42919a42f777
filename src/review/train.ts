import { createHash } from 'node:crypto';
import type { TrialJob, TrialOutcome, SweepMeta } from '../sweep/records.js';
import type { Affected, Unit } from './affected.js';
import type { Results } from './results.js';

/** One stale experiment (or sweep) and the configs of it that have no finished run. */
export interface StaleWork {
  affected: Affected;
  units: Unit[];
}

export function staleWork(affected: Affected[], results: Results): StaleWork[] {
  return affected.filter((a) => results.byAffected.get(a)?.stale).map((a) => ({ affected: a, units: results.byAffected.get(a)!.head.missing }));
}

/** Epochs a config trains at most (early stopping may end it sooner). */
export function plannedEpochs(u: Unit): number {
  const t = u.loaded.experiment.train;
  return t.phases?.length ? t.phases.reduce((s, p) => s + p.epochs, 0) : t.epochs;
}

/** What `--train-stale --dry-run` prints: every config it would train, with its epochs. */
export function formatStalePlan(work: StaleWork[]): string {
  const rows = work.flatMap((w) =>
    w.units.map((u) => ({ file: w.affected.entry.file, what: w.affected.sweep ? `trial ${u.id}` : u.id, hash: u.hash.slice(0, 12), epochs: plannedEpochs(u) })),
  );
  if (!rows.length) return 'Nothing is stale: every experiment the change affects has a finished run of its head config.\n';
  const total = rows.reduce((s, r) => s + r.epochs, 0);
  const header = { file: 'experiment file', what: 'trains', hash: 'config hash', epochs: 'epochs (at most)' };
  const all = [header, ...rows.map((r) => ({ ...r, epochs: String(r.epochs) }))];
  const w = (k: keyof typeof header) => Math.max(...all.map((r) => String(r[k]).length));
  const line = (r: (typeof all)[number]) =>
    [String(r.file).padEnd(w('file')), String(r.what).padEnd(w('what')), String(r.hash).padEnd(w('hash')), String(r.epochs).padStart(w('epochs'))].join('  ');
  return [
    `${rows.length} config${rows.length === 1 ? '' : 's'} to train, ${total} epochs in all at most (nothing is trained: --dry-run)`,
    '',
    line(header),
    ...all.slice(1).map(line),
    '',
  ].join('\n');
}

/** The name runs trained for a review carry (`fitspec.sweep`): the same stale configs give the same name. */
function batchName(units: Unit[]): string {
  return `review-${createHash('sha256')
    .update(
      units
        .map((u) => u.hash)
        .sort()
        .join(','),
    )
    .digest('hex')
    .slice(0, 8)}`;
}

function experimentJob(batch: string, u: Unit, index: number): TrialJob {
  const l = u.loaded;
  return {
    sweep: batch,
    trial: l.experiment.name,
    index,
    params: {},
    hash: u.hash,
    resolvedYaml: l.resolvedYaml,
    sourceFile: l.file,
    sourceText: l.sourceText,
    chain: l.chain,
    overrides: l.overrides,
    metric: 'val_accuracy',
    mode: 'max',
  };
}

function batchMeta(batch: string, jobs: TrialJob[], units: Unit[], uri: string | undefined): SweepMeta {
  const exp = units[0]!.loaded.experiment;
  return {
    format: 1,
    name: batch,
    file: '(fitspec review --train-stale)',
    experimentName: exp.name,
    trackingExperiment: exp.tracking.experiment ?? exp.name,
    runsDir: exp.tracking.runsDir,
    method: 'grid',
    metric: 'val_accuracy',
    mode: 'max',
    parameters: {},
    trials: jobs.map((j) => ({ id: j.trial, hash: j.hash, params: {} })),
    trackingUri: uri,
    createdAt: Date.now(),
  };
}

export interface TrainStaleOptions {
  parallel: number;
  threads?: number;
  /** Redis URL: enqueue for `fitspec worker` instead of training here. */
  queue?: string;
  log: (m: string) => void;
}

export interface TrainStaleResult {
  outcomes: TrialOutcome[];
  enqueued: number;
}

/**
 * Trains the configs that have no finished run, and nothing else: a stale experiment as one run, a
 * stale sweep's missing trials as trials of that sweep (its record and MLflow parent run kept). Here
 * they go to `parallel` worker processes; with a queue, to Redis for `fitspec worker` anywhere.
 */
export async function trainStale(work: StaleWork[], opts: TrainStaleOptions): Promise<TrainStaleResult> {
  const { trackingUri, redactUri } = await import('../track/index.js');
  const plain = work.filter((w) => !w.affected.sweep).flatMap((w) => w.units);
  const batch = batchName(plain);
  const groups: { meta: SweepMeta; jobs: TrialJob[]; all?: TrialJob[] }[] = [];
  if (plain.length) {
    const jobs = plain.map((u, i) => experimentJob(batch, u, i + 1));
    const uri = trackingUri(plain[0]!.loaded.experiment.tracking);
    for (const j of jobs) j.trackingUri = uri ? redactUri(uri) : undefined;
    groups.push({ meta: batchMeta(batch, jobs, plain, uri ? redactUri(uri) : undefined), jobs });
  }
  const { openSweep } = await import('../sweep/run.js');
  for (const w of work.filter((x) => x.affected.sweep?.head)) {
    const { meta, jobs } = await openSweep(w.affected.sweep!.head!, opts.log);
    const missing = new Set(w.units.map((u) => u.hash));
    groups.push({ meta, jobs: jobs.filter((j) => missing.has(j.hash)), all: jobs });
  }
  if (opts.queue) {
    const { enqueueSweep, checkQueue, showQueueUrl } = await import('../sweep/queue.js');
    await checkQueue(opts.queue);
    let enqueued = 0;
    for (const g of groups) {
      const r = await enqueueSweep(opts.queue, g.meta, g.jobs);
      enqueued += r.added.length;
      opts.log(`${g.meta.name}: ${r.added.length} enqueued${r.present.length ? `, ${r.present.length} already queued or done` : ''} at ${showQueueUrl(opts.queue)}`);
    }
    opts.log(`start workers with: fitspec worker --queue ${showQueueUrl(opts.queue)}`);
    return { outcomes: [], enqueued };
  }
  const { runLocal } = await import('../sweep/local.js');
  const { recordResults, alreadyFinished } = await import('../sweep/run.js');
  const jobs = groups.flatMap((g) => g.jobs);
  opts.log(`training ${jobs.length} stale config${jobs.length === 1 ? '' : 's'} with ${Math.min(opts.parallel, jobs.length)} worker process(es)`);
  const outcomes = await runLocal(jobs, { parallel: opts.parallel, threads: opts.threads, log: opts.log });
  for (const g of groups.filter((x) => x.all)) {
    const mine = outcomes.filter((o) => g.jobs.some((j) => j.trial === o.trial && j.hash === o.hash));
    const done = await alreadyFinished(
      g.meta,
      g.all!.filter((j) => !mine.some((o) => o.hash === j.hash)),
    );
    await recordResults(g.meta, [...done.values(), ...mine], opts.log, true);
  }
  return { outcomes, enqueued: 0 };
}
