import path from 'node:path';
import { compareCurvesPng, compareRuns, type CompareRow, type RunData } from '../report/compare.js';
import { loadLocalRun } from '../report/local-run.js';
import { mlflowRunData } from '../report/mlflow-run.js';
import { mlflowClient, trackingUri } from '../track/connect.js';
import { mlflowRunUrl } from '../track/mlflow-tracker.js';
import { listRuns } from '../track/runs.js';
import type { Affected, Unit } from './affected.js';

/** A finished run of a config hash, in a run folder or on the tracking server. */
export interface FoundRun {
  source: 'local' | 'mlflow';
  /** fitspec run id (or the MLflow run id of a run not trained by fitspec). */
  id: string;
  startTime: number;
  dir?: string;
  url?: string;
  data: RunData;
  row: CompareRow;
}

/** What one side of an affected experiment has: per unit, its newest finished run. */
export interface SideResults {
  /** Units (the experiment, or a sweep's trials) with a finished run, and without. */
  found: { unit: Unit; run: FoundRun }[];
  missing: Unit[];
  /** The run shown: the experiment's, or a sweep's best trial by the sweep metric. */
  shown?: { unit: Unit; run: FoundRun };
}

export interface AffectedResults {
  base: SideResults;
  head: SideResults;
  /** The head trains a config that has no finished run. */
  stale: boolean;
  /** Base and head validation curves overlaid, when both sides have a run. */
  curves?: string;
}

export interface Results {
  byAffected: Map<Affected, AffectedResults>;
  notes: string[];
}

export interface ResultOptions {
  /** Look runs up on the tracking server (MLFLOW_TRACKING_URI, else the experiments' tracking.uri). */
  mlflow: boolean;
  /** Folder for the overlay PNGs; none drawn without it. */
  curvesDir?: string;
  env?: NodeJS.ProcessEnv;
}

const row = (data: RunData) => compareRuns([data]).rows[0]!;

async function localRuns(hashes: Set<string>, runsDirs: string[]): Promise<FoundRun[]> {
  const out: FoundRun[] = [];
  for (const dir of runsDirs) {
    for (const r of listRuns(dir)) {
      const hash = r.record.tags['fitspec.config_hash'];
      if (r.record.status !== 'FINISHED' || !hash || !hashes.has(hash)) continue;
      const data = await loadLocalRun(r.dir);
      out.push({
        source: 'local',
        id: r.record.runId,
        startTime: r.record.startTime,
        dir: r.dir,
        url: mlflowRunUrl(r.record.mlflow),
        data: { ...data, configHash: hash },
        row: row(data),
      });
    }
  }
  return out;
}

/** Finished MLflow runs tagged with the hashes, in the MLflow experiment each unit logs to. */
async function mlflowRuns(affected: Affected[], env: NodeJS.ProcessEnv, notes: string[]): Promise<FoundRun[]> {
  const all = affected.flatMap((a) => [...a.base, ...a.head]);
  const uri = all.map((u) => trackingUri(u.loaded.experiment.tracking, env)).find(Boolean);
  if (!uri) return [];
  // A review should not wait through a training run's retries for a server that is down.
  const client = mlflowClient(uri, { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0', MLFLOW_HTTP_REQUEST_TIMEOUT: '20', ...env });
  const byExperiment = new Map<string, Set<string>>();
  for (const u of all) {
    const name = u.loaded.experiment.tracking.experiment ?? u.loaded.experiment.name;
    byExperiment.set(name, (byExperiment.get(name) ?? new Set()).add(u.hash));
  }
  const out: FoundRun[] = [];
  try {
    for (const [name, hashes] of byExperiment) {
      const exp = await client.getExperimentByName(name);
      if (!exp) continue;
      for (const hash of hashes) {
        const { runs } = await client.searchRuns({
          experimentIds: [exp.experimentId],
          filter: `tags.\`fitspec.config_hash\` = '${hash}' and attributes.status = 'FINISHED'`,
          orderBy: ['attributes.start_time DESC'],
          maxResults: 5,
        });
        for (const r of runs) {
          const data = await mlflowRunData(client, r);
          out.push({
            source: 'mlflow',
            id: data.id,
            startTime: r.info.startTime ?? 0,
            url: `${client.uri}/#/experiments/${exp.experimentId}/runs/${r.info.runId}`,
            data: { ...data, configHash: hash },
            row: row(data),
          });
        }
      }
    }
  } catch (e) {
    notes.push(`MLflow runs not listed: the tracking server ${client.uri} could not be reached (${(e as Error).message.split('\n')[0]}).`);
  }
  return out;
}

function side(units: Unit[], byHash: Map<string, FoundRun[]>, metric: string | undefined, mode: 'max' | 'min'): SideResults {
  const found: SideResults['found'] = [];
  const missing: Unit[] = [];
  for (const unit of units) {
    const run = byHash.get(unit.hash)?.[0];
    if (run) found.push({ unit, run });
    else missing.push(unit);
  }
  let shown = found[0];
  if (metric && found.length > 1) {
    const best = (f: (typeof found)[number]) => {
      const v = f.run.data.history.map((h) => h[metric]).filter((x): x is number => x !== undefined && Number.isFinite(x));
      return v.length ? (mode === 'max' ? Math.max(...v) : -Math.min(...v)) : -Infinity;
    };
    shown = found.reduce((a, b) => (best(b) > best(a) ? b : a));
  }
  return { found, missing, shown };
}

const safe = (s: string) => s.replace(/[^\w.-]+/g, '_');

/**
 * The finished runs of every config the review's experiments train on each side, from run folders
 * (the runsDir of each experiment) and the tracking server; an experiment whose head trains a config
 * without a finished run is stale.
 */
export async function findResults(affected: Affected[], opts: ResultOptions): Promise<Results> {
  const env = opts.env ?? process.env;
  const notes: string[] = [];
  const hashes = new Set(affected.flatMap((a) => [...a.base, ...a.head].map((u) => u.hash)));
  const runsDirs = [...new Set(affected.flatMap((a) => [...a.base, ...a.head].map((u) => path.resolve(u.loaded.experiment.tracking.runsDir))))];
  const local = await localRuns(hashes, runsDirs);
  const remote = opts.mlflow ? await mlflowRuns(affected, env, notes) : [];
  // A run trained here and synced to MLflow is one run: its folder is the better source.
  const localIds = new Set(local.map((r) => r.id));
  const byHash = new Map<string, FoundRun[]>();
  for (const r of [...local, ...remote.filter((r) => !localIds.has(r.id))]) {
    const list = byHash.get(r.data.configHash!) ?? [];
    list.push(r);
    byHash.set(r.data.configHash!, list);
  }
  for (const list of byHash.values()) list.sort((a, b) => b.startTime - a.startTime);

  const byAffected = new Map<Affected, AffectedResults>();
  for (const a of affected) {
    const s = a.sweep?.head?.sweep ?? a.sweep?.base?.sweep;
    const base = side(a.base, byHash, s?.metric, s?.mode ?? 'max');
    const head = side(a.head, byHash, s?.metric, s?.mode ?? 'max');
    const result: AffectedResults = { base, head, stale: a.trains && head.missing.length > 0 };
    if (opts.curvesDir && base.shown && head.shown && base.shown.run !== head.shown.run) {
      const out = path.join(opts.curvesDir, `${safe(a.name)}-${base.shown.unit.hash.slice(0, 8)}-${head.shown.unit.hash.slice(0, 8)}.png`);
      const label = (w: string, f: { unit: Unit; run: FoundRun }) => `${w} ${f.unit.hash.slice(0, 8)}${a.sweep ? ` ${f.unit.id}` : ''} (run ${f.run.id})`;
      await compareCurvesPng(
        [
          { label: label('base', base.shown), history: base.shown.run.data.history },
          { label: label('head', head.shown), history: head.shown.run.data.history },
        ],
        out,
        undefined,
        { title: `${a.name}: base and head` },
      );
      result.curves = out;
    }
    byAffected.set(a, result);
  }
  return { byAffected, notes };
}
