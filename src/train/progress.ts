import cliProgress from 'cli-progress';

/** Per-step progress for one epoch: a live bar on a terminal, one line per epoch otherwise (CI logs stay readable). */
export interface EpochProgress {
  update(step: number, values: Record<string, number>): void;
  stop(summary: string): void;
}

const fmt = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : v.toFixed(4));

export function epochProgress(label: string, total: number, opts: { tty?: boolean; write?: (s: string) => void } = {}): EpochProgress {
  const write = opts.write ?? ((s: string) => process.stdout.write(s + '\n'));
  const tty = opts.tty ?? Boolean(process.stdout.isTTY);
  if (!tty) {
    return { update() {}, stop: (summary) => write(`${label} ${summary}`) };
  }
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} |{bar}| {value}/{total} steps | ETA {eta_formatted} | loss {loss} | accuracy {accuracy}`,
      barsize: 24,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { loss: '-', accuracy: '-' });
  return {
    update: (step, v) => bar.update(step, { loss: fmt(v.loss), accuracy: fmt(v.accuracy) }),
    stop: (summary) => {
      bar.stop();
      write(`${label} ${summary}`);
    },
  };
}

export function formatLogs(logs: Record<string, number>): string {
  const order = ['loss', 'accuracy', 'val_loss', 'val_accuracy'];
  const parts = order.filter((k) => k in logs).map((k) => `${k} ${fmt(logs[k])}`);
  if (logs.epoch_time !== undefined) parts.push(`${logs.epoch_time.toFixed(1)}s`);
  if (logs.images_per_sec !== undefined) parts.push(`${Math.round(logs.images_per_sec)} img/s`);
  return parts.join(' | ');
}
