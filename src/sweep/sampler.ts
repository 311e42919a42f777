import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SweepConfig } from '../config/schema/experiment.js';
import { FitspecError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';

/** One searched path as Optuna's distributions see it; categorical values travel as indices. */
export interface SpaceParam {
  name: string;
  type: 'categorical' | 'float' | 'int';
  choices?: number;
  low?: number;
  high?: number;
  log?: boolean;
  step?: number;
  when?: Record<string, number[]>;
}

export interface SamplerTrial {
  params: Record<string, number>;
  state: 'complete' | 'pruned' | 'running' | 'failed';
  value?: number;
  /** Epoch (from 1) -> metric: what a paused or stopped trial reached, for TPE's ranking of pruned trials. */
  intermediate?: Record<string, number>;
}

export interface AskRequest {
  method: 'tpe' | 'cmaes';
  seed: number;
  /** The new trial's number (from 0): with `seed`, it seeds the draw. */
  number: number;
  mode: 'max' | 'min';
  space: SpaceParam[];
  trials: SamplerTrial[];
  /** Trials drawn at random before the model is used (Optuna's n_startup_trials, default 10). */
  startup?: number;
}

/** The position of a value in a `values` list (by JSON, as plan.ts compares values), or of its label. */
export function choiceIndex(spec: SweepConfig['parameters'][string], v: unknown): number {
  const text = JSON.stringify(v);
  const i = spec.values?.findIndex((x) => JSON.stringify(x) === text) ?? -1;
  if (i >= 0) return i;
  return typeof v === 'string' && spec.labels ? spec.labels.indexOf(v) : -1;
}

/** The sweep's parameters as Optuna's search space, in the order they are written (conditions refer back). */
export function searchSpace(sweep: SweepConfig): SpaceParam[] {
  return Object.entries(sweep.parameters).map(([name, spec]) => {
    const dist = spec.distribution ?? 'choice';
    const when = spec.when ? Object.fromEntries(Object.entries(spec.when).map(([k, vals]) => [k, vals.map((v) => choiceIndex(sweep.parameters[k]!, v))])) : undefined;
    const base = { name, ...(when ? { when } : {}) };
    switch (dist) {
      case 'choice':
        return { ...base, type: 'categorical', choices: spec.values!.length };
      case 'int':
        return { ...base, type: 'int', low: spec.min, high: spec.max };
      case 'logUniform':
        return { ...base, type: 'float', low: spec.min, high: spec.max, log: true };
      case 'qUniform':
        return { ...base, type: 'float', low: spec.min, high: spec.max, step: spec.q };
      default:
        return { ...base, type: 'float', low: spec.min, high: spec.max };
    }
  });
}

/** Sampler values -> config values (indices back to the `values` they stand for). */
export function fromSampler(sweep: SweepConfig, params: Record<string, number>): Record<string, unknown> {
  const round = (x: number) => Number(x.toPrecision(6));
  return Object.fromEntries(
    Object.entries(params).map(([k, v]) => {
      const spec = sweep.parameters[k]!;
      const dist = spec.distribution ?? 'choice';
      return [k, dist === 'choice' ? spec.values![v] : dist === 'int' ? Math.round(v) : round(v)];
    }),
  );
}

/** Config values -> sampler values. */
export function toSampler(sweep: SweepConfig, params: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(params)
      .filter(([k]) => sweep.parameters[k])
      .map(([k, v]) => {
        const spec = sweep.parameters[k]!;
        return [k, (spec.distribution ?? 'choice') === 'choice' ? choiceIndex(spec, v) : Number(v)];
      }),
  );
}

/**
 * Optuna in the project's own Python environment (scripts/optuna: pinned requirements, installed on
 * first use): one long-lived process answering ask requests line by line.
 */
export class OptunaSampler {
  private child?: ChildProcessWithoutNullStreams;
  private answers: ((line: string) => void)[] = [];
  private stderr = '';

  private constructor(
    private readonly python: string,
    private readonly script: string,
  ) {}

  static async open(log: (m: string) => void = () => undefined): Promise<OptunaSampler> {
    const url = pathToFileURL(path.join(PACKAGE_ROOT, 'scripts', 'optuna', 'venv.mjs')).href;
    const { ensureOptuna, SAMPLER_SCRIPT } = (await import(url)) as typeof import('../../scripts/optuna/venv.mjs');
    let python: string;
    try {
      python = await ensureOptuna({ log });
    } catch (e) {
      throw new FitspecError({
        code: 'sweep.optuna',
        message: `method tpe / cmaes draws trials with Optuna, whose Python environment could not be made: ${(e as Error).message}`,
        hint: 'install python3 (>= 3.10) with venv and pip, or set FITSPEC_OPTUNA_VENV to a venv with optuna installed',
      });
    }
    return new OptunaSampler(python, SAMPLER_SCRIPT);
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn(this.python, [this.script], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    createInterface({ input: child.stdout }).on('line', (line) => this.answers.shift()?.(line));
    child.on('exit', () => {
      this.child = undefined;
      for (const a of this.answers.splice(0)) a(JSON.stringify({ error: `the Optuna process exited: ${this.stderr.trim().split('\n').at(-1) ?? ''}` }));
    });
    return child;
  }

  async ask(req: AskRequest): Promise<Record<string, number>> {
    this.child ??= this.start();
    const line = await new Promise<string>((resolve) => {
      this.answers.push(resolve);
      this.child!.stdin.write(JSON.stringify(req) + '\n');
    });
    const out = JSON.parse(line) as { params?: Record<string, number>; error?: string };
    if (!out.params) throw new Error(`Optuna could not draw a trial: ${out.error}`);
    return out.params;
  }

  close(): void {
    this.child?.stdin.end();
    this.child = undefined;
  }
}
