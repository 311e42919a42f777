const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export interface Interrupts {
  /** The first signal received, if any; `AbortSignal` when the caller's AbortSignal fired. */
  readonly signal: NodeJS.Signals | 'AbortSignal' | undefined;
  remove(): void;
}

/**
 * Ctrl-C / SIGTERM: the first one asks training to stop after the current step (checkpoint, run
 * KILLED); a second one stops at once, after `onForcedExit` has marked the run as killed.
 * An aborted `abort` signal (a library caller's) is the first kind: the run stops after the step, as KILLED.
 */
export function trapInterrupts(log: (m: string) => void, runDir: string, onForcedExit: (signal: NodeJS.Signals) => void, abort?: AbortSignal): Interrupts {
  let signal: NodeJS.Signals | 'AbortSignal' | undefined;
  const handler = (sig: NodeJS.Signals) => {
    if (signal) {
      onForcedExit(sig);
      process.exit(130);
    }
    signal = sig;
    log(`\n${sig}: stopping after this step; the run can be continued with \`fitspec train --resume ${runDir}\` (${sig} again stops at once)`);
  };
  for (const s of SIGNALS) process.on(s, handler);
  const onAbort = () => {
    if (signal) return;
    signal = 'AbortSignal';
    log(`aborted: stopping after this step; the run can be continued with train(..., { resume: '${runDir}' })`);
  };
  if (abort?.aborted) signal = 'AbortSignal';
  else abort?.addEventListener('abort', onAbort, { once: true });
  return {
    get signal() {
      return signal;
    },
    remove: () => {
      for (const s of SIGNALS) process.off(s, handler);
      abort?.removeEventListener('abort', onAbort);
    },
  };
}
