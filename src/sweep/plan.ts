import { readFileSync } from 'node:fs';
import { loadDetailed, type ConfigReader, type LoadedExperiment } from '../config/index.js';
import { renderExcerpt, type Origin, type PathOrigin } from '../config/origins.js';
import type { SweepConfig } from '../config/schema/experiment.js';
import { Rng } from '../data/random.js';
import { FitspecError, isFitspecError, type Problem } from '../errors.js';

export interface Trial {
  /** 1-based position in the sweep. */
  index: number;
  /** `t001`, `t002`, ...: stable names for logs, run names and the results table. */
  id: string;
  /** Searched path -> value of this trial. */
  params: Record<string, unknown>;
  /** `--set` texts that turn the experiment into this trial (user `--set`s first). */
  overrides: string[];
  /** Config hash of the trial's resolved config: its identity for exactly-once. */
  hash: string;
  loaded: LoadedExperiment;
}

export interface SweepPlan {
  name: string;
  file: string;
  sweep: SweepConfig;
  /** Experiment name of the trials: their runs live in runs/<experimentName>/. */
  experimentName: string;
  /** The sweep file as loaded (its resolved config includes the `sweep:` block). */
  base: LoadedExperiment;
  trials: Trial[];
  /** Trials dropped because an earlier one has the same resolved config (e.g. a value equal to the default). */
  duplicates: { id: string; sameAs: string }[];
  /**
   * Makes, validates and hashes the trial at `index` (from 1) with these values: how a model-based
   * method (tpe, cmaes) turns a drawn point into a trial while the sweep runs. Throws FitspecError.
   */
  trialOf(index: number, params: Record<string, unknown>): Trial;
  /** `--set` texts every trial starts from: the user's, the sweep block removed, the scheduler's epochs. */
  baseSets: string[];
}

/** Methods whose trials are drawn one at a time from the results so far (Optuna), not planned ahead. */
export const MODEL_BASED = new Set(['tpe', 'cmaes']);

/** Whether a conditional parameter applies, given the values already chosen for the parameters it names. */
export function conditionHolds(spec: { when?: Record<string, unknown[]> }, chosen: Record<string, unknown>, parameters: SweepConfig['parameters']): boolean {
  if (!spec.when) return true;
  return Object.entries(spec.when).every(([k, allowed]) => {
    if (!(k in chosen)) return false;
    const label = valueLabel(parameters[k], chosen[k]);
    return allowed.some((a) => JSON.stringify(a) === JSON.stringify(chosen[k]) || a === label);
  });
}

export interface PlanOptions {
  set?: string[];
  /** Allow more than `sweep.maxTrials` trials. */
  yes?: boolean;
  /** Where the files are read from (a git revision for `fitspec review`); default: the disk. */
  reader?: ConfigReader;
}

/** A value as written in a `--set` text and in tables: JSON, which is also YAML flow syntax. */
export function showValue(v: unknown): string {
  return typeof v === 'string' && /^[\w.+-]+$/.test(v) && !/^(null|true|false|~|[-+.\d].*)$/i.test(v) ? v : JSON.stringify(v);
}

/** How a trial's value is shown: its label when the parameter names its values, else the value itself. */
export function valueLabel(spec: { values?: unknown[]; labels?: string[] } | undefined, value: unknown): string {
  const i = spec?.labels && spec.values ? spec.values.findIndex((v) => JSON.stringify(v) === JSON.stringify(value)) : -1;
  return i >= 0 && spec!.labels![i] ? spec!.labels![i]! : showValue(value);
}

/**
 * Reads a sweep file (an experiment with a `sweep:` block), expands the trials, and loads, validates
 * and hashes every trial's config before anything runs, so that a bad combination is reported with the
 * trial, its values and the place in the sweep block, not discovered halfway through a sweep.
 */
/** The most trials one sweep plans, whatever `sweep.maxTrials` and `--yes` say. */
export const MAX_PLANNED_TRIALS = 10_000;

export function planSweep(file: string, opts: PlanOptions = {}): SweepPlan {
  const userSets = opts.set ?? [];
  const { loaded: base, origins } = loadDetailed(file, { set: userSets }, opts.reader);
  const written = base.experiment.sweep;
  if (!written)
    throw new FitspecError({
      code: 'sweep.missing',
      message: `${file} has no \`sweep:\` block: add one (method, metric, parameters) or \`extends\` the experiment from a sweep file.`,
      file,
      path: 'sweep',
    });
  const place = placer(origins);
  // Parameters in the order they are written (the resolved config sorts them): the first varies slowest in a grid, and tables show them so.
  const line = (k: string) => {
    const o = origins.get(`sweep.parameters.${k}`)?.key;
    return o?.kind === 'file' ? o.line : Number.MAX_SAFE_INTEGER;
  };
  const sweep: SweepConfig = { ...written, parameters: Object.fromEntries(Object.entries(written.parameters).sort(([a], [b]) => line(a) - line(b))) };
  const keys = Object.keys(sweep.parameters);

  const specProblems: Problem[] = [];
  for (const key of keys) specProblems.push(...checkSpec(sweep, key, place), ...checkWhen(sweep, key, keys, place));
  if (sweep.scheduler) specProblems.push(...checkScheduler(sweep, base.experiment.train.phases?.length ?? 0, place));
  if (specProblems.length) throw new FitspecError(specProblems);
  const schedulerSets = sweep.scheduler ? [`train.epochs=${sweep.scheduler.maxEpochs}`] : [];
  const baseSets = [...userSets, 'sweep=null', ...schedulerSets];

  const combos = sweep.method === 'grid' ? gridSize(sweep) : sweep.count!;
  // Counted before anything is expanded: every trial is validated and hashed when planned, so a grid of millions would take minutes and gigabytes before printing a line.
  if (combos > MAX_PLANNED_TRIALS) {
    throw new FitspecError({
      code: 'sweep.too-many',
      message: `The sweep has ${combos.toLocaleString('en-US')} trials; one sweep plans at most ${MAX_PLANNED_TRIALS.toLocaleString('en-US')} (--yes included): use fewer values, or method: random with a count.`,
      path: 'sweep.parameters',
      expected: `at most ${MAX_PLANNED_TRIALS} trials`,
      received: String(combos),
      ...place(['sweep', sweep.method === 'grid' ? 'parameters' : 'count'], 'key'),
    });
  }
  if (combos > sweep.maxTrials && !opts.yes) {
    throw new FitspecError({
      code: 'sweep.too-many',
      message: `The sweep has ${combos} trials, more than sweep.maxTrials (${sweep.maxTrials}): give --yes to run them all, or raise sweep.maxTrials.`,
      path: 'sweep.maxTrials',
      expected: `at most ${sweep.maxTrials} trials`,
      received: String(combos),
      ...place(['sweep', sweep.method === 'grid' ? 'parameters' : 'count'], 'key'),
    });
  }
  const modelBased = MODEL_BASED.has(sweep.method);
  const draws = sweep.method === 'grid' ? gridValues(sweep) : randomValues(sweep);

  // A path that is not a config path fails identically in every trial: report it once, at its key.
  const firstParams = { ...Object.fromEntries(keys.map((k) => [k, sweep.parameters[k]!.values?.[0] ?? sweep.parameters[k]!.min])), ...draws[0] };
  const firstSets = keys.map((k) => (k === EXTENDS ? '' : setText(k, firstParams[k])));
  const firstLoad = { set: [...baseSets, ...firstSets.filter(Boolean)], extendsBase: extendsOf(firstParams) };
  // Reported together with the trials' own problems below, so that one run of the command shows them all.
  const pathProblems: Problem[] = [];
  const badKeys = new Set<string>();
  try {
    loadDetailed(file, firstLoad, opts.reader);
  } catch (e) {
    if (!isFitspecError(e)) throw e;
    for (const p of e.problems.filter((q) => q.code === 'set.path' || q.code === 'set.syntax')) {
      const key = keys.find((_k, i) => p.file === `--set ${firstSets[i]}`) ?? keys[0]!;
      badKeys.add(key);
      pathProblems.push({ ...p, message: p.message.replace(/^--set [^:]*: /, `sweep parameter \`${key}\`: `), ...place(['sweep', 'parameters', key], 'key') });
    }
  }
  if (pathProblems.length && MODEL_BASED.has(sweep.method)) throw new FitspecError(pathProblems);

  const trials: Trial[] = [];
  const duplicates: SweepPlan['duplicates'] = [];
  const problems: Problem[] = [];
  const build = (params: Record<string, unknown>, i: number, problems: Problem[]): Trial | undefined => {
    const id = `t${String(i + 1).padStart(3, '0')}`;
    const used = keys.filter((k) => k in params && !badKeys.has(k));
    const sets = used.map((k) => (k === EXTENDS ? '' : setText(k, params[k])));
    const overrides = [...baseSets, ...sets.filter(Boolean)];
    let loaded: LoadedExperiment;
    try {
      loaded = loadDetailed(file, { set: overrides, extendsBase: extendsOf(params) }, opts.reader).loaded;
    } catch (e) {
      if (!isFitspecError(e)) throw e;
      const keys = used;
      const values = keys.map((k) => `${k}=${valueLabel(sweep.parameters[k], params[k])}`).join(', ');
      for (const p of e.problems) {
        if (p.severity === 'warning') continue;
        const k = keys.findIndex((key, j) => p.file === `--set ${sets[j]}` || (p.path !== undefined && (p.path === key || p.path.startsWith(`${key}.`))));
        const key = keys[k];
        const where = key ? valuePlace(place, sweep, key, params[key]) : {};
        problems.push({
          ...p,
          message: `trial ${id} (${values}): ${p.message}`,
          ...(key || p.file?.startsWith('--set ') ? where : {}),
          hint: [p.hint, key ? undefined : `the trial's values come from ${describe(place(['sweep', 'parameters'], 'key'))}`].filter(Boolean).join('; ') || undefined,
        });
      }
      return undefined;
    }
    return { index: i + 1, id, params, overrides, hash: loaded.hash, loaded };
  };
  if (!modelBased) {
    draws.forEach((params, i) => {
      const t = build(params, i, problems);
      if (!t) return;
      const same = trials.find((x) => x.hash === t.hash);
      if (same) duplicates.push({ id: t.id, sameAs: same.id });
      else trials.push(t);
    });
  }
  if (pathProblems.length || problems.length) throw new FitspecError([...pathProblems, ...oncePerCause(problems)].slice(0, 50));
  const trialOf = (index: number, params: Record<string, unknown>): Trial => {
    const found: Problem[] = [];
    const t = build(params, index - 1, found);
    if (!t) throw new FitspecError(found.slice(0, 50));
    return t;
  };

  const experimentName = trials[0]?.loaded.experiment.name ?? loadDetailed(file, firstLoad, opts.reader).loaded.experiment.name;
  return { name: sweep.name ?? base.experiment.name, file, sweep, experimentName, base, trials, duplicates, trialOf, baseSets };
}

/**
 * The parameter whose values are experiment files: each trial builds on one of them, in place of the
 * first file the sweep file `extends`, so a sweep compares experiments by naming them, and a change to
 * one of those files changes its trials' config hashes.
 */
export const EXTENDS = 'extends';

function extendsOf(params: Record<string, unknown>): string | undefined {
  const v = params[EXTENDS];
  return typeof v === 'string' ? v : undefined;
}

function setText(key: string, value: unknown): string {
  return `${key}=${value === undefined ? 'null' : JSON.stringify(value)}`;
}

type Placer = (path: string[], which: 'key' | 'value') => Partial<Problem>;

function placer(origins: Map<string, PathOrigin>): Placer {
  const texts = new Map<string, string>();
  return (path, which) => {
    const o = origins.get(path.join('.'));
    const origin: Origin | undefined = which === 'key' ? (o?.key ?? o?.value) : (o?.value ?? o?.key);
    if (!origin || origin.kind === 'default') return {};
    if (origin.kind === 'set') return { file: `--set ${origin.text}` };
    if (!texts.has(origin.file)) {
      try {
        texts.set(origin.file, readFileSync(origin.file, 'utf8'));
      } catch {
        texts.set(origin.file, '');
      }
    }
    const text = texts.get(origin.file)!;
    return { file: origin.file, line: origin.line, col: origin.col, ...(text ? { excerpt: renderExcerpt(text, origin.line, origin.col) } : {}) };
  };
}

function describe(p: Partial<Problem>): string {
  return p.file ? [p.file, p.line].filter((x) => x !== undefined).join(':') : 'the sweep block';
}

/** The value's own place in a `values` list when it came from one, else the parameter's key. */
function valuePlace(place: Placer, sweep: SweepConfig, key: string, value: unknown): Partial<Problem> {
  const list = sweep.parameters[key]!.values;
  const i = list ? list.findIndex((v) => JSON.stringify(v) === JSON.stringify(value)) : -1;
  if (i >= 0) {
    const at = place(['sweep', 'parameters', key, 'values', String(i)], 'value');
    if (at.file) return at;
  }
  return place(['sweep', 'parameters', key], 'key');
}

function checkSpec(sweep: SweepConfig, key: string, place: Placer): Problem[] {
  const spec = sweep.parameters[key]!;
  const at = (field?: string) => place(['sweep', 'parameters', key, ...(field ? [field] : [])], field ? 'value' : 'key');
  const path = `sweep.parameters.${key}`;
  const dist = spec.distribution ?? (spec.values ? 'choice' : undefined);
  const out: Problem[] = [];
  if (key === EXTENDS) {
    const bad = (spec.values ?? []).findIndex((v) => typeof v !== 'string' || !v);
    if (!spec.values || (spec.distribution && spec.distribution !== 'choice') || bad >= 0) {
      return [
        {
          code: 'sweep.extends',
          message: 'sweep parameter `extends`: its `values` are experiment files (paths relative to the sweep file), each trial building on one of them.',
          path: `${path}.values`,
          expected: 'values: [file.yaml, ...]',
          received: bad >= 0 ? JSON.stringify(spec.values![bad]) : (spec.distribution ?? 'no values'),
          ...at(spec.values ? 'values' : undefined),
        },
      ];
    }
  }
  if (spec.labels && spec.labels.length !== spec.values?.length) {
    out.push({
      code: 'sweep.labels',
      message: `sweep parameter \`${key}\`: \`labels\` names the \`values\`, one label each; there are ${spec.labels.length} labels for ${spec.values?.length ?? 0} values.`,
      path: `${path}.labels`,
      expected: `${spec.values?.length ?? 0} labels`,
      received: String(spec.labels.length),
      ...at('labels'),
    });
  }
  if (sweep.method === 'grid') {
    if (spec.distribution && spec.distribution !== 'choice') {
      out.push({
        code: 'sweep.distribution',
        message: `sweep parameter \`${key}\`: a \`${spec.distribution}\` distribution is drawn from, which needs \`method: random\`; a grid takes a \`values\` list.`,
        path,
        expected: 'values: [...]',
        received: spec.distribution,
        ...at('distribution'),
      });
    } else if (!spec.values) {
      out.push({
        code: 'sweep.values',
        message: `sweep parameter \`${key}\`: a grid needs a \`values\` list.`,
        path,
        expected: 'values: [a, b, ...]',
        received: 'no values',
        ...at(),
      });
    } else if (!spec.values.length) {
      out.push({
        code: 'sweep.empty',
        message: `sweep parameter \`${key}\`: \`values\` is empty, so the grid has no trials; list at least one value.`,
        path: `${path}.values`,
        expected: 'at least one value',
        received: '[]',
        ...at('values'),
      });
    }
    return out;
  }
  if (sweep.count === undefined && !out.length)
    out.push({
      code: 'sweep.count',
      message: `A ${sweep.method} sweep needs \`count\`: the number of trials to draw.`,
      path: 'sweep.count',
      expected: 'an integer >= 1',
      received: 'nothing',
      ...place(['sweep', 'method'], 'value'),
    });
  if (dist === undefined) {
    out.push({
      code: 'sweep.distribution',
      message: `sweep parameter \`${key}\`: give \`values\` (drawn with \`choice\`) or a \`distribution\` with \`min\` and \`max\`.`,
      path,
      expected: 'values or distribution',
      received: 'neither',
      ...at(),
    });
  } else if (dist === 'choice') {
    if (!spec.values?.length)
      out.push({
        code: 'sweep.empty',
        message: `sweep parameter \`${key}\`: \`choice\` draws from \`values\`, which ${spec.values ? 'is empty' : 'is missing'}.`,
        path: `${path}.values`,
        expected: 'at least one value',
        received: spec.values ? '[]' : 'nothing',
        ...at(spec.values ? 'values' : undefined),
      });
  } else {
    if (spec.values)
      out.push({
        code: 'sweep.values',
        message: `sweep parameter \`${key}\`: \`${dist}\` draws between \`min\` and \`max\`; \`values\` belongs to \`choice\`.`,
        path: `${path}.values`,
        expected: 'min and max',
        received: 'values',
        ...at('values'),
      });
    if (spec.min === undefined || spec.max === undefined) {
      out.push({
        code: 'sweep.range',
        message: `sweep parameter \`${key}\`: \`${dist}\` needs both \`min\` and \`max\`.`,
        path,
        expected: 'min and max',
        received: spec.min === undefined ? 'no min' : 'no max',
        ...at(),
      });
    } else if (spec.min >= spec.max) {
      out.push({
        code: 'sweep.range',
        message: `sweep parameter \`${key}\`: \`min\` (${spec.min}) must be below \`max\` (${spec.max}).`,
        path: `${path}.min`,
        expected: `min < ${spec.max}`,
        received: String(spec.min),
        ...at('min'),
      });
    } else if (dist === 'logUniform' && spec.min <= 0) {
      out.push({
        code: 'sweep.range',
        message: `sweep parameter \`${key}\`: \`logUniform\` draws on a log scale, so \`min\` must be above 0.`,
        path: `${path}.min`,
        expected: '> 0',
        received: String(spec.min),
        ...at('min'),
      });
    } else if (dist === 'int' && (!Number.isInteger(spec.min) || !Number.isInteger(spec.max))) {
      out.push({
        code: 'sweep.range',
        message: `sweep parameter \`${key}\`: \`int\` takes integer \`min\` and \`max\`.`,
        path,
        expected: 'integers',
        received: `${spec.min}, ${spec.max}`,
        ...at(),
      });
    }
    if (dist === 'qUniform' && spec.q === undefined)
      out.push({
        code: 'sweep.range',
        message: `sweep parameter \`${key}\`: \`qUniform\` needs \`q\`, the step values are rounded to.`,
        path,
        expected: 'q > 0',
        received: 'no q',
        ...at(),
      });
  }
  return out;
}

function gridSize(sweep: SweepConfig): number {
  return Object.values(sweep.parameters).some((s) => s.when) ? gridValues(sweep).length : Object.values(sweep.parameters).reduce((n, s) => n * s.values!.length, 1);
}

/** Every combination; the first parameter varies slowest (as itertools.product and W&B grids). */
function gridValues(sweep: SweepConfig): Record<string, unknown>[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, spec] of Object.entries(sweep.parameters))
    out = out.flatMap((o) => (conditionHolds(spec, o, sweep.parameters) ? spec.values!.map((v) => ({ ...o, [key]: v })) : [o]));
  return out;
}

/** Six significant digits: draws stay readable in tables and params, and equal draws hash equal. */
const round = (x: number) => Number(x.toPrecision(6));

function randomValues(sweep: SweepConfig): Record<string, unknown>[] {
  return Array.from({ length: sweep.count! }, (_, i) => {
    const chosen: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(sweep.parameters)) {
      if (!conditionHolds(spec, chosen, sweep.parameters)) continue;
      const [, v] = draw(key, spec, i);
      chosen[key] = v;
    }
    return chosen;
  });

  function draw(key: string, spec: SweepConfig['parameters'][string], i: number): [string, unknown] {
    {
      // Each value depends only on (seed, trial, path): adding a parameter does not reshuffle the others.
      const u = Rng.from(sweep.seed, 'sweep', i, key).uniform(0, 1);
      const dist = spec.distribution ?? 'choice';
      const lo = spec.min!;
      const hi = spec.max!;
      switch (dist) {
        case 'choice':
          return [key, spec.values![Math.min(spec.values!.length - 1, Math.floor(u * spec.values!.length))]];
        case 'uniform':
          return [key, round(lo + u * (hi - lo))];
        case 'logUniform':
          return [key, round(Math.exp(Math.log(lo) + u * (Math.log(hi) - Math.log(lo))))];
        case 'int':
          return [key, Math.min(hi, lo + Math.floor(u * (hi - lo + 1)))];
        case 'qUniform':
          return [key, round(Math.round((lo + u * (hi - lo)) / spec.q!) * spec.q!)];
      }
    }
  }
}

function checkWhen(sweep: SweepConfig, key: string, keys: string[], place: Placer): Problem[] {
  const when = sweep.parameters[key]!.when;
  if (!when) return [];
  const out: Problem[] = [];
  for (const [other, allowed] of Object.entries(when)) {
    const at = place(['sweep', 'parameters', key, 'when', other], 'key');
    const spec = sweep.parameters[other];
    if (!spec || keys.indexOf(other) >= keys.indexOf(key)) {
      out.push({
        code: 'sweep.when',
        message: `sweep parameter \`${key}\`: \`when\` names \`${other}\`, which is not a parameter written before it.`,
        path: `sweep.parameters.${key}.when`,
        expected: `one of ${keys.slice(0, keys.indexOf(key)).join(', ') || '(no earlier parameter)'}`,
        received: other,
        ...at,
      });
      continue;
    }
    if (!spec.values || (spec.distribution && spec.distribution !== 'choice')) {
      out.push({
        code: 'sweep.when',
        message: `sweep parameter \`${key}\`: \`when\` names \`${other}\`, which must take its values from a \`values\` list.`,
        path: `sweep.parameters.${key}.when`,
        expected: 'a parameter with values',
        received: spec.distribution ?? 'no values',
        ...at,
      });
      continue;
    }
    for (const a of allowed) {
      const ok = spec.values.some((v) => JSON.stringify(v) === JSON.stringify(a)) || (typeof a === 'string' && spec.labels?.includes(a));
      if (!ok)
        out.push({
          code: 'sweep.when',
          message: `sweep parameter \`${key}\`: \`when\` lists ${showValue(a)}, which is not one of the values (or labels) of \`${other}\`.`,
          path: `sweep.parameters.${key}.when.${other}`,
          expected: (spec.labels ?? spec.values.map(showValue)).join(', '),
          received: showValue(a),
          ...at,
        });
    }
  }
  return out;
}

function checkScheduler(sweep: SweepConfig, phases: number, place: Placer): Problem[] {
  const s = sweep.scheduler!;
  const at = place(['sweep', 'scheduler'], 'key');
  const out: Problem[] = [];
  if (s.minEpochs > s.maxEpochs)
    out.push({
      code: 'sweep.scheduler',
      message: `sweep.scheduler: \`minEpochs\` (${s.minEpochs}) must not exceed \`maxEpochs\` (${s.maxEpochs}).`,
      path: 'sweep.scheduler.minEpochs',
      expected: `<= ${s.maxEpochs}`,
      received: String(s.minEpochs),
      ...at,
    });
  if (sweep.parameters['train.epochs'])
    out.push({
      code: 'sweep.scheduler',
      message: "sweep.scheduler sets every trial's `train.epochs` to `maxEpochs`, so `train.epochs` cannot also be a searched parameter.",
      path: 'sweep.parameters.train.epochs',
      expected: 'no train.epochs parameter',
      received: 'train.epochs',
      ...at,
    });
  if (phases)
    out.push({
      code: 'sweep.scheduler',
      message: 'sweep.scheduler counts the epochs of `train.epochs`; an experiment with `train.phases` cannot be scheduled yet.',
      path: 'train.phases',
      expected: 'no train.phases',
      received: `${phases} phases`,
      ...at,
    });
  return out;
}

/** The same mistake in many trials (one bad value, crossed with every other parameter) is said once, with the count. */
function oncePerCause(problems: Problem[]): Problem[] {
  const groups = new Map<string, { first: Problem; count: number }>();
  for (const p of problems) {
    const key = [p.code, p.file, p.line, p.col, p.path, p.message.replace(/^trial t\d+ \([^)]*\): /, '')].join('\0');
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { first: p, count: 1 });
  }
  return [...groups.values()].map(({ first, count }) =>
    count > 1 ? { ...first, message: `${first.message} (and ${count - 1} more trial${count > 2 ? 's' : ''} with this value)` } : first,
  );
}
