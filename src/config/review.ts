import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { formatProblem, isFitspecError, type Problem } from '../errors.js';
import { diffExperiments, formatDiff, type ConfigDiff } from './diff.js';
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
function resolveSide(side: ReviewSide, paths: string[]): Resolved {
  const files = [...new Set(side.files(paths).map((f) => path.normalize(f)))].filter((f) => !path.dirname(f).split(path.sep).some((d) => NOT_EXPERIMENTS.has(d))).sort();
  const loaded = new Map<string, LoadedExperiment>();
  const failed = new Map<string, Problem[]>();
  for (const f of files) {
    try {
      loaded.set(f, loadDetailed(f, {}, side.reader).loaded);
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
 * Every experiment whose resolved config differs between two sides, whether its own file changed, a
 * file it extends, or the architecture it uses; plus experiments that are new, deleted, or no longer resolve.
 */
export function reviewExperiments(base: ReviewSide, head: ReviewSide, paths: string[]): Review {
  const a = resolveSide(base, paths);
  const b = resolveSide(head, paths);
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
      else entries.push({ file, status: 'changed', before, after, diff, via });
    } else if (after) entries.push({ file, status: 'added', after, via });
    else if (before) entries.push({ file, status: 'deleted', before, via });
  }
  return { base: base.label, head: head.label, entries, unchanged };
}

/** MLflow runs whose `fitspec.config_hash` tag is a given hash, or why they could not be listed. */
export interface RunLinks {
  byHash: Map<string, { name: string; url: string }[]>;
  note?: string;
}

const short = (h: string) => h.slice(0, 12);
const STATUS_WORD = { changed: 'changed', added: 'new', deleted: 'deleted', error: 'error' } as const;

function counts(r: Review): string {
  const n = (s: ReviewEntry['status']) => r.entries.filter((e) => e.status === s).length;
  const parts = [`${n('changed')} changed`, `${n('added')} new`, `${n('deleted')} deleted`];
  if (n('error')) parts.push(`${n('error')} not resolving`);
  parts.push(`${r.unchanged} unchanged`);
  return parts.join(', ');
}

/** The review as plain text or as one Markdown comment for a pull request, read top to bottom. */
export function formatReview(r: Review, format: 'text' | 'markdown', links?: RunLinks): string {
  const md = format === 'markdown';
  const out: string[] = [];
  const code = (s: string) => (md ? `\`${s}\`` : s);
  out.push(md ? `### fitspec review: \`${r.base}\` → \`${r.head}\`` : `fitspec review: ${r.base} -> ${r.head}`);
  out.push('', `Experiments (resolved configs): ${counts(r)}.`);
  if (!r.entries.length) out.push('', 'No experiment resolves differently.');
  if (links?.note) out.push('', md ? `> ${links.note}` : `note: ${links.note}`);
  const runs = (hash: string) => {
    const list = links?.byHash.get(hash);
    if (!links || list === undefined) return undefined;
    if (!list.length) return 'none';
    return list.map((l) => (md ? `[${l.name}](${l.url})` : `${l.name} ${l.url}`)).join(', ');
  };
  for (const e of r.entries) {
    const exp = e.after ?? e.before;
    const name = exp ? ` (${exp.experiment.name})` : '';
    out.push('');
    out.push(md ? `#### ${STATUS_WORD[e.status]}: \`${e.file}\`${name}` : `${STATUS_WORD[e.status].padEnd(8)} ${e.file}${name}`);
    const facts: string[] = [];
    const through = e.via.filter((f) => path.resolve(f) !== path.resolve(e.file));
    if (e.status === 'changed' && through.length) facts.push(`changed through: ${through.map(code).join(', ')}${e.via.length > through.length ? ' and the file itself' : ''}`);
    if (e.before && e.after) {
      const same = e.before.hash === e.after.hash;
      facts.push(`config hash: ${code(short(e.before.hash))} ${md ? '→' : '->'} ${code(short(e.after.hash))}${same ? ' (unchanged: only names, tags or tracking differ; trains the same)' : ''}`);
    } else if (e.after) facts.push(`config hash: ${code(short(e.after.hash))}`);
    else if (e.before) facts.push(`config hash: ${code(short(e.before.hash))}`);
    for (const [label, l] of [[r.base, e.before], [r.head, e.after]] as const) {
      const list = l && runs(l.hash);
      if (list !== undefined && !(e.before && e.after && label === r.head && e.before.hash === e.after.hash)) facts.push(`MLflow runs with the ${label === r.base ? 'base' : 'new'} hash: ${list}`);
    }
    for (const p of e.problems ?? []) {
      const head = `does not resolve at ${code(p.side)}:`;
      const lines = p.problems.map((x) => formatProblem(x));
      facts.push(md ? `${head}\n\n\`\`\`\n${lines.join('\n')}\n\`\`\`` : [head, ...lines.map((x) => x.replace(/^/gm, '    '))].join('\n'));
    }
    out.push(...(md ? ['', ...facts.map((f) => `- ${f}`)] : facts.map((f) => `  ${f}`)));
    if (e.diff) {
      const body = formatDiff(e.diff, format, [r.base, r.head]).trimEnd();
      out.push(...(md ? ['', body] : body.split('\n').map((l) => `  ${l}`)));
    }
  }
  return out.join('\n') + '\n';
}
