import { listRuns, readMetrics } from '../track/index.js';
import { bestMetric, type TrialJob } from './records.js';

export const STOPPED_BY_TAG = 'fitspec.stopped_by';

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The metric at `epoch` (0-based) of each other trial of the sweep that finished on this machine (its run folder). */
function completedValuesAt(runsDir: string, experimentName: string, job: TrialJob, metric: string, epoch: number): number[] {
  const byTrial = new Map<string, number>();
  for (const r of listRuns(runsDir, experimentName)) {
    const hash = r.record.tags['fitspec.config_hash'];
    if (r.record.tags['fitspec.sweep'] !== job.sweep || hash === job.hash || r.record.status !== 'FINISHED' || !hash) continue;
    const v = readMetrics(r.dir).find((p) => p.key === metric && p.step === epoch)?.value;
    if (v !== undefined && Number.isFinite(v)) byTrial.set(hash, v);
  }
  return [...byTrial.values()];
}

/**
 * The median stopping rule: once `afterEpoch` epochs are done, a trial whose best value so far is
 * worse than the median of the completed trials' values at the same epoch is stopped. `resumedFrom`:
 * the run folder a resumed trial continues, whose earlier epochs count towards its best value.
 */
export function medianStopping(job: TrialJob, runsDir: string, experimentName: string, log: (m: string) => void, resumedFrom?: string) {
  const rule = job.earlyStop!;
  let best = resumedFrom
    ? bestMetric(
        readMetrics(resumedFrom)
          .filter((p) => p.key === rule.metric)
          .map((p) => p.value),
        job.mode,
      )
    : undefined;
  const state = { stoppedAt: undefined as number | undefined };
  const shouldStop = (epoch: number, logs: Record<string, number>): boolean => {
    best = bestMetric([...(best === undefined ? [] : [best]), logs[rule.metric] ?? NaN], job.mode);
    if (epoch + 1 < rule.afterEpoch || best === undefined) return false;
    const others = completedValuesAt(runsDir, experimentName, job, rule.metric, epoch);
    if (others.length < rule.minTrials) return false;
    const m = median(others);
    if (job.mode === 'max' ? best >= m : best <= m) return false;
    log(
      `stopped by medianStopping at epoch ${epoch + 1}: best ${rule.metric} ${best.toPrecision(4)} is worse than the median ${m.toPrecision(4)} of ${others.length} completed trials`,
    );
    state.stoppedAt = epoch + 1;
    return true;
  };
  return { shouldStop, state };
}
