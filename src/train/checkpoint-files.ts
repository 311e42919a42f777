// The checkpoint folders of a run and which copy is complete: no TensorFlow here, so sweeps and the
// notebook command can look for resumable runs without loading it.
import crypto from 'node:crypto';
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
  /** What the numbers also depend on besides the config (see docs/reliability.md): compared on resume. */
  runtime?: Runtime;
}

/** Backend, engine, CPU kernels and thread pools of a session: a change of any changes float rounding. */
export interface Runtime {
  backend: string;
  engine: string;
  kernels?: string;
  tensorflowVersion?: string;
  threads: { intraOp: number; interOp: number };
}

/** How `now` differs from the runtime a checkpoint was written with, one phrase per difference. */
export function runtimeChanges(before: Runtime | undefined, now: Runtime): string[] {
  if (!before) return [];
  const out: string[] = [];
  const t = (r: Runtime) => `${r.threads.intraOp} intra-op / ${r.threads.interOp} inter-op threads`;
  if (before.backend !== now.backend) out.push(`backend ${now.backend} instead of ${before.backend}`);
  if (before.engine !== now.engine) out.push(`the ${now.engine} engine instead of ${before.engine}`);
  if ((before.kernels ?? '') !== (now.kernels ?? '')) out.push(`${now.kernels ?? 'no'} kernels instead of ${before.kernels ?? 'none'}`);
  if ((before.tensorflowVersion ?? '') !== (now.tensorflowVersion ?? '')) out.push(`TensorFlow ${now.tensorflowVersion ?? '-'} instead of ${before.tensorflowVersion ?? '-'}`);
  if (before.threads.intraOp !== now.threads.intraOp || before.threads.interOp !== now.threads.interOp) out.push(`${t(now)} instead of ${t(before)}`);
  return out;
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

/** Size and SHA-256 of every file of a checkpoint copy, recorded in its state.json (written last). */
export type Manifest = Record<string, { size: number; sha256: string }>;

/** Why a copy cannot be used: the file (relative to the run folder) and what is wrong with it. */
export interface Damage {
  copy: string;
  file: string;
  reason: string;
}

type Verdict = { state: CheckpointState } | { damage: Damage; partial: boolean } | undefined;

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Every file under `dir` (relative, `/`-separated) except state.json. */
function filesOf(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesOf(dir, r));
    else if (r !== STATE && !r.endsWith('.part')) out.push(r);
  }
  return out.sort();
}

/** The manifest of a copy as it is on disk now (read back, so what is recorded is what was written). */
export function manifestOf(copyDir: string): Manifest {
  return Object.fromEntries(filesOf(copyDir).map((f) => [f, { size: fs.statSync(path.join(copyDir, f)).size, sha256: sha256(path.join(copyDir, f)) }]));
}

/** Verified copies by state.json's inode and mtime: a resume reads the state more than once, the files are hashed once. */
const verified = new Map<string, { state: CheckpointState & { files?: Manifest }; stamp: string }>();

/** Size and modification time of every file a manifest lists: a rewrite of any changes it. */
function stampOf(dir: string, files: Manifest | undefined): string {
  return Object.keys(files ?? {})
    .map((rel) => {
      try {
        const st = fs.statSync(path.join(dir, rel));
        return `${rel}:${st.size}:${st.mtimeMs}`;
      } catch {
        return `${rel}:missing`;
      }
    })
    .join('|');
}

/** Records a state.json just written from a manifest hashed from disk as verified (keyed by its inode, which a rename keeps). */
export function markVerified(stateFile: string, state: CheckpointState & { files?: Manifest }): void {
  const st = fs.statSync(stateFile);
  verified.set(`${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}`, { state, stamp: stampOf(path.dirname(stateFile), state.files) });
}

/**
 * A copy is complete once its state.json exists and parses: it is written last, through a rename, and
 * lists the size and SHA-256 of every other file, which must all match. A copy without state.json is
 * one a kill interrupted (`partial`); one whose state.json or files do not match is damaged.
 * Checkpoints of earlier versions have no manifest and are taken as they are.
 */
function verify(runDir: string, name: string): Verdict {
  const dir = path.join(runDir, name);
  if (!fs.existsSync(dir)) return undefined;
  const stateFile = path.join(dir, STATE);
  let st: fs.Stats;
  try {
    st = fs.statSync(stateFile);
  } catch {
    return { damage: { copy: name, file: `${name}/${STATE}`, reason: 'is missing' }, partial: true };
  }
  const key = `${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}`;
  const known = verified.get(key);
  if (known && known.stamp === stampOf(dir, known.state.files)) return { state: known.state };
  let state: CheckpointState & { files?: Manifest };
  try {
    state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    if (!state || typeof state !== 'object' || typeof state.epoch !== 'number' || !Array.isArray(state.history)) throw new Error('not a checkpoint state');
  } catch (e) {
    return { damage: { copy: name, file: `${name}/${STATE}`, reason: `is not a checkpoint state (${(e as Error).message})` }, partial: false };
  }
  for (const [rel, want] of Object.entries(state.files ?? {})) {
    const file = path.join(dir, rel);
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return { damage: { copy: name, file: `${name}/${rel}`, reason: 'is missing' }, partial: false };
    }
    if (size !== want.size) return { damage: { copy: name, file: `${name}/${rel}`, reason: `has ${size} bytes, ${want.size} were written` }, partial: false };
    if (sha256(file) !== want.sha256) return { damage: { copy: name, file: `${name}/${rel}`, reason: 'does not match the checksum recorded when it was written' }, partial: false };
  }
  verified.set(key, { state, stamp: stampOf(dir, state.files) });
  return { state };
}

/** What a run folder's checkpoints hold: the newest verified copy and the damaged ones passed over. */
export interface CheckpointStatus {
  usable?: { name: string; state: CheckpointState };
  /** Copies that are damaged (not merely left incomplete by a kill during a save). */
  damaged: Damage[];
}

export function checkpointStatus(runDir: string): CheckpointStatus {
  const damaged: Damage[] = [];
  const usable: { name: string; state: CheckpointState }[] = [];
  for (const name of [NEW, DIR, OLD]) {
    const v = verify(runDir, name);
    if (!v) continue;
    if ('state' in v) usable.push({ name, state: v.state });
    // A copy without state.json is normal for `checkpoint.tmp` and `checkpoint.old` (a kill during a save or a removal), damage for `checkpoint`.
    else if (!v.partial || name === DIR) damaged.push(v.damage);
  }
  return { usable: usable[0], damaged };
}

/** Removing state.json first makes a copy incomplete before any of its files goes, so a kill mid-removal cannot leave a copy that looks whole. */
export function discard(runDir: string, name: string): void {
  const dir = path.join(runDir, name);
  fs.rmSync(path.join(dir, STATE), { force: true });
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Puts the newest verified copy in place as `checkpoint` and the one before it (the previous good
 * checkpoint, kept for when the newest is found damaged) as `checkpoint.old`, and removes the rest.
 * Every step leaves the newest verified copy where `checkpointStatus` finds it first.
 */
export function settle(runDir: string): void {
  const ok = [NEW, DIR, OLD].filter((n) => {
    const v = verify(runDir, n);
    return v !== undefined && 'state' in v;
  });
  const [newest, second] = ok;
  if (!newest) {
    // Nothing usable: a damaged `checkpoint` stays for the error that names it.
    discard(runDir, NEW);
    return;
  }
  if (newest === NEW) {
    if (second === DIR) {
      discard(runDir, OLD);
      fs.renameSync(path.join(runDir, DIR), path.join(runDir, OLD));
    } else {
      discard(runDir, DIR);
      if (second !== OLD) discard(runDir, OLD);
    }
    fs.renameSync(path.join(runDir, NEW), path.join(runDir, DIR));
  } else if (newest === DIR) {
    discard(runDir, NEW);
    if (second !== OLD) discard(runDir, OLD);
  } else {
    discard(runDir, NEW);
    discard(runDir, DIR);
    fs.renameSync(path.join(runDir, OLD), path.join(runDir, DIR));
  }
}

/** The state of the newest verified checkpoint, also when a save was interrupted. */
export function readCheckpointState(runDir: string): CheckpointState | undefined {
  return checkpointStatus(runDir).usable?.state;
}

/** One line for a damaged copy: `RUN/checkpoint/model/weights.bin has 100 bytes, 4000 were written`. */
export function describeDamage(runDir: string, d: Damage): string {
  return `${path.join(runDir, d.file)} ${d.reason}`;
}
