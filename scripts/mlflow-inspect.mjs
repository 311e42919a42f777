// Prints what MLflow's own Python client sees for a run: params, metric keys with their step counts,
// tags, dataset inputs and artifacts. A check that needs no browser.
//   node scripts/mlflow-inspect.mjs                 the newest run in runs/ that reached MLflow
//   node scripts/mlflow-inspect.mjs runs/exp/<id>   that run folder
//   node scripts/mlflow-inspect.mjs --run-id <mlflow run id>
// The server is MLFLOW_TRACKING_URI, else the one recorded in the run folder.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureMlflow } from './mlflow/venv.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'run-id': { type: 'string' }, 'runs-dir': { type: 'string', default: 'runs' }, uri: { type: 'string' } },
});

function runFolders(runsDir) {
  if (!existsSync(runsDir)) return [];
  const out = [];
  for (const e of readdirSync(runsDir)) {
    const ed = join(runsDir, e);
    if (!statSync(ed).isDirectory()) continue;
    for (const r of readdirSync(ed)) {
      const f = join(ed, r, 'run.json');
      if (existsSync(f)) {
        try {
          out.push({ dir: join(ed, r), record: JSON.parse(readFileSync(f, 'utf8')) });
        } catch {
          /* not a run */
        }
      }
    }
  }
  return out;
}

let runId = values['run-id'];
let uri = values.uri ?? process.env.MLFLOW_TRACKING_URI;
if (!runId) {
  let run;
  if (positionals[0]) run = { dir: positionals[0], record: JSON.parse(readFileSync(join(positionals[0], 'run.json'), 'utf8')) };
  else
    run = runFolders(values['runs-dir'])
      .filter((r) => r.record.mlflow?.runId)
      .sort((a, b) => a.record.startTime - b.record.startTime)
      .at(-1);
  if (!run?.record.mlflow?.runId) {
    process.stderr.write(`no run ${positionals[0] ? `in ${positionals[0]} ` : `in ${values['runs-dir']} `}has reached MLflow yet (upload it with \`fitspec sync\`)\n`);
    process.exit(2);
  }
  runId = run.record.mlflow.runId;
  uri ??= run.record.mlflow.uri;
  process.stdout.write(`local run ${run.dir}\n`);
}
if (!uri) {
  process.stderr.write('set MLFLOW_TRACKING_URI or --uri\n');
  process.exit(2);
}

const code = `
import sys
from mlflow import MlflowClient
c = MlflowClient()
rid = sys.argv[1]
run = c.get_run(rid)
i = run.info
print(f"mlflow run {rid}  name {i.run_name}  status {i.status}  experiment {i.experiment_id}")
print(f"params: {len(run.data.params)}")
print(f"tags: {len([k for k in run.data.tags if not k.startswith('mlflow.log-model')])}")
print(f"metrics: {len(run.data.metrics)} keys")
for k in sorted(run.data.metrics):
    h = c.get_metric_history(rid, k)
    steps = sorted(m.step for m in h)
    print(f"  {k}: {len(h)} steps" + (f" ({steps[0]}..{steps[-1]})" if steps else ""))
for d in run.inputs.dataset_inputs:
    ctx = ",".join(t.value for t in d.tags if t.key == "mlflow.data.context")
    print(f"dataset: {d.dataset.name}  digest {d.dataset.digest}  source {d.dataset.source_type}  context {ctx}")
files = []
def walk(path):
    for f in c.list_artifacts(rid, path):
        if f.is_dir:
            walk(f.path)
        else:
            files.append((f.path, f.file_size))
walk(None)
print(f"artifacts: {len(files)} files")
for p, s in files:
    print(f"  {p}  {s} B")
`;
const python = await ensureMlflow();
try {
  const out = execFileSync(python, ['-c', code, runId], { env: { ...process.env, MLFLOW_TRACKING_URI: uri }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  process.stdout.write(out);
} catch (e) {
  process.stderr.write(`${e.stderr?.toString().trim().split('\n').at(-1) ?? e.message}\n`);
  process.exit(1);
}
