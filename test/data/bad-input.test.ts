import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { prepareData } from '../../src/data/index.js';
import { dataConfig, failure, makeCsvDataset, makeDirectoryDataset, tempDir } from './fixtures.js';

// Data a user can get wrong in ways that used to be internal errors: with `onError: fail` one sentence
// naming the file and what to do (the CLI exits 2 on a FitspecError); with `onError: skip` the file or
// row is left out and listed with its reason.
let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const CLASSES = ['middle', 'old', 'young'];
const dirSource = () => ({ type: 'directory' as const, path: join(dir, 'faces') });
const csvSource = () => ({ type: 'csv' as const, images: join(dir, 'Train'), labels: join(dir, 'train.csv'), idColumn: 'ID', labelColumn: 'Class' });

interface Case {
  name: string;
  /** Builds the dataset with the fault; returns the source and, for CSV, the classes to list. */
  setup: () => Promise<{ source: ReturnType<typeof dirSource> | ReturnType<typeof csvSource>; classes?: string[] }>;
  code: string;
  /** The sentence with onError: fail. */
  says: (dir: string) => RegExp;
  /** With onError: skip: how many files or rows are left out and what their reason says (undefined: skip cannot help). */
  skipped?: { count: number; reason: RegExp };
}

const cases: Case[] = [
  {
    name: 'a NUL byte in a CSV label',
    setup: async () => {
      await makeCsvDataset(dir, CLASSES, 4);
      appendFileSync(join(dir, 'train.csv'), '100.jpg-copy,yo\0ung\n');
      return { source: csvSource() };
    },
    code: 'data.bad-label',
    says: (d) =>
      new RegExp(
        `${d}/train\\.csv:14: the label of 100\\.jpg-copy, "yo\\\\u0000ung", contains a control character \\(U\\+0000, a NUL byte\\); fix the cell, or set \`data\\.onError: skip\` to leave such rows out\\.`,
      ),
    skipped: { count: 1, reason: /train\.csv:14: .*"yo\\u0000ung", contains a control character \(U\+0000, a NUL byte\)/ },
  },
  {
    name: 'a NUL byte in a CSV label, with the classes listed',
    setup: async () => {
      await makeCsvDataset(dir, CLASSES, 4);
      appendFileSync(join(dir, 'train.csv'), '101.jpg,o\0ld\n102.jpg,\x7fold\n');
      return { source: csvSource(), classes: CLASSES };
    },
    code: 'data.bad-label',
    says: () => /train\.csv:14: the label of 101\.jpg, "o\\u0000ld", contains a control character \(U\+0000, a NUL byte\) \(1 more row\(s\) like it\)/,
    // The rows' ids are also listed earlier with good labels: as duplicates they would be skipped anyway, so
    // the label check must come first to be the reason given.
    skipped: { count: 2, reason: /contains a control character/ },
  },
  {
    name: 'a dangling symbolic link in a class folder',
    setup: async () => {
      await makeDirectoryDataset(join(dir, 'faces'), CLASSES, 4);
      symlinkSync(join(dir, 'gone.png'), join(dir, 'faces', 'old', 'linked.png'));
      return { source: dirSource() };
    },
    code: 'data.broken-link',
    says: (d) => new RegExp(`${d}/faces/old/linked\\.png is a symbolic link to ${d}/gone\\.png, which does not exist; fix or delete the link\\.`),
    skipped: { count: 1, reason: /linked\.png is a symbolic link to .*gone\.png, which does not exist/ },
  },
  {
    name: 'a loop of symbolic links in a class folder',
    setup: async () => {
      await makeDirectoryDataset(join(dir, 'faces'), CLASSES, 4);
      symlinkSync(join(dir, 'faces', 'young', 'b.png'), join(dir, 'faces', 'young', 'a.png'));
      symlinkSync(join(dir, 'faces', 'young', 'a.png'), join(dir, 'faces', 'young', 'b.png'));
      return { source: dirSource() };
    },
    code: 'data.broken-link',
    says: (d) => new RegExp(`${d}/faces/young/a\\.png is a loop of symbolic links; fix or delete the link\\.`),
    skipped: { count: 2, reason: /is a loop of symbolic links/ },
  },
  {
    name: 'a CSV row naming a dangling symbolic link',
    setup: async () => {
      await makeCsvDataset(dir, CLASSES, 4);
      symlinkSync(join(dir, 'nowhere.jpg'), join(dir, 'Train', '900.jpg'));
      appendFileSync(join(dir, 'train.csv'), '900.jpg,old\n');
      return { source: csvSource() };
    },
    code: 'data.broken-link',
    says: (d) => new RegExp(`${d}/Train/900\\.jpg \\(${d}/train\\.csv:14\\) is a symbolic link to ${d}/nowhere\\.jpg, which does not exist`),
    skipped: { count: 1, reason: /900\.jpg .* is a symbolic link/ },
  },
  {
    name: 'a folder with an image name in a class folder',
    setup: async () => {
      await makeDirectoryDataset(join(dir, 'faces'), CLASSES, 4);
      mkdirSync(join(dir, 'elsewhere'));
      symlinkSync(join(dir, 'elsewhere'), join(dir, 'faces', 'middle', 'pic.png'));
      return { source: dirSource() };
    },
    code: 'data.not-a-file',
    says: (d) => new RegExp(`${d}/faces/middle/pic\\.png is a folder, not an image file\\.`),
    skipped: { count: 1, reason: /pic\.png is a folder/ },
  },
  {
    name: 'a real folder named like an image inside a class folder',
    setup: async () => {
      await makeDirectoryDataset(join(dir, 'faces'), CLASSES, 4);
      mkdirSync(join(dir, 'faces', 'young', 'x.jpg'));
      return { source: dirSource() };
    },
    code: 'data.not-a-file',
    says: (d) => new RegExp(`${d}/faces/young/x\\.jpg is a folder, not an image file\\.`),
    skipped: { count: 1, reason: /x\.jpg is a folder/ },
  },
  {
    name: 'a named pipe (FIFO) inside a class folder',
    setup: async () => {
      await makeDirectoryDataset(join(dir, 'faces'), CLASSES, 4);
      execFileSync('mkfifo', [join(dir, 'faces', 'old', 'pipe.jpg')]);
      return { source: dirSource() };
    },
    code: 'data.not-a-file',
    says: (d) => new RegExp(`${d}/faces/old/pipe\\.jpg is a named pipe \\(FIFO\\), not an image file\\.`),
    skipped: { count: 1, reason: /pipe\.jpg is a named pipe/ },
  },
  {
    name: 'a labels CSV that is a named pipe',
    setup: async () => {
      await makeCsvDataset(dir, CLASSES, 4);
      rmSync(join(dir, 'train.csv'));
      execFileSync('mkfifo', [join(dir, 'train.csv')]);
      return { source: csvSource() };
    },
    code: 'data.not-a-file',
    says: (d) => new RegExp(`Labels file ${d}/train\\.csv is a named pipe \\(FIFO\\), not a CSV file`),
  },
  {
    name: 'a labels CSV that is /dev/zero',
    setup: async () => {
      await makeCsvDataset(dir, CLASSES, 4);
      return { source: { ...csvSource(), labels: '/dev/zero' } };
    },
    code: 'data.not-a-file',
    says: () => /Labels file \/dev\/zero is a device, not a CSV file/,
  },
  {
    name: 'a class folder whose name holds a control character',
    setup: async () => {
      await makeDirectoryDataset(join(dir, 'faces'), ['middle', 'old\nest', 'young'], 4);
      return { source: dirSource() };
    },
    code: 'data.bad-class-name',
    says: () => /Class folder "old\\nest" contains a control character \(U\+000A\); rename it to printable text\./,
  },
];

describe('bad input data: one sentence with onError: fail, left out and counted with onError: skip', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const { source, classes } = await c.setup();
      const e = await failure(prepareData(dataConfig({ source, classes, onError: 'fail', split: { train: 0.5, validation: 0.5 } }), 1));
      expect(e.problems[0]!.code).toBe(c.code);
      expect(e.problems[0]!.message).toMatch(c.says(dir));
      expect(e.problems[0]!.message.split('\n')).toHaveLength(1);
      const skipping = prepareData(dataConfig({ source, classes, onError: 'skip', split: { train: 0.5, validation: 0.5 } }), 1);
      if (!c.skipped) {
        expect((await failure(skipping)).problems[0]!.code).toBe(c.code);
        return;
      }
      const d = await skipping;
      expect(d.skipped).toHaveLength(c.skipped.count);
      for (const s of d.skipped) expect(s.reason).toMatch(c.skipped.reason);
      expect(d.classes).toEqual(CLASSES);
      expect(d.parts.train.ids.length + d.parts.validation!.ids.length).toBe(12);
    });
  }
});

describe('predict refuses what training data refuses', () => {
  it.each([
    ['/dev/zero', () => '/dev/zero', /\/dev\/zero is a device, not an image file/],
    [
      'a named pipe',
      () => {
        const f = join(dir, 'pipe.jpg');
        execFileSync('mkfifo', [f]);
        return f;
      },
      /pipe\.jpg is a named pipe \(FIFO\), not an image file/,
    ],
    [
      'a named pipe inside a folder given',
      () => {
        mkdirSync(join(dir, 'imgs'));
        execFileSync('mkfifo', [join(dir, 'imgs', 'a.png')]);
        return join(dir, 'imgs');
      },
      /a\.png is a named pipe \(FIFO\), not an image file/,
    ],
  ])('%s: one sentence, at once', async (_, make, says) => {
    const { expandImagePaths } = await import('../../src/data/sources.js');
    const arg = make();
    let err: unknown;
    try {
      expandImagePaths([arg]);
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string })?.code).toBe('predict.not-a-file');
    expect((err as Error).message).toMatch(says);
  });
});
