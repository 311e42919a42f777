import { Option } from 'commander';
import type { CliCommand } from '../command.js';
import { FitspecError } from '../../errors.js';

const int = (v: string) => Number.parseInt(v, 10);

const command: CliCommand = {
  name: 'worker',
  loadsTensorFlow: true,
  register(program) {
    program
      .command('worker')
      .description('Train sweep trials taken from a Redis queue (start one or more on every machine)')
      .option('--queue <redis-url>', 'the Redis the sweeps were enqueued in, e.g. redis://HOST:6379')
      .addOption(new Option('--threads <n>', 'TensorFlow threads of this worker, so several workers share a machine (default: every core)').argParser(int))
      .addOption(new Option('--lock <seconds>', 'how long a trial stays with a worker that stopped answering before another worker takes it').argParser(Number).default(30))
      .option('--exit-when-empty', 'stop once the queue has nothing left to run')
      .addOption(new Option('--ipc').hideHelp())
      .action(async (opts: { queue?: string; threads?: number; lock: number; exitWhenEmpty?: boolean; ipc?: boolean }) => {
        if (opts.ipc) {
          const { serveIpc } = await import('../../sweep/local.js');
          await serveIpc({ threads: opts.threads });
          process.exit(0);
        }
        if (!opts.queue) throw new FitspecError({ code: 'cli.usage', message: 'fitspec worker needs --queue redis://HOST:PORT: the Redis the sweep was enqueued in.' });
        if (!(opts.lock >= 2)) throw new FitspecError({ code: 'cli.usage', message: '--lock is a number of seconds, at least 2.', received: String(opts.lock) });
        const { runWorker } = await import('../../sweep/queue.js');
        await runWorker(opts.queue, { threads: opts.threads, lockSeconds: opts.lock, exitWhenEmpty: opts.exitWhenEmpty, log: (m) => process.stdout.write(m + '\n') });
      });
  },
};
export default command;
