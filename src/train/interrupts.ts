const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export interface Interrupts {
  /** The first signal received, if any. */
  readonly signal: NodeJS.Signals | undefined;
  remove(): void;
}

/**
 * Ctrl-C / SIGTERM: the first one asks training to stop after the current step (checkpoint, run
 * KILLED); a second one stops at once, after `onForcedExit` has marked the run as killed.
 */
export function trapInterrupts(log: (m: string) => void, runDir: string, onForcedExit: (signal: NodeJS.Signals) => void): Interrupts {
  let signal: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals) => {
    if (signal) {
      onForcedExit(sig);
      process.exit(130);
    }
    signal = sig;
    log(`\n${sig}: stopping after this step; the run can be continued with \`fitspec train --resume ${runDir}\` (${sig} again stops at once)`);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return {
    get signal() {
      return signal;
    },
    remove: () => {
      for (const s of SIGNALS) process.off(s, handler);
    },
  };
}
