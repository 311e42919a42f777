// The checkpoint folders of a run and which copy is complete: no TensorFlow here, so sweeps and the
// notebook command can look for resumable runs without loading it.
import fs from 'node:fs';
import path from 'node:path';
import type { EpochRow, Session } from './run-folder.js';

/** What `--resume` needs besides the weights. */
export interface CheckpointState {
  /** Last completed global epoch (0-based). */
  epoch: number;
  phase: number;
  learningRate: number;
  history: EpochRow[];
  /** Whether the optimizer's slots (moments, accumulators) were saved too. */
  optimizerSaved: boolean;
  /** Each callback's counters (patience, best value), in the order of the phase's callbacks. */
  callbacks?: unknown[];
  /** Every session of the run up to this checkpoint (summary.json has them only once a session ends). */
  sessions?: Session[];
}

/**
 * What a resumed run takes from its checkpoint for the phase spanning global epochs [start, end):
 * `done` skips a phase the checkpoint completed; `weights` starts a phase that begins right after the
 * checkpoint from its weights with a new optimizer at the phase's learning rate, as an uninterrupted
 * run does at a phase change; `all` continues inside the phase (weights, optimizer state, learning
 * rate, callback counters); `fresh` is no resume.
 */
export function phaseResume(state: Pick<CheckpointState, 'epoch'> | undefined, start: number, end: number): 'done' | 'weights' | 'all' | 'fresh' {
  if (!state || state.epoch < start - 1) return 'fresh';
  if (state.epoch >= end - 1) return 'done';
  return state.epoch < start ? 'weights' : 'all';
}

export const CHECKPOINT_DIR = 'checkpoint';
export const CHECKPOINT_NEW = `${CHECKPOINT_DIR}.tmp`;
export const CHECKPOINT_OLD = `${CHECKPOINT_DIR}.old`;
export const STATE = 'state.json';
const DIR = CHECKPOINT_DIR;
const NEW = CHECKPOINT_NEW;
const OLD = CHECKPOINT_OLD;

/**
 * A copy is complete once its state.json exists and parses: it is written last, through a rename.
 * A kill during a save leaves at most three copies; by the order of the swap in saveCheckpoint a
 * complete `checkpoint.tmp` is always the newest, then `checkpoint`, then `checkpoint.old`.
 */
function complete(runDir: string, name: string): CheckpointState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(runDir, name, STATE), 'utf8')) as CheckpointState;
  } catch {
    return undefined;
  }
}

function newestComplete(runDir: string): { name: string; state: CheckpointState } | undefined {
  for (const name of [NEW, DIR, OLD]) {
    const state = complete(runDir, name);
    if (state) return { name, state };
  }
  return undefined;
}

/** Removing state.json first makes a copy incomplete before any of its files goes, so a kill mid-removal cannot leave a copy that looks whole. */
export function discard(runDir: string, name: string): void {
  const dir = path.join(runDir, name);
  fs.rmSync(path.join(dir, STATE), { force: true });
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Puts the newest complete copy left by an interrupted save in place as `checkpoint` and removes the others. */
export function settle(runDir: string): void {
  const newest = newestComplete(runDir);
  if (newest && newest.name !== DIR) {
    if (fs.existsSync(path.join(runDir, DIR))) discard(runDir, DIR);
    fs.renameSync(path.join(runDir, newest.name), path.join(runDir, DIR));
  }
  for (const name of [NEW, OLD]) discard(runDir, name);
}

/** The state of the newest complete checkpoint, also when a save was interrupted. */
export function readCheckpointState(runDir: string): CheckpointState | undefined {
  return newestComplete(runDir)?.state;
}
