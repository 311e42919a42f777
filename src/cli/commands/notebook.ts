import { Option } from 'commander';
import type { CliCommand } from '../command.js';
import { collect } from '../command.js';

const command: CliCommand = {
  name: 'notebook',
  register(program) {
    program
      .command('notebook')
      .description(
        "Reproduce the notebook's table: generate the stand-in data if missing, train every step not yet finished (same config hash in the run store), then write the table and the validation curves",
      )
      .addOption(
        new Option(
          '--scale <scale>',
          'full: the experiment files as they are (about 20 hours on two cores, 18 of them the VGG16 steps); quick: experiments/quick/; tiny: the quick files cut to 1 epoch on a few images (a smoke test)',
        )
          .choices(['full', 'quick', 'tiny'])
          .default('full'),
      )
      .option('--quick', 'same as --scale quick')
      .option('--only <step>', 'train only these steps (comma-separated or repeated: 01 02 03 04 05 pretrain 04s 04b 05b); the report still lists every finished step', collect, [])
      .option('--report-only', 'write the table and curves from finished runs, train nothing')
      .option('--out <dir>', 'where to write notebook.md, validation_curves.png and notebook.json (default: <runs-dir>/notebook/<scale>)')
      .option('--runs-dir <dir>', "run store (default: the files' tracking.runsDir, runs/)")
      .option('--no-progress', 'one line per epoch instead of a live progress bar')
      .action(async (o: { scale: 'full' | 'quick' | 'tiny'; quick?: boolean; only: string[]; reportOnly?: boolean; out?: string; runsDir?: string; progress: boolean }) => {
        const { runNotebook } = await import('../../notebook/index.js');
        const r = await runNotebook({
          scale: o.quick ? 'quick' : o.scale,
          only: o.only
            .flatMap((s) => s.split(','))
            .map((s) => s.trim())
            .filter(Boolean),
          reportOnly: o.reportOnly,
          out: o.out,
          runsDir: o.runsDir,
          tty: o.progress ? undefined : false,
        });
        if (!r.complete) process.exitCode = 130;
      });
  },
};
export default command;
