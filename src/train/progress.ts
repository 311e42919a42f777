import cliProgress from 'cli-progress';

/** Per-step progress for one epoch: a live bar on a terminal, one line per epoch otherwise (CI logs stay readable). */
export interface EpochProgress {
  update(step: number, values: Record<string, number>): void;
  /** Removes the bar; the trainer prints the epoch's line itself. */
  stop(): void;
}

const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(4));

export function epochProgress(label: string, total: number, opts: { tty?: boolean } = {}): EpochProgress {
  const tty = opts.tty ?? Boolean(process.stdout.isTTY);
  if (!tty) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {value}/{total} steps | ETA {eta_formatted} | loss {loss} | accuracy {accuracy}`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      // stdout decides whether there is a terminal; stderr may be a pipe (src/cli/quiet.ts).
      stream: process.stdout,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { loss: '-', accuracy: '-' });
  return {
    update: (step, v) => bar.update(step, { loss: fmt(v.loss), accuracy: fmt(v.accuracy) }),
    stop: () => bar.stop(),
  };
}

export function formatLogs(logs: Record<string, number>): string {
  const order = ['loss', 'accuracy', 'val_loss', 'val_accuracy'];
  const parts = order.filter((k) => k in logs).map((k) => `${k} ${fmt(logs[k])}`);
  if (logs.epoch_time !== undefined) parts.push(`${logs.epoch_time.toFixed(1)}s`);
  if (logs.images_per_sec !== undefined) parts.push(`${Math.round(logs.images_per_sec)} img/s`);
  return parts.join(' | ');
}
