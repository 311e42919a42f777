import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { isFitspecError, type Problem } from '../errors.js';
import { diffExperiments, type ConfigDiff } from './diff.js';
import { gitFiles, gitReader } from './git.js';
import { fsReader, loadDetailed, type ConfigReader, type LoadedExperiment } from './load.js';

/** One side of a review: a git revision, or the working tree. */
export interface ReviewSide {
  label: string;
  reader: ConfigReader;
  /** YAML files under `paths`, relative to the working directory. */
  files(paths: string[]): string[];
}

const isYaml = (f: string) => /\.ya?ml$/.test(f);

export function gitSide(rev: string): ReviewSide {
  const reader = gitReader(rev);
  return { label: rev, reader, files: (paths) => gitFiles(rev, paths).filter(isYaml) };
}

export function worktreeSide(): ReviewSide {
  const walk = (p: string): string[] => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return [];
    }
    if (!st.isDirectory()) return isYaml(p) ? [p] : [];
    return readdirSync(p)
      .filter((f) => !f.startsWith('.'))
      .flatMap((f) => walk(path.join(p, f)));
  };
  return { label: 'working tree', reader: fsReader, files: (paths) => paths.flatMap((p) => walk(path.normalize(p))) };
}

export interface ReviewEntry {
  file: string;
  status: 'changed' | 'added' | 'deleted' | 'error';
  before?: LoadedExperiment;
  after?: LoadedExperiment;
  diff?: ConfigDiff;
  /** Files whose content differs between the sides and that this experiment is built from: itself, files it extends, its architecture. */
  via: string[];
  /** Problems that stop the experiment from resolving, by side label. */
  problems?: { side: string; problems: Problem[] }[];
}

export interface Review {
  base: string;
  head: string;
  entries: ReviewEntry[];
  unchanged: number;
}

/** Folders whose YAML files are not experiments: layer stacks and mixins (partial files meant to be extended). */
const NOT_EXPERIMENTS = new Set(['architectures', 'mixins']);

interface Resolved {
  loaded: Map<string, LoadedExperiment>;
  failed: Map<string, Problem[]>;
}

/** Resolves every experiment of one side; a file that fails but that another file extends is a partial, not an experiment. */
function resolveSide(side: ReviewSide, paths: string[], set: string[]): Resolved {
  const files = [...new Set(side.files(paths).map((f) => path.normalize(f)))]
    .filter(
      (f) =>
        !path
          .dirname(f)
          .split(path.sep)
          .some((d) => NOT_EXPERIMENTS.has(d)),
    )
    .sort();
  const loaded = new Map<string, LoadedExperiment>();
  const failed = new Map<string, Problem[]>();
  for (const f of files) {
    try {
      loaded.set(f, loadDetailed(f, { set }, side.reader).loaded);
    } catch (e) {
      if (!isFitspecError(e)) throw e;
      failed.set(f, e.problems);
    }
  }
  const parents = new Set([...loaded.values()].flatMap((l) => l.chain.slice(0, -1).map((c) => path.resolve(c))));
  for (const f of failed.keys()) if (parents.has(path.resolve(f))) failed.delete(f);
  return { loaded, failed };
}

function bytesOf(reader: ConfigReader, file: string): string | undefined {
  try {
    return Buffer.from(reader.read(file)).toString('base64');
  } catch {
    return undefined;
  }
}

/**
 * Whether the base version of `input` is part of why `file` resolves differently: the experiment is
 * resolved once more from the head's files with only `input` taken from the base. When that gives the
 * head's config, the input's change (a comment, a reformat, a value the experiment overrides) does not
 * reach it.
 */
function changesConfig(file: string, input: string, after: LoadedExperiment, base: ReviewSide, head: ReviewSide, set: string[]): boolean {
  const target = path.resolve(input);
  const mixed: ConfigReader = { read: (f) => (path.resolve(f) === target ? base.reader : head.reader).read(f) };
  try {
    return !diffExperiments(loadDetailed(file, { set }, mixed).loaded.experiment, after.experiment).equal;
  } catch (e) {
    if (!isFitspecError(e)) throw e;
    return true;
  }
}

export interface ReviewOptions {
  /** `--set` overrides applied to every experiment on both sides. */
  set?: string[];
}

/**
 * Every experiment whose resolved config differs between two sides, whether its own file changed, a
 * file it extends, or the architecture it uses; plus experiments that are new, deleted, or no longer resolve.
 */
export function reviewExperiments(base: ReviewSide, head: ReviewSide, paths: string[], opts: ReviewOptions = {}): Review {
  const set = opts.set ?? [];
  const a = resolveSide(base, paths, set);
  const b = resolveSide(head, paths, set);
  const names = [...new Set([...a.loaded.keys(), ...a.failed.keys(), ...b.loaded.keys(), ...b.failed.keys()])].sort();
  const entries: ReviewEntry[] = [];
  let unchanged = 0;
  const inputs = (l?: LoadedExperiment) => (l ? [...l.chain, ...(l.architecture ? [l.architecture] : [])] : []);
  for (const file of names) {
    const before = a.loaded.get(file);
    const after = b.loaded.get(file);
    const seen = new Set<string>();
    const via = [...inputs(before), ...inputs(after)]
      .map((f) => path.relative(process.cwd(), path.resolve(f)) || f)
      .filter((f) => !seen.has(f) && seen.add(f) && bytesOf(base.reader, f) !== bytesOf(head.reader, f));
    const problems = [
      ...(a.failed.has(file) ? [{ side: base.label, problems: a.failed.get(file)! }] : []),
      ...(b.failed.has(file) ? [{ side: head.label, problems: b.failed.get(file)! }] : []),
    ];
    if (b.failed.has(file)) {
      entries.push({ file, status: 'error', before, via, problems });
    } else if (a.failed.has(file) && after) {
      // Broken at the base and fixed by the change: what it resolves to now is all there is to show.
      entries.push({ file, status: 'added', after, via, problems });
    } else if (before && after) {
      const diff = diffExperiments(before.experiment, after.experiment);
      if (diff.equal) unchanged++;
      else entries.push({ file, status: 'changed', before, after, diff, via: via.filter((f) => changesConfig(file, f, after, base, head, set)) });
    } else if (after) entries.push({ file, status: 'added', after, via });
    else if (before) entries.push({ file, status: 'deleted', before, via });
  }
  return { base: base.label, head: head.label, entries, unchanged };
}
