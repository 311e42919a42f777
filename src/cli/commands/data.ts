import type { CliCommand } from '../command.js';
import { withConfigOptions } from '../command.js';

const command: CliCommand = {
  name: 'data',
  register(program) {
    const data = program.command('data').description('Generate a synthetic dataset, or check the data of an experiment');

    data
      .command('synth')
      .description('Write a synthetic face-age dataset (young / middle / old), deterministic per seed')
      .requiredOption('--out <dir>', 'folder to create (must not exist or be empty)')
      .option('--per-class <n>', 'images per class', '2400')
      .option('--layout <layout>', '`csv`: Train/<id>.jpg + train.csv (ID,Class), like the notebook; `directory`: <class>/<id>.jpg', 'csv')
      .option('--seed <n>', 'random seed', '42')
      .option('--classes <names>', 'comma-separated class names, youngest first (default YOUNG,MIDDLE,OLD)')
      .option('--profile <name>', 'difficulty knobs and task: default | film-stills | identities (see the README)', 'default')
      .option('--identities <n>', 'number of persons whose appearance repeats (overrides the profile; 0: every image a new person)')
      .action(async (o: { out: string; perClass: string; layout: string; seed: string; classes?: string; profile: string; identities?: string }) => {
        const { fail } = await import('../../errors.js');
        const { synthesize } = await import('../../data/index.js');
        const int = (v: string, name: string) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0) fail('cli.bad-option', `${name} must be a non-negative integer, got "${v}".`, { expected: 'an integer', received: v });
          return n;
        };
        if (o.layout !== 'csv' && o.layout !== 'directory')
          fail('cli.bad-option', `--layout must be csv or directory, got "${o.layout}".`, { expected: 'csv | directory', received: o.layout });
        const tty = process.stderr.isTTY;
        const r = await synthesize({
          out: o.out,
          perClass: int(o.perClass, '--per-class'),
          layout: o.layout as 'csv' | 'directory',
          seed: int(o.seed, '--seed'),
          classes: o.classes
            ?.split(',')
            .map((c) => c.trim())
            .filter(Boolean),
          profile: o.profile,
          identities: o.identities === undefined ? undefined : int(o.identities, '--identities'),
          onProgress: tty ? (done, total) => done % 100 === 0 && process.stderr.write(`\r${done}/${total}`) : undefined,
        });
        if (tty) process.stderr.write('\r');
        process.stdout.write(`wrote ${r.count} images to ${r.out} in ${r.seconds.toFixed(1)}s (${Math.round(r.imagesPerSecond)} images/s)\n`);
      });

    withConfigOptions(
      data
        .command('check')
        .description('List, decode and split the data of an experiment without training: counts per part and class, and what would be skipped')
        .argument('<file>', 'experiment YAML file')
        .option('--split-dir <dir>', 'also write the split lists (train.txt, validation.txt, test.txt) here'),
    ).action(async (file: string, o: { set: string[]; splitDir?: string }) => {
      const { loadExperiment } = await import('../../config/index.js');
      const { prepareData, writeSplit } = await import('../../data/index.js');
      const { experiment } = loadExperiment(file, { set: o.set });
      const d = await prepareData(experiment.data, experiment.seed, { log: (m) => process.stderr.write(m + '\n') });
      const rows = Object.entries(d.profile).map(
        ([part, counts]) =>
          `${part.padEnd(11)} ${Object.entries(counts)
            .map(([c, n]) => `${c} ${n}`)
            .join(', ')}`,
      );
      process.stdout.write(
        `source      ${d.source.type} ${d.source.location}\nclasses     ${d.classes.join(', ')}\n${rows.join('\n')}\nsplit       sha256:${d.splitDigest}\nskipped     ${d.skipped.length}\n`,
      );
      for (const s of d.skipped) process.stdout.write(`  ${s.file}: ${s.reason}\n`);
      if (o.splitDir) writeSplit(d, o.splitDir);
    });
  },
};
export default command;
