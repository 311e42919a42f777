import os from 'node:os';
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { FitspecError, isFitspecError } from '../errors.js';
import { redactUri } from '../track/index.js';
import { driveSweep, ruleOf } from './drive.js';
import { MODEL_BASED, type SweepPlan } from './plan.js';
import { writeMeta, type SweepMeta, type TrialJob, type TrialOutcome } from './records.js';
import { openSweep, recordResults } from './run.js';
import { rungsOf } from './scheduler.js';
import { runTrial } from './trial.js';

/**
 * The only module that talks to Redis. One BullMQ queue holds the trials of every sweep; a trial's job
 * id is derived from its config hash, so enqueuing a sweep twice adds nothing that is already queued,
 * running or done. The sweep's description lives next to it under `fitspec:sweep:<name>`.
 */
export const QUEUE_NAME = 'fitspec-trials';
const metaKey = (name: string) => `fitspec:sweep:${name}`;
const jobId = (sweep: string, hash: string, key?: string) => `${sweep}__${hash.slice(0, 16)}${key ? `__${key}` : ''}`;
/** Set (with a short expiry, renewed) while `fitspec sweep --queue` decides a scheduled sweep's next jobs. */
const coordinatorKey = (name: string) => `fitspec:sweep:${name}:coordinator`;
/** The coordinator's latest view of every trial (rung, state), for `sweep status`. */
const resultsKey = (name: string) => `fitspec:sweep:${name}:results`;

/** Queued, running and finished, in BullMQ's words. */
const OPEN_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused']);

/** One sentence for an unreachable or refusing Redis; the URL is shown without its password. */
function unreachable(url: string, e: unknown, consequence: string): FitspecError {
  const err = e as NodeJS.ErrnoException;
  const why = err?.code ?? String(err?.message ?? e).split('\n')[0];
  return new FitspecError({
    code: 'queue.unreachable',
    message: `Redis at ${showQueueUrl(url)} is not reachable (${why}): start it (\`redis-server --appendonly yes\`) or check --queue${consequence}.`,
    received: redactUri(url),
  });
}

function parseUrl(url: string): void {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    /* reported below */
  }
  if (!u || (u.protocol !== 'redis:' && u.protocol !== 'rediss:')) {
    throw new FitspecError({
      code: 'queue.url',
      message: `--queue takes a Redis URL such as redis://HOST:6379 (redis://:PASSWORD@HOST:6379 with a password).`,
      expected: 'redis://HOST:PORT',
      received: u ? redactUri(url) : 'not a URL',
    });
  }
}

/** A connection that has answered PING; BullMQ's connections are made from the same URL. */
async function connect(url: string, opts: RedisOptions = {}, consequence = ''): Promise<Redis> {
  parseUrl(url);
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 5000, enableOfflineQueue: false });
  let cause: unknown;
  probe.on('error', (e) => (cause ??= e));
  // A port that accepts and never answers (or speaks another protocol) must cost seconds, not hang.
  const seconds = Number(process.env.FITSPEC_QUEUE_TIMEOUT) > 0 ? Number(process.env.FITSPEC_QUEUE_TIMEOUT) : 5;
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`no Redis answer within ${seconds} s: something listens there but does not answer as Redis`), { code: undefined })),
      seconds * 1000,
    );
  });
  try {
    await Promise.race([(async () => (await probe.connect(), await probe.ping()))(), silent]);
  } catch (e) {
    probe.disconnect();
    const why = /Protocol error/i.test(String((cause as Error | undefined)?.message ?? (e as Error)?.message))
      ? new Error('it answered, but not as Redis does: is that port another service (HTTP)?')
      : (cause ?? e);
    throw unreachable(url, why, consequence);
  } finally {
    clearTimeout(timer);
  }
  probe.disconnect();
  const conn = new Redis(url, { maxRetriesPerRequest: null, ...opts });
  // ioredis reports every failed reconnect; its messages carry no password but would flood the log.
  conn.on('error', () => undefined);
  return conn;
}

/** Fails with one sentence, before anything is created, when Redis cannot be reached. */
export async function checkQueue(url: string): Promise<void> {
  (await connect(url, {}, '; nothing was enqueued')).disconnect();
}

/** A Redis URL for messages: the password replaced by `***`. */
export function showQueueUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return redactUri(url);
  }
}

/** What a sweep searches: its trials' config hashes (a changed value makes another search). */
function searchSpace(meta: Pick<SweepMeta, 'trials'>): string {
  return meta.trials
    .map((t) => t.hash)
    .sort()
    .join(',');
}

async function readMeta(conn: Redis, name: string): Promise<SweepMeta | undefined> {
  const text = await conn.get(metaKey(name));
  return text ? (JSON.parse(text) as SweepMeta) : undefined;
}

export interface EnqueueResult {
  added: string[];
  /** Already queued, running or done. */
  present: string[];
}

/** Adds the sweep's missing trials; failed ones are given one more chance, finished ones never run twice. */
export async function enqueueSweep(url: string, meta: SweepMeta, jobs: TrialJob[]): Promise<EnqueueResult> {
  const conn = await connect(url, {}, '; nothing was enqueued');
  const queue = new Queue(QUEUE_NAME, { connection: conn });
  try {
    const text = JSON.stringify({ ...meta, queue: redactUri(url), cancelled: false });
    // Set only if absent, so of two sweeps enqueued at once under one name the second sees the first.
    if ((await conn.set(metaKey(meta.name), text, 'NX')) !== 'OK') {
      const before = await readMeta(conn, meta.name);
      if (before && !before.cancelled && searchSpace(before) !== searchSpace(meta)) {
        const open: string[] = [];
        for (const t of before.trials) {
          const job = await queue.getJob(jobId(before.name, t.hash));
          if (job && OPEN_STATES.has(await job.getState())) open.push(t.id);
        }
        if (open.length) {
          throw new FitspecError({
            code: 'sweep.name-taken',
            message: `A sweep named \`${meta.name}\` with another search space is in the queue (${before.file}, ${open.length} of its ${before.trials.length} trials still queued or running): nothing was enqueued, so the two searches are not merged.`,
            hint: `give this one another sweep.name, wait for the other to finish, or cancel it: fitspec sweep cancel ${meta.name} --queue ${showQueueUrl(url)}`,
            path: 'sweep.name',
          });
        }
      }
      await conn.set(metaKey(meta.name), text);
    }
    await conn.sadd('fitspec:sweeps', meta.name);
    const out: EnqueueResult = { added: [], present: [] };
    for (const job of jobs) {
      const id = jobId(meta.name, job.hash);
      const existing = await queue.getJob(id);
      if (existing) {
        const state = await existing.getState();
        if (state !== 'failed' && !(state === 'completed' && (existing.returnvalue as TrialOutcome | undefined)?.status === 'CANCELLED')) {
          out.present.push(job.trial);
          continue;
        }
        await existing.remove();
      }
      await queue.add(job.trial, job, { jobId: id, attempts: 3, backoff: { type: 'fixed', delay: 2000 }, removeOnComplete: false, removeOnFail: false });
      out.added.push(job.trial);
    }
    return out;
  } finally {
    await queue.close();
    conn.disconnect();
  }
}

export interface TrialState {
  trial: string;
  params: Record<string, unknown>;
  /** waiting, active, completed, failed, ... `missing` (never enqueued) or `cancelled` (removed by `sweep cancel`). */
  state: string;
  outcome?: TrialOutcome;
  error?: string;
  attempts: number;
}

async function trialStates(queue: Queue, meta: SweepMeta): Promise<TrialState[]> {
  return Promise.all(
    meta.trials.map(async (t) => {
      const job = await queue.getJob(jobId(meta.name, t.hash));
      // A cancelled sweep's queued jobs were removed: they are cancelled, not missing.
      if (!job) return { trial: t.id, params: t.params, state: meta.cancelled ? 'cancelled' : 'missing', attempts: 0 };
      const state = await job.getState();
      const outcome = state === 'completed' ? (job.returnvalue as TrialOutcome) : undefined;
      return { trial: t.id, params: t.params, state, outcome, error: state === 'failed' ? job.failedReason : undefined, attempts: job.attemptsMade };
    }),
  );
}

/** Outcomes as the results table wants them: failed jobs become FAILED trials with their message. */
function outcomesOf(meta: SweepMeta, states: TrialState[]): TrialOutcome[] {
  return states.flatMap((s) => {
    const t = meta.trials.find((x) => x.id === s.trial)!;
    if (s.outcome) return [s.outcome];
    if (s.state === 'failed') return [{ trial: s.trial, hash: t.hash, params: t.params, status: 'FAILED' as const, error: s.error }];
    return [];
  });
}

export interface SweepStatus {
  meta: SweepMeta;
  trials: TrialState[];
  outcomes: TrialOutcome[];
  counts: { done: number; running: number; queued: number; failed: number; cancelled: number };
}

export async function sweepStatus(url: string, name: string): Promise<SweepStatus> {
  const conn = await connect(url);
  const queue = new Queue(QUEUE_NAME, { connection: conn });
  try {
    const meta = await readMeta(conn, name);
    if (!meta) {
      const known = await conn.smembers('fitspec:sweeps');
      throw new FitspecError({
        code: 'sweep.unknown',
        message: `No sweep named ${JSON.stringify(name)} in the queue at ${redactUri(url)}.`,
        expected: known.length ? `one of ${known.sort().join(', ')}` : 'a sweep started with `fitspec sweep FILE --queue URL`',
        received: name,
      });
    }
    if (meta.scheduler || MODEL_BASED.has(meta.method)) return await coordinatedStatus(conn, meta);
    const trials = await trialStates(queue, meta);
    const outcomes = outcomesOf(meta, trials);
    const count = (f: (s: TrialState) => boolean) => trials.filter(f).length;
    return {
      meta,
      trials,
      outcomes,
      counts: {
        done: count((s) => s.state === 'completed' && s.outcome?.status !== 'CANCELLED'),
        running: count((s) => s.state === 'active'),
        queued: count((s) => OPEN_STATES.has(s.state) && s.state !== 'active'),
        failed: count((s) => s.state === 'failed'),
        cancelled: count((s) => s.outcome?.status === 'CANCELLED' || s.state === 'missing' || s.state === 'cancelled'),
      },
    };
  } finally {
    await queue.close();
    conn.disconnect();
  }
}

async function coordinatedStatus(conn: Redis, meta: SweepMeta): Promise<SweepStatus> {
  const text = await conn.get(resultsKey(meta.name));
  const outcomes = text ? (JSON.parse(text) as TrialOutcome[]) : [];
  const trials: TrialState[] = meta.trials.map((t) => {
    const o = outcomes.find((x) => x.trial === t.id);
    return { trial: t.id, params: t.params, state: o?.rungState ?? 'queued', outcome: o, attempts: 0 };
  });
  const n = (f: (s: TrialState) => boolean) => trials.filter(f).length;
  // Trials a cancelled tpe / cmaes sweep never drew are cancelled, not queued.
  const open = Math.max(0, (meta.count ?? meta.trials.length) - meta.trials.length);
  return {
    meta,
    trials,
    outcomes,
    counts: {
      done: n((s) => s.state === 'finished' || s.state === 'stopped'),
      running: n((s) => s.state === 'running' || s.state === 'promoted'),
      queued: n((s) => !meta.cancelled && (s.state === 'queued' || s.state === 'paused')) + (meta.cancelled ? 0 : open),
      failed: n((s) => s.state === 'failed'),
      cancelled: n((s) => s.state === 'cancelled' || (Boolean(meta.cancelled) && s.state === 'queued')) + (meta.cancelled ? open : 0),
    },
  };
}

/**
 * A sweep with a scheduler or a model-based sampler through the queue: this process decides (promote,
 * start, stop) as results come in and enqueues one job per decision; workers on any machine train them.
 * A job's id is (sweep, config hash, target epochs), so a decision enqueued twice runs once, a stalled
 * job (its worker died) is given to another worker, and running this again after a crash picks the
 * sweep up where the queue has it.
 */
export async function coordinateSweep(url: string, plan: SweepPlan, opts: { parallel: number; log: (m: string) => void }) {
  const conn = await connect(url, {}, '; nothing was enqueued');
  const queue = new Queue(QUEUE_NAME, { connection: conn });
  const eventsConn = new Redis(url, { maxRetriesPerRequest: null });
  eventsConn.on('error', () => undefined);
  const events = new QueueEvents(QUEUE_NAME, { connection: eventsConn });
  await events.waitUntilReady();
  const heartbeat = setInterval(() => void conn.set(coordinatorKey(plan.name), String(process.pid), 'EX', 30).catch(() => undefined), 10_000);
  let stopPoll = () => undefined as void;
  try {
    await conn.set(coordinatorKey(plan.name), String(process.pid), 'EX', 30);
    const prev = await readMeta(conn, plan.name);
    const { meta, dir } = await openSweep(plan, opts.log);
    if (prev && MODEL_BASED.has(plan.sweep.method) && prev.method === meta.method && prev.seed === meta.seed) {
      meta.trials = prev.trials.slice(0, plan.sweep.count).map((t, i) => {
        const trial = plan.trialOf(i + 1, t.params);
        return { id: trial.id, hash: trial.hash, params: trial.params };
      });
    }
    const queueUrl = redactUri(url);
    // Running the sweep again continues it, as enqueuing a cancelled plain sweep again does; a cancel
    // given while it runs is kept (read back before each save) and stops it.
    let cancelled = false;
    const markCancelled = () => {
      if (cancelled) return;
      cancelled = true;
      opts.log(`sweep ${plan.name}: cancelled (fitspec sweep cancel): no new trial or promotion starts`);
    };
    let first = true;
    const save = async (m: SweepMeta) => {
      if (!first && !cancelled && (await readMeta(conn, m.name))?.cancelled) markCancelled();
      first = false;
      m.cancelled = cancelled || undefined;
      writeMeta(m);
      await conn.set(metaKey(m.name), JSON.stringify({ ...m, queue: queueUrl, cancelled }));
      await conn.sadd('fitspec:sweeps', m.name);
    };
    await save(meta);

    /** Waits on a job; after a cancel, a job that is no longer queued or running resolves as CANCELLED. */
    const waiting = new Map<string, { job: Job<TrialJob, TrialOutcome>; resolve: (o: TrialOutcome) => void }>();
    const cancelledOutcome = (job: Job<TrialJob, TrialOutcome>): TrialOutcome => ({ trial: job.data.trial, hash: job.data.hash, params: job.data.params, status: 'CANCELLED' });
    const wait = (job: Job<TrialJob, TrialOutcome>): Promise<TrialOutcome> => {
      const removed = new Promise<TrialOutcome>((resolve) => waiting.set(job.id!, { job, resolve }));
      const finished = job.waitUntilFinished(events).then(
        (o: TrialOutcome) => o,
        (e: Error) => ({ trial: job.data.trial, hash: job.data.hash, params: job.data.params, status: 'FAILED' as const, error: e.message }),
      );
      return Promise.race([finished, removed]).then((o) => {
        waiting.delete(job.id!);
        // A worker that took the job after the cancel returns it untrained: nothing more is decided.
        if (o.status === 'CANCELLED') markCancelled();
        return o;
      });
    };
    let checking = false;
    const checkCancel = async () => {
      if (checking) return;
      checking = true;
      try {
        if (!cancelled && (await readMeta(conn, meta.name))?.cancelled) markCancelled();
        if (!cancelled) return;
        // Queued jobs are removed (also one enqueued just before the cancel was seen); running ones finish their job.
        for (const [id, w] of waiting) {
          const job = await queue.getJob(id);
          const state = job ? await job.getState() : 'missing';
          if (state === 'active' || state === 'completed' || state === 'failed') continue;
          if (job) await job.remove().catch(() => undefined);
          if (!(await queue.getJob(id))) w.resolve(cancelledOutcome(w.job));
        }
      } finally {
        checking = false;
      }
    };
    const poll = setInterval(() => void checkCancel().catch(() => undefined), 1000);
    stopPoll = () => clearInterval(poll);
    // Where each known trial stands: its finished jobs' outcomes, and jobs still queued or running.
    const rule = ruleOf(plan);
    const keys = [
      'stop',
      ...rungsOf(rule)
        .reverse()
        .map((r) => `e${r}`),
    ];
    const recovered = new Map<string, TrialOutcome>();
    const inFlight = new Map<string, { key: string; target: number; outcome: Promise<TrialOutcome> }>();
    for (const t of meta.trials) {
      for (const key of keys) {
        const job = (await queue.getJob(jobId(meta.name, t.hash, key))) as Job<TrialJob, TrialOutcome> | undefined;
        if (!job) continue;
        const state = await job.getState();
        // Failed, or returned untrained after a cancel: to be run again.
        if (state === 'failed' || (state === 'completed' && job.returnvalue?.status === 'CANCELLED')) {
          await job.remove().catch(() => undefined);
        } else if (state === 'completed') {
          if (!recovered.has(t.id)) recovered.set(t.id, job.returnvalue);
        } else if (!inFlight.has(t.id)) {
          inFlight.set(t.id, { key, target: job.data.finishAt ?? job.data.pauseAt ?? rule.maxEpochs, outcome: wait(job) });
        }
      }
    }
    if (recovered.size || inFlight.size) opts.log(`sweep ${meta.name}: ${recovered.size} trials with results in the queue, ${inFlight.size} jobs still queued or running`);

    const run = async (data: TrialJob, key: string): Promise<TrialOutcome> => {
      const id = jobId(meta.name, data.hash, key);
      const existing = (await queue.getJob(id)) as Job<TrialJob, TrialOutcome> | undefined;
      if (existing) {
        const state = await existing.getState();
        if (state === 'completed' && existing.returnvalue?.status !== 'CANCELLED') return existing.returnvalue;
        if (state !== 'failed' && state !== 'completed') return wait(existing);
        await existing.remove();
      }
      const job = await queue.add(data.trial, data, { jobId: id, attempts: 3, backoff: { type: 'fixed', delay: 2000 }, removeOnComplete: false, removeOnFail: false });
      return wait(job as Job<TrialJob, TrialOutcome>);
    };
    const r = await driveSweep(plan, meta, {
      executor: { run },
      parallel: opts.parallel,
      log: opts.log,
      recovered,
      inFlight,
      persist: save,
      stopping: () => cancelled,
      onOutcome: (o) => {
        void conn.set(resultsKey(meta.name), JSON.stringify(o)).catch(() => undefined);
        void recordResults(meta, o, opts.log, false);
      },
    });
    await save(meta);
    await conn.set(resultsKey(meta.name), JSON.stringify(r.outcomes));
    await recordResults(meta, r.outcomes, opts.log, true);
    if (cancelled)
      opts.log(
        `sweep ${meta.name}: cancelled; ${r.outcomes.filter((o) => o.rungState === 'cancelled').length} queued trial(s) not started, results so far in ${meta.runsDir}/sweeps/${meta.name}/results.csv; run the same command again to continue it`,
      );
    else opts.log(`sweep ${meta.name}: ${r.jobs ? `${r.jobs} job(s) run by the workers` : 'nothing to train: every trial is finished or stopped'}`);
    return { meta, dir, outcomes: r.outcomes, jobs: r.jobs, cancelled };
  } finally {
    clearInterval(heartbeat);
    stopPoll();
    await conn.del(coordinatorKey(plan.name)).catch(() => undefined);
    await events.close();
    eventsConn.disconnect();
    await queue.close();
    conn.disconnect();
  }
}

/**
 * Queued trials of the sweep are removed; running ones finish (a worker starts nothing more of it). For a
 * coordinated sweep its queued jobs are removed, and its coordinating process sees the flag within
 * seconds, decides nothing more and exits once the running jobs are back.
 */
export async function cancelSweep(url: string, name: string): Promise<{ removed: number; running: number; coordinated?: boolean; coordinator?: boolean }> {
  const conn = await connect(url);
  const queue = new Queue(QUEUE_NAME, { connection: conn });
  try {
    const meta = await readMeta(conn, name);
    if (!meta) throw new FitspecError({ code: 'sweep.unknown', message: `No sweep named ${JSON.stringify(name)} in the queue at ${redactUri(url)}.`, received: name });
    await conn.set(metaKey(name), JSON.stringify({ ...meta, cancelled: true }));
    let removed = 0;
    let running = 0;
    if (meta.scheduler || MODEL_BASED.has(meta.method)) {
      // A coordinated sweep's jobs are named by rung (`__e3`, `__stop`): all of the sweep's open jobs.
      const jobs = await queue.getJobs([...OPEN_STATES] as Parameters<Queue['getJobs']>[0]);
      for (const job of jobs) {
        if (!job?.id?.startsWith(`${name}__`) || job.data?.sweep !== name) continue;
        if ((await job.getState()) === 'active') running++;
        else
          await job.remove().then(
            () => removed++,
            () => undefined,
          );
      }
      return { removed, running, coordinated: true, coordinator: (await conn.exists(coordinatorKey(name))) === 1 };
    }
    for (const t of meta.trials) {
      const job = await queue.getJob(jobId(name, t.hash));
      if (!job) continue;
      const state = await job.getState();
      if (state === 'active') running++;
      else if (OPEN_STATES.has(state)) {
        await job.remove().then(
          () => removed++,
          () => undefined,
        );
      }
    }
    return { removed, running };
  } finally {
    await queue.close();
    conn.disconnect();
  }
}

export interface WorkerOptions {
  threads?: number;
  /** Seconds a trial's lock lasts without renewal: how soon the trial of a dead worker is given to another. */
  lockSeconds: number;
  /** Stop once the queue has nothing left to run. */
  exitWhenEmpty?: boolean;
  log: (msg: string) => void;
}

/**
 * Takes trials from the queue one at a time until stopped (SIGINT / SIGTERM: the current trial
 * checkpoints and goes back to the queue). A trial whose worker died is found by BullMQ's stalled-job
 * check and trained again; a trial that fails with a user error fails once, with its message.
 */
export async function runWorker(url: string, opts: WorkerOptions): Promise<void> {
  const conn = await connect(url);
  const log = opts.log;
  const me = `${os.hostname()}:${process.pid}`;
  log(`worker ${me}: taking trials from ${showQueueUrl(url)} (queue ${QUEUE_NAME}${opts.threads ? `, ${opts.threads} threads` : ''})`);
  const finalize = async (sweep: string) => {
    const queue = new Queue(QUEUE_NAME, { connection: conn });
    try {
      const meta = await readMeta(conn, sweep);
      // A scheduled sweep is recorded by the process that coordinates it.
      if (!meta || meta.scheduler || MODEL_BASED.has(meta.method)) return;
      const states = await trialStates(queue, meta);
      const open = states.some((s) => OPEN_STATES.has(s.state));
      await recordResults(meta, outcomesOf(meta, states), log, !open);
      const cancelled = states.filter((s) => s.state === 'cancelled' || s.outcome?.status === 'CANCELLED').length;
      if (!open)
        log(
          `sweep ${sweep}: ${cancelled ? `cancelled, ${states.length - cancelled} of ${states.length} trials done` : 'every trial is done'}; results in ${meta.runsDir}/sweeps/${sweep}/results.csv`,
        );
    } finally {
      await queue.close();
    }
  };

  const worker = new Worker<TrialJob, TrialOutcome>(
    QUEUE_NAME,
    async (job: Job<TrialJob, TrialOutcome>) => {
      const data = job.data;
      const meta = await readMeta(conn, data.sweep);
      if (meta?.cancelled) {
        log(`[${data.sweep} ${data.trial}] the sweep was cancelled: not started`);
        return { trial: data.trial, hash: data.hash, params: data.params, status: 'CANCELLED' };
      }
      await job.updateProgress({ worker: me, started: Date.now() });
      let outcome: TrialOutcome;
      try {
        outcome = await runTrial(data, { threads: opts.threads, log });
      } catch (e) {
        if (isFitspecError(e)) throw new UnrecoverableError(e.message);
        throw e;
      }
      if (outcome.status === 'FAILED') throw new UnrecoverableError(outcome.error ?? 'the trial failed');
      // Stopped by a signal: back to the queue, to be continued from its checkpoint.
      if (outcome.status === 'KILLED') throw new Error(`the worker was stopped during the trial (run ${outcome.runDir})`);
      return outcome;
    },
    { connection: conn, concurrency: 1, lockDuration: opts.lockSeconds * 1000, stalledInterval: opts.lockSeconds * 1000, maxStalledCount: 3, autorun: false },
  );
  worker.on('error', (e) => log(`worker: ${e.message}`));

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void worker.close();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  let busy = false;
  worker.on('active', () => (busy = true));
  const finalizing = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    finalizing.add(p);
    void p.finally(() => finalizing.delete(p));
  };
  worker.on('completed', (job) => {
    busy = false;
    track(finalize(job.data.sweep).catch((e: Error) => log(`sweep ${job.data.sweep}: ${e.message}`)));
  });
  worker.on('failed', (job, e) => {
    busy = false;
    if (!job) return;
    log(
      `[${job.data.sweep} ${job.data.trial}] failed${job.attemptsMade < (job.opts.attempts ?? 1) && !(e instanceof UnrecoverableError) ? ' (will be tried again)' : ''}: ${e.message}`,
    );
    track(finalize(job.data.sweep).catch((err: Error) => log(`sweep ${job.data.sweep}: ${err.message}`)));
  });
  let idleTimer: NodeJS.Timeout | undefined;
  if (opts.exitWhenEmpty) {
    const queue = new Queue(QUEUE_NAME, { connection: conn });
    // Polled rather than on 'drained': a trial still running elsewhere (or stalled there) may come back.
    idleTimer = setInterval(async () => {
      if (busy || stopping) return;
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized').catch(() => undefined);
      // A coordinator may be about to enqueue the next rung or a newly drawn trial.
      const coordinating = c ? await anyCoordinator(conn).catch(() => true) : true;
      if (c && !c.waiting && !c.active && !c.delayed && !c.prioritized && !busy && !coordinating) {
        log(`worker ${me}: the queue is empty, stopping`);
        stop();
      }
    }, 1000);
    worker.on('closed', () => void queue.close());
  }
  await worker.run();
  if (idleTimer) clearInterval(idleTimer);
  await Promise.all([...finalizing]);
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  conn.disconnect();
}

async function anyCoordinator(conn: Redis): Promise<boolean> {
  const names = await conn.smembers('fitspec:sweeps');
  for (const n of names) if (await conn.exists(coordinatorKey(n))) return true;
  return false;
}
