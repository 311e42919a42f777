import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlflowClient } from '../../src/track/index.js';
import { mlflowPython, startMlflowServer, type MlflowServer } from '../setup/mlflow.js';
import { cli, onlyRun, synth, tinyExperiment, tmpDir } from './helpers.js';

const ADMIN = { username: 'admin', password: 'adm1n-Pa55-word' };
/** The password that works, given by --set; the file's own one and a data URL's one are wrong but just as secret. */
const USER = { username: 'trainer', password: 'Set-Secret-7c1e' };
const FILE_SECRET = 'File-Secret-51d0';
const DESC_SECRET = 'Desc-Secret-a4b2';
const SECRETS = [USER.password, FILE_SECRET, DESC_SECRET];

let server: MlflowServer;
let root: string;
let dataDir: string;

beforeAll(async () => {
  root = tmpDir('secrets');
  server = await startMlflowServer({ dir: path.join(root, 'server'), basicAuth: ADMIN, serveArtifacts: true });
  const admin = mlflowClient(server.uri, { MLFLOW_TRACKING_USERNAME: ADMIN.username, MLFLOW_TRACKING_PASSWORD: ADMIN.password });
  await admin.http.request('POST', '/api/2.0/mlflow/users/create', { json: USER });
  dataDir = path.join(root, 'faces');
  synth(dataDir, 8);
});
afterAll(async () => {
  await server?.stop();
});

/** Names of the files under `dir` whose bytes contain `secret`. */
function filesContaining(dir: string, secret: string, except: string[] = []): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!except.includes(e.name) && fs.readFileSync(p).includes(secret)) hits.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return hits;
}

describe('credentials in URLs', () => {
  it('are used to connect, and found nowhere: run folder, output, MLflow params, tags, dataset, artifacts, server storage', async () => {
    const dir = tmpDir('secrets-run');
    const host = server.uri.replace('http://', '');
    const file = tinyExperiment(dir, dataDir, `description: faces from https://reader:${DESC_SECRET}@data.example.com/faces\n`);
    fs.writeFileSync(
      file,
      fs
        .readFileSync(file, 'utf8')
        .replace('split: {train: 8, validation: 4}', 'split: {train: 5, validation: 3}')
        .replace('tracking:\n', `tracking:\n  uri: http://${USER.username}:${FILE_SECRET}@${host}\n`),
    );
    const r = cli(['train', file, '--no-progress', '--set', `tracking.uri=http://${USER.username}:${USER.password}@${host}`], dir, {
      MLFLOW_TRACKING_URI: '',
      // A loaded machine can be slow to answer: this test is about credentials, not waiting.
      FITSPEC_TRACKING_WAIT: '120',
    });
    expect(r.code, r.stderr).toBe(0);
    const run = onlyRun(path.join(dir, 'runs'));
    const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
    // The credentials given did work: the whole run is on the server.
    expect(record.mlflow, `${JSON.stringify(record.mlflow)}\n${r.stdout}`).toMatchObject({ uri: server.uri, synced: true });
    expect(record.params['tracking.uri']).toBe(server.uri);
    expect(fs.readFileSync(path.join(run, 'config.yaml'), 'utf8')).toContain(`uri: ${server.uri}\n`);
    expect(fs.readFileSync(path.join(run, 'resolved.yaml'), 'utf8')).toContain('https://data.example.com/faces');

    const onServer = await mlflowPython<Record<string, unknown>>(
      `
run = client.get_run(${JSON.stringify(record.mlflow.runId)})
files = []
def walk(p):
    for a in client.list_artifacts(run.info.run_id, p):
        if a.is_dir:
            walk(a.path)
        else:
            files.append(a.path)
walk(None)
out({"params": run.data.params, "tags": run.data.tags, "inputs": [d.dataset.source for d in run.inputs.dataset_inputs], "files": files})
`,
      { uri: server.uri, env: { MLFLOW_TRACKING_USERNAME: ADMIN.username, MLFLOW_TRACKING_PASSWORD: ADMIN.password } },
    );
    expect(onServer.files).toEqual(expect.arrayContaining(['config.yaml', 'resolved.yaml', 'model/weights.bin']));
    expect((onServer.params as Record<string, string>)['tracking.uri']).toBe(server.uri);
    expect((onServer.tags as Record<string, string>)['fitspec.overrides']).toContain(`tracking.uri=${server.uri}`);

    for (const secret of SECRETS) {
      expect(r.stdout + r.stderr, secret).not.toContain(secret);
      expect(filesContaining(run, secret), secret).toEqual([]);
      expect(JSON.stringify(onServer), secret).not.toContain(secret);
      // Everything the server stored, the artifacts' bytes included: its database and artifact store (the admin's own config excepted).
      expect(filesContaining(path.join(root, 'server'), secret, ['basic_auth.ini']), secret).toEqual([]);
    }
  }, 600_000);
});
