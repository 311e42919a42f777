import type * as tf from '@tensorflow/tfjs';
import type { Experiment, OptimizerConfig } from '../config/schema/experiment.js';
import { applyTrainable, formatSummary, summarize, type BuiltModel } from '../model/index.js';
import type { RunStatus } from '../track/index.js';
import { createCallbacks } from './callbacks/index.js';
import { CallbackList } from './callbacks/list.js';
import { phaseResume, restoreCheckpoint, saveCheckpoint } from './checkpoint.js';
import { classWeights } from './class-weights.js';
import type { Engine } from './engine/index.js';
import { fitPhase, type FitOutcome } from './fit.js';
import { makeHandle } from './handle.js';
import { formatLogs } from './progress.js';
import { artifact, evalBatches, sessionsSoFar, trainBatches, type TrainRun } from './run-context.js';
import { writeMetricsCsv, writeText, type EpochRow } from './run-folder.js';

export interface Phase {
  name: string;
  epochs: number;
  optimizer: OptimizerConfig;
  freeze?: 'none' | 'base';
  unfreezeFrom?: string;
  callbacks: Experiment['train']['callbacks'];
}

/** `train.phases` if given, else one phase from `train.epochs`, `train.optimizer`, `train.callbacks`. */
export function resolvePhases(exp: Experiment): Phase[] {
  const t = exp.train;
  if (!t.phases?.length) return [{ name: 'train', epochs: t.epochs, optimizer: t.optimizer, callbacks: t.callbacks }];
  return t.phases.map((p, i) => ({
    name: p.name ?? `phase${i + 1}`,
    epochs: p.epochs,
    optimizer: p.optimizer ?? t.optimizer,
    freeze: p.freeze,
    unfreezeFrom: p.unfreezeFrom,
    callbacks: p.callbacks ?? t.callbacks,
  }));
}

/** What every phase of a session shares. */
interface PhasePlan {
  phases: Phase[];
  classWeights: ReturnType<typeof classWeights>;
  totalEpochs: number;
  steps: number;
}

/** One phase as this session trains it: global epochs [from, to), `start` being where the phase itself starts. */
interface PhaseSpan {
  index: number;
  phase: Phase;
  start: number;
  from: number;
  to: number;
}

/** Every phase's epochs; FINISHED, or KILLED when a signal stopped training. */
export async function fitPhases(run: TrainRun, built: BuiltModel, engine: Engine): Promise<RunStatus> {
  const { exp } = run;
  const phases = resolvePhases(exp);
  const plan: PhasePlan = {
    phases,
    classWeights: classWeights(exp.train.classWeight, run.data.classes, run.data.parts.train.labels),
    totalEpochs: phases.reduce((n, p) => n + p.epochs, 0),
    steps: exp.train.stepsPerEpoch ?? Math.ceil(run.data.parts.train.ids.length / exp.train.batchSize),
  };
  let epoch = 0;
  let first = true;
  for (let pi = 0; pi < phases.length; pi++) {
    if (run.interrupts.signal) return 'KILLED';
    const phase = phases[pi]!;
    const phaseStart = epoch;
    epoch += phase.epochs;
    const resume = phaseResume(run.resumeState, phaseStart, epoch);
    if (resume === 'done') continue;
    await beginPhase(run, built, engine, plan, pi, first);
    first = false;
    const from = await resumePhase(run, built.model, engine, resume, phaseStart);
    const outcome = await trainPhase(run, built.model, engine, plan, { index: pi, phase, start: phaseStart, from, to: epoch });
    if (outcome === 'interrupted') return 'KILLED';
    if (pausesHere(run, outcome)) {
      run.log(`paused after epoch ${run.history.length} (continue with \`fitspec train --resume ${run.runDir}\`)`);
      return 'SCHEDULED';
    }
    if (outcome === 'stopped') run.log(`stopped early at epoch ${run.history.at(-1)!.epoch + 1}`);
    if (outcome === 'stoppedOutside') break;
  }
  if (first && run.resumeState) await restoreEnded(run, built, engine, plan);
  return run.interrupts.signal ? 'KILLED' : 'FINISHED';
}

/**
 * A run whose checkpoint already holds its last epoch (the process died after saving it, before the run
 * ended): no phase trains, but the final model, its reports and the test metrics need the trained
 * weights and a prepared engine.
 */
async function restoreEnded(run: TrainRun, built: BuiltModel, engine: Engine, plan: PhasePlan): Promise<void> {
  await beginPhase(run, built, engine, plan, plan.phases.length - 1, true);
  await restoreCheckpoint(run.runDir, built.model, engine, { optimizer: false });
  run.log(`every epoch was trained before (checkpoint at epoch ${run.resumeState!.epoch + 1}): finishing the run`);
}

/** The phase's trainable layers and optimizer; the first phase this session trains writes the model summary. */
async function beginPhase(run: TrainRun, built: BuiltModel, engine: Engine, plan: PhasePlan, pi: number, first: boolean): Promise<void> {
  const { exp } = run;
  const phase = plan.phases[pi]!;
  applyTrainable(built, phase.freeze, phase.unfreezeFrom);
  await engine.beginPhase({ optimizer: phase.optimizer, loss: exp.train.loss, metrics: [...exp.train.metrics], classWeights: plan.classWeights });
  const s = summarize(built);
  run.trainableLog.push({ phase: phase.name, trainable: s.trainable, total: s.total });
  if (first) artifact(run, writeText(run.runDir, 'model_summary.txt', formatSummary(s, exp.name) + '\n'));
  if (plan.phases.length > 1)
    run.log(
      `phase ${pi + 1}/${plan.phases.length} \`${phase.name}\`: ${phase.epochs} epochs, ${phase.optimizer.name} lr ${phase.optimizer.learningRate}, ${s.trainable.toLocaleString('en-US')} trainable params`,
    );
}

/** The epoch this session starts the phase at: its first, or after the checkpoint's when the run resumes inside it. */
async function resumePhase(run: TrainRun, model: tf.LayersModel, engine: Engine, resume: ReturnType<typeof phaseResume>, phaseStart: number): Promise<number> {
  const { resumeState } = run;
  if (!resumeState || resume === 'fresh') return phaseStart;
  const restored = await restoreCheckpoint(run.runDir, model, engine, { optimizer: resume === 'all' });
  if (resume === 'all') engine.setLearningRate(resumeState.learningRate);
  const startEpoch = resumeState.epoch + 1;
  run.log(`resuming at epoch ${startEpoch + 1}${restored || resume === 'weights' ? '' : ' (optimizer state was not saved for this optimizer and restarts from zero)'}`);
  return startEpoch;
}

/** The phase's epochs through the fit loop, with its callbacks (their state restored when the run resumes inside the phase). */
async function trainPhase(run: TrainRun, model: tf.LayersModel, engine: Engine, plan: PhasePlan, span: PhaseSpan): Promise<FitOutcome> {
  const { opts, history } = run;
  const { phase } = span;
  const callbacks = new CallbackList(
    createCallbacks(phase.callbacks as never, { totalEpochs: phase.epochs, initialLearningRate: phase.optimizer.learningRate, firstEpoch: span.start }),
    makeHandle(model, engine, run.runDir, run.log),
  );
  if (run.resumeState?.phase === span.index && run.resumeState.callbacks) callbacks.setState(run.resumeState.callbacks);
  return fitPhase({
    engine,
    callbacks,
    from: span.from,
    to: span.to,
    totalEpochs: plan.totalEpochs,
    steps: plan.steps,
    trainBatches: (e) => trainBatches(run, e, plan.steps),
    validationBatches: run.data.parts.validation?.ids.length ? () => evalBatches(run, 'validation') : undefined,
    interrupted: () => Boolean(run.interrupts.signal),
    shouldStop: opts.shouldStop,
    mayStart: () => (opts.maxEpochs === undefined || history.length < opts.maxEpochs) && (opts.pauseAfter === undefined || history.length < opts.pauseAfter),
    onEpochLogs: (row) => {
      history.push(row);
      run.log(`epoch ${row.epoch + 1}/${plan.totalEpochs}${plan.phases.length > 1 ? ` (${phase.name})` : ''}: ${formatLogs(row)}`);
    },
    onEpochCommitted: (row) => commitEpoch(run, model, engine, callbacks, span.index, row),
    timing: run.timing,
    tty: opts.tty,
  });
}

/** An epoch made durable: checkpoint, metrics.csv, then the tracker. */
async function commitEpoch(run: TrainRun, model: tf.LayersModel, engine: Engine, callbacks: CallbackList, pi: number, row: EpochRow): Promise<void> {
  // Checkpoint before logging so a crash never logs an epoch the checkpoint does not have.
  await saveCheckpoint(run.runDir, model, engine, {
    epoch: row.epoch,
    phase: pi,
    learningRate: engine.getLearningRate(),
    history: run.history,
    callbacks: callbacks.getState(),
    sessions: sessionsSoFar(run),
    runtime: run.runtime,
  });
  writeMetricsCsv(run.runDir, run.history);
  const { epoch: e, ...metricValues } = row;
  run.tracker.logMetrics(e, metricValues, Date.now());
}

/** An epoch limit that is the scheduler's pause (`pauseAfter`), not the caller's end (`maxEpochs`). */
function pausesHere(run: TrainRun, outcome: FitOutcome): boolean {
  const { pauseAfter, maxEpochs } = run.opts;
  return outcome === 'limit' && pauseAfter !== undefined && run.history.length >= pauseAfter && (maxEpochs === undefined || pauseAfter < maxEpochs);
}
