import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';
import { isFitspecError } from '../errors.js';
import type { TrialJob, TrialOutcome } from './records.js';
import { runTrial } from './trial.js';

type ToChild = { type: 'trial'; job: TrialJob };
type FromChild = { type: 'ready' } | { type: 'done'; outcome: TrialOutcome };

/** Threads per worker when `parallel` workers share this machine: the cores split between them. */
export function threadsPerWorker(parallel: number): number {
  return Math.max(1, Math.floor(os.availableParallelism() / parallel));
}

export interface LocalRunOptions {
  parallel: number;
  threads?: number;
  log: (msg: string) => void;
  onOutcome?: (o: TrialOutcome) => void;
}

/**
 * The embedded runner: `parallel` worker processes on this machine (each loads TensorFlow once and
 * trains trial after trial), no Redis. A worker that dies mid-trial is replaced and its trial given
 * once more, continuing from the trial's checkpoint.
 */
export async function runLocal(jobs: TrialJob[], opts: LocalRunOptions): Promise<TrialOutcome[]> {
  const queue = [...jobs];
  const outcomes: TrialOutcome[] = [];
  const retried = new Set<string>();
  const threads = opts.threads ?? threadsPerWorker(opts.parallel);
  let stopping = false;
  const onSigint = () => {
    if (stopping) process.exit(130);
    stopping = true;
    opts.log('stopping: running trials checkpoint and stop; no new trial starts (run the sweep again to continue)');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const n = Math.min(opts.parallel, queue.length);
    await Promise.all(Array.from({ length: n }, () => workerLoop()));
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  return outcomes;

  async function workerLoop(): Promise<void> {
    let child: ChildProcess | undefined;
    try {
      while (queue.length && !stopping) {
        child ??= await startChild(threads);
        const job = queue.shift()!;
        const outcome = await runOnChild(child, job).catch((e: Error) => {
          child = undefined;
          if (!retried.has(job.trial) && !stopping) {
            retried.add(job.trial);
            opts.log(`[${job.sweep} ${job.trial}] ${e.message}; giving the trial to a new worker process`);
            queue.unshift(job);
            return undefined;
          }
          return { trial: job.trial, hash: job.hash, params: job.params, status: stopping ? 'KILLED' : 'FAILED', error: e.message } satisfies TrialOutcome;
        });
        if (outcome) {
          outcomes.push(outcome);
          opts.onOutcome?.(outcome);
        }
      }
    } finally {
      child?.disconnect();
    }
  }
}

function startChild(threads: number): Promise<ChildProcess> {
  const child = fork(path.join(PACKAGE_ROOT, 'bin', 'fitspec.js'), ['worker', '--ipc', '--threads', String(threads)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (m: FromChild) => (m.type === 'ready' ? resolve(child) : reject(new Error('worker process did not start'))));
    child.once('exit', (code) => reject(new Error(`worker process exited with code ${code} before taking a trial`)));
  });
}

/** The worker side of runLocal: trials arrive over IPC, one at a time. */
export function serveIpc(opts: { threads?: number }): Promise<void> {
  const log = (m: string) => process.stdout.write(m + '\n');
  // Ctrl-C reaches every process of the terminal: the trainer stops at the next step, the parent waits.
  process.on('SIGINT', () => undefined);
  return new Promise((resolve) => {
    process.on('message', async (m: ToChild) => {
      if (m.type !== 'trial') return;
      let outcome: TrialOutcome;
      try {
        outcome = await runTrial(m.job, { threads: opts.threads, log });
      } catch (e) {
        const message = isFitspecError(e) ? e.message : `internal error: ${(e as Error)?.stack ?? e}`;
        log(`[${m.job.sweep} ${m.job.trial}] failed: ${message}`);
        outcome = { trial: m.job.trial, hash: m.job.hash, params: m.job.params, status: 'FAILED', error: message };
      }
      process.send?.({ type: 'done', outcome } satisfies FromChild);
    });
    process.on('disconnect', () => resolve());
    process.send?.({ type: 'ready' } satisfies FromChild);
  });
}

/**
 * Worker processes on this machine that take jobs as a scheduler hands them out (runLocal takes a
 * list known in advance). A process that dies mid-job is replaced and the job given once more, which
 * continues from the trial's checkpoint.
 */
export class LocalPool {
  private idle: ChildProcess[] = [];
  private live = 0;
  private waiting: (() => void)[] = [];
  private readonly threads: number;
  private closed = false;

  constructor(private readonly opts: { parallel: number; threads?: number; log: (m: string) => void }) {
    this.threads = opts.threads ?? threadsPerWorker(opts.parallel);
  }

  private async take(): Promise<ChildProcess> {
    for (;;) {
      const child = this.idle.pop();
      if (child) return child;
      if (this.live < this.opts.parallel) {
        this.live++;
        try {
          return await startChild(this.threads);
        } catch (e) {
          this.live--;
          throw e;
        }
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  private give(child: ChildProcess | undefined): void {
    if (child && !this.closed) this.idle.push(child);
    else if (child) child.disconnect();
    else this.live--;
    this.waiting.shift()?.();
  }

  async run(job: TrialJob, retried = false): Promise<TrialOutcome> {
    const child = await this.take();
    try {
      const outcome = await runOnChild(child, job);
      this.give(child);
      return outcome;
    } catch (e) {
      this.give(undefined);
      if (retried || this.closed) return { trial: job.trial, hash: job.hash, params: job.params, status: this.closed ? 'KILLED' : 'FAILED', error: (e as Error).message };
      this.opts.log(`[${job.sweep} ${job.trial}] ${(e as Error).message}; giving the trial to a new worker process`);
      return this.run(job, true);
    }
  }

  /** Running jobs finish (or checkpoint, on Ctrl-C); idle processes end. */
  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.disconnect();
  }
}

function runOnChild(child: ChildProcess, job: TrialJob): Promise<TrialOutcome> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: FromChild) => {
      if (m.type !== 'done') return;
      cleanup();
      resolve(m.outcome);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      cleanup();
      reject(new Error(`worker process ${child.pid} exited (${signal ?? `code ${code}`}) during the trial`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send({ type: 'trial', job } satisfies ToChild);
  });
}
