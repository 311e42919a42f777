import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadExperiment, type LoadedExperiment } from '../config/index.js';
import { synthesize } from '../data/index.js';
import { fail } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import { compareCurvesPng, compareRuns, formatDuration, loadLocalRun, type CompareRow, type ReferenceLine } from '../report/index.js';
import { listRuns } from '../track/runs.js';
import { readCheckpointState } from '../train/checkpoint-files.js';
import { DATASETS, datasetDir, STEPS, type DatasetKey, type NotebookStep, type Scale } from './plan.js';

export interface NotebookOptions {
  scale: Scale;
  /** Step ids to train (all when empty); the report covers every step that has a finished run. */
  only?: string[];
  /** Write the report from finished runs without training anything. */
  reportOnly?: boolean;
  /** Where the report goes; default runs/notebook/<scale>. */
  out?: string;
  /** Run store (`tracking.runsDir`) when not the files' own. */
  runsDir?: string;
  log?: (m: string) => void;
  tty?: boolean;
}

export interface NotebookStepResult {
  step: NotebookStep;
  file: string;
  runDir?: string;
  /** `reused`: a finished run with the same config hash was found; `trained` / `resumed`: by this call. */
  how?: 'reused' | 'trained' | 'resumed';
  row?: CompareRow;
}

export interface NotebookResult {
  steps: NotebookStepResult[];
  table: string;
  markdownFile: string;
  pngFile?: string;
  /** False when training was interrupted (Ctrl-C): running the command again continues. */
  complete: boolean;
}

/** Written next to exported weights: which run they came from, so dependent runs older than them are retrained. */
interface WeightsSource {
  runDir: string;
  configHash: string;
  exportedAt: number;
}

const EXPERIMENTS = path.join(PACKAGE_ROOT, 'experiments');

/** `--set` overrides that shrink a quick variant to a few seconds of training, on the tiny data. */
function tinyOverrides(loaded: LoadedExperiment, data: DatasetKey): string[] {
  const exp = loaded.experiment;
  const src = exp.data.source;
  const from = DATASETS[data].dir;
  const to = datasetDir(data, 'tiny');
  const move = (p: string | undefined) => (p?.startsWith(from) ? to + p.slice(from.length) : p);
  const set = [`data.split.train=${DATASETS[data].tinySplit.train}`, `data.split.validation=${DATASETS[data].tinySplit.validation}`];
  if (src.type === 'csv') set.push(`data.source.images=${move(src.images)}`, `data.source.labels=${move(src.labels)}`);
  else set.push(`data.source.path=${move(src.path)}`);
  if (exp.train.phases?.length) exp.train.phases.forEach((_, i) => set.push(`train.phases.${i}.epochs=1`));
  else set.push('train.epochs=1');
  const weights = exp.model.base?.weights;
  if (weights) set.push(`model.base.weights=${path.join(path.dirname(weights), `tiny-${path.basename(weights)}`)}`);
  return set;
}

function loadStep(step: NotebookStep, opts: NotebookOptions): LoadedExperiment {
  const file = path.join(EXPERIMENTS, opts.scale === 'full' ? step.files.full : step.files.quick);
  const common = opts.runsDir ? [`tracking.runsDir=${opts.runsDir}`] : [];
  let loaded = loadExperiment(file, { set: common });
  if (opts.scale === 'tiny') loaded = loadExperiment(file, { set: [...common, ...tinyOverrides(loaded, step.data)] });
  return loaded;
}

/** The newest run of this config: finished (to reuse) or with a checkpoint (to resume). */
function findRun(loaded: LoadedExperiment, notBefore: number): { dir: string; finished: boolean } | undefined {
  const exp = loaded.experiment;
  const runs = listRuns(exp.tracking.runsDir, exp.name)
    .filter((r) => r.record.tags['fitspec.config_hash'] === loaded.hash && r.record.startTime >= notBefore)
    .reverse();
  const finished = runs.find((r) => r.record.status === 'FINISHED' && fs.existsSync(path.join(r.dir, 'model', 'model.json')));
  if (finished) return { dir: finished.dir, finished: true };
  const resumable = runs.find((r) => r.record.status !== 'FINISHED' && readCheckpointState(r.dir) !== undefined);
  return resumable ? { dir: resumable.dir, finished: false } : undefined;
}

function readWeightsSource(dir: string): WeightsSource | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'source.json'), 'utf8')) as WeightsSource;
  } catch {
    return undefined;
  }
}

/** Copies the pretraining run's model to where the dependent experiment loads its base from, unless it is there already. */
function exportWeights(runDir: string, configHash: string, target: string, log: (m: string) => void): WeightsSource {
  const current = readWeightsSource(target);
  if (current && current.configHash === configHash && path.resolve(current.runDir) === path.resolve(runDir)) return current;
  fs.rmSync(target, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.cpSync(path.join(runDir, 'model'), target, { recursive: true });
  const source: WeightsSource = { runDir: path.resolve(runDir), configHash, exportedAt: Date.now() };
  fs.writeFileSync(path.join(target, 'source.json'), JSON.stringify(source, null, 2) + '\n');
  log(`exported the pretrained model of ${runDir} to ${target}`);
  return source;
}

async function ensureData(key: DatasetKey, scale: Scale, log: (m: string) => void): Promise<void> {
  const d = DATASETS[key];
  const dir = datasetDir(key, scale);
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) return;
  const command = `fitspec data synth --out ${dir} --per-class ${d.perClass[scale]} --layout ${d.layout} --seed ${d.seed}${d.profile === 'default' ? '' : ` --profile ${d.profile}`}`;
  log(`generating the stand-in data: ${command}`);
  const r = await synthesize({ out: dir, perClass: d.perClass[scale], layout: d.layout, seed: d.seed, profile: d.profile });
  log(`wrote ${r.count} images in ${r.seconds.toFixed(1)}s`);
}

/**
 * Trains every step that has no finished run of the same config (resuming interrupted ones), then
 * writes the table and the validation curves of all steps next to the notebook's figures.
 */
export async function runNotebook(opts: NotebookOptions): Promise<NotebookResult> {
  const log = opts.log ?? ((m: string) => process.stdout.write(m + '\n'));
  const known = new Set(STEPS.map((s) => s.id));
  for (const id of opts.only ?? []) if (!known.has(id)) fail('notebook.unknown-step', `Unknown step \`${id}\`.`, { expected: [...known].join(', '), received: id });
  const wanted = (s: NotebookStep) => !opts.only?.length || opts.only.includes(s.id);
  const started = Date.now();
  const load0 = os.loadavg();
  const results: NotebookStepResult[] = [];
  const exported = new Map<string, WeightsSource>();
  let complete = true;

  for (const step of STEPS) {
    const loaded = loadStep(step, opts);
    const result: NotebookStepResult = { step, file: path.relative(PACKAGE_ROOT, loaded.file) };
    results.push(result);
    const weights = loaded.experiment.model.base?.weights;
    let notBefore = 0;
    if (step.weightsFrom && weights) {
      const source = exported.get(step.weightsFrom) ?? readWeightsSource(weights);
      // Runs that loaded older weights than the ones exported now are not reused.
      notBefore = source?.exportedAt ?? Number.POSITIVE_INFINITY;
    }
    let found = findRun(loaded, notBefore);
    if (!opts.reportOnly && complete && wanted(step) && !found?.finished) {
      if (step.weightsFrom && weights && !exported.has(step.weightsFrom)) {
        fail('notebook.no-weights', `Step ${step.id} loads its base from ${weights}, which step \`${step.weightsFrom}\` exports, but that step has no finished run.`, {
          hint: `Run it first: fitspec notebook --scale ${opts.scale} --only ${step.weightsFrom},${step.id}`,
        });
      }
      await ensureData(step.data, opts.scale, log);
      const { train } = await import('../train/index.js');
      log(`\n== step ${step.id}: ${step.title} (${result.file}, config ${loaded.hash.slice(0, 8)})${found ? `, resuming ${found.dir}` : ''}`);
      const r = found ? await train(loadExperiment(path.join(found.dir, 'resolved.yaml')), { resume: found.dir, log, tty: opts.tty }) : await train(loaded, { log, tty: opts.tty });
      result.how = found ? 'resumed' : 'trained';
      if (r.status !== 'FINISHED') {
        complete = false;
        log(`step ${step.id} stopped (${r.status}); run the same command again to continue it`);
        found = undefined;
      } else {
        found = { dir: r.runDir, finished: true };
      }
    } else if (found?.finished) {
      result.how = 'reused';
      log(`step ${step.id}: reusing ${found.dir} (config ${loaded.hash.slice(0, 8)})`);
    }
    if (!found?.finished) continue;
    result.runDir = found.dir;
    if (step.pretrain) {
      for (const dep of STEPS.filter((s) => s.weightsFrom === step.id)) {
        const target = loadStep(dep, opts).experiment.model.base?.weights;
        if (target) exported.set(step.id, exportWeights(found.dir, loaded.hash, target, log));
      }
    }
  }

  const finished = results.filter((r) => r.runDir);
  const data = await Promise.all(finished.map((r) => loadLocalRun(r.runDir!)));
  const rows = compareRuns(data).rows;
  finished.forEach((r, i) => (r.row = rows[i]));

  const out = opts.out ?? path.join(opts.runsDir ?? 'runs', 'notebook', opts.scale);
  fs.mkdirSync(out, { recursive: true });
  const table = formatNotebookTable(results, {
    scale: opts.scale,
    wallS: (Date.now() - started) / 1000,
    load: [load0, os.loadavg()],
  });
  const markdownFile = path.join(out, 'notebook.md');
  fs.writeFileSync(markdownFile, table);
  let pngFile: string | undefined;
  const curves = results.filter((r) => r.row && !r.step.pretrain);
  if (curves.length) {
    pngFile = path.join(out, 'validation_curves.png');
    await compareCurvesPng(
      curves.map((r) => ({ label: `${r.step.id} ${r.step.title}`, history: data[finished.indexOf(r)]!.history })),
      pngFile,
      undefined,
      {
        title: `The notebook's steps on the stand-in data (${opts.scale} scale); dashed: the notebook's figures`,
        references: notebookReferences(),
      },
    );
  }
  fs.writeFileSync(
    path.join(out, 'notebook.json'),
    JSON.stringify(
      results.map((r) => ({ step: r.step.id, title: r.step.title, file: r.file, run: r.runDir, how: r.how, notebook: r.step.notebook?.text, ...r.row })),
      null,
      2,
    ) + '\n',
  );
  log(`\n${table}\ntable: ${markdownFile}${pngFile ? `\ncurves: ${pngFile}` : ''}`);
  return { steps: results, table, markdownFile, pngFile, complete };
}

/** The notebook's validation accuracies as dashed lines; figures closer than 3.5 points share one label so the labels stay readable. */
function notebookReferences(): ReferenceLine[] {
  const figures = STEPS.filter((s) => s.notebook?.valAccuracy !== undefined)
    .map((s) => ({ metric: 'val_accuracy', value: s.notebook!.valAccuracy!, label: `${s.id}: ${Math.round(s.notebook!.valAccuracy! * 100)}%` }))
    .sort((a, b) => b.value - a.value);
  let lead: ReferenceLine | undefined;
  for (const f of figures) {
    if (lead && lead.value - f.value < 0.035) {
      lead.label += `, ${f.label}`;
      f.label = '';
    } else lead = f;
  }
  for (const f of figures) if (f.label) f.label = `notebook ${f.label}`;
  return figures;
}

const pct = (v: number | undefined) => (v === undefined ? '-' : `${(v * 100).toFixed(1)}%`);

/** The notebook's table: one row per step, with the notebook's own figure beside fitspec's. */
export function formatNotebookTable(results: NotebookStepResult[], info: { scale: Scale; wallS: number; load: [number[], number[]] }): string {
  const cpus = os.cpus();
  const head = [
    `Scale: ${info.scale}. Machine: ${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${os.platform()} ${os.release()}. Load average (1 min) ${info.load[0][0]!.toFixed(1)} at start, ${info.load[1][0]!.toFixed(1)} at the end. This call took ${formatDuration(info.wallS)}.`,
    '',
    '| step | experiment | best val_accuracy (epoch) | epoch of min val_loss | final train / val accuracy | train-val gap | epochs | wall time | notebook |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  const lines = results
    .filter((r) => !r.step.pretrain)
    .map((r) => {
      const w = r.row;
      const nb = r.step.notebook?.text ?? '-';
      if (!w) return `| ${r.step.id} ${r.step.title} | \`${r.file}\` | not run yet | | | | | | ${nb} |`;
      const gap = w.finalGap === undefined ? '-' : `${w.finalGap >= 0 ? '+' : ''}${(w.finalGap * 100).toFixed(1)} pt`;
      return `| ${r.step.id} ${r.step.title} | \`${r.file}\` | ${pct(w.bestValAccuracy)} (${w.bestValAccuracyEpoch ?? '-'}) | ${w.minValLossEpoch ?? '-'} | ${pct(w.finalAccuracy)} / ${pct(w.finalValAccuracy)} | ${gap} | ${w.epochs} | ${formatDuration(w.wallTimeS)} | ${nb} |`;
    });
  const pre = results.filter((r) => r.step.pretrain);
  const notes = pre.map((r) =>
    r.row
      ? `Pretraining (\`${r.file}\`, another task: ${r.step.title}): best val_accuracy ${pct(r.row.bestValAccuracy)} at epoch ${r.row.bestValAccuracyEpoch}, ${formatDuration(r.row.wallTimeS)}.`
      : `Pretraining (\`${r.file}\`): not run yet.`,
  );
  return [...head, ...lines, '', ...notes, ''].join('\n');
}
