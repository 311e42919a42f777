import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { mlflowPython, mlflowServer } from '../setup/mlflow.js';

const dir = mkdtempSync(join(tmpdir(), 'fitspec-compare-mlflow-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let uri = '';
let runIds: string[] = [];
const experiment = `compare-keras-${process.pid}`;

beforeAll(async () => {
  uri = await mlflowServer();
  // Runs logged the way a Keras user's script logs them: params, then per-epoch metrics with step = epoch.
  runIds = await mlflowPython<string[]>(`
mlflow.set_experiment(${JSON.stringify(experiment)})
ids = []
for i, (lr, peak) in enumerate([(0.001, 0.62), (0.0001, 0.71)]):
    with mlflow.start_run(run_name=f"keras-{i}") as r:
        mlflow.log_params({"learning_rate": lr, "batch_size": 32})
        for e in range(5):
            mlflow.log_metrics({"loss": 1.0 / (e + 1), "accuracy": 0.5 + 0.1 * e, "val_loss": 0.9 + 0.02 * (e - 2) ** 2, "val_accuracy": peak if e == 3 else peak - 0.1}, step=e)
        ids.append(r.info.run_id)
out(ids)
`);
}, 300_000);

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    return { code: await main(args), out, err };
  } finally {
    vi.restoreAllMocks();
  }
}

describe('fitspec compare --mlflow (real MLflow server)', () => {
  it('compares every run of an MLflow experiment: differing params, best val_accuracy, curves', async () => {
    const png = join(dir, 'mlflow.png');
    const r = await cli(['compare', '--mlflow', '--uri', uri, '--experiment', experiment, '--out', png]);
    expect(r.err).toContain(`curves written to ${png}`);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^run\s+name\s+config\s+learning_rate\s+best val_accuracy\s+at epoch\s+min val_loss epoch/);
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(new RegExp(`^${runIds[0]}\\s+keras-0\\s+-\\s+0\\.001\\s+0\\.6200\\s+4\\s+3\\s+0\\.2000\\s+0\\.9800\\s+\\+0\\.3800\\s+5\\s`));
    expect(lines[3]).toMatch(new RegExp(`^${runIds[1]}\\s+keras-1\\s+-\\s+0\\.0001\\s+0\\.7100\\s+4\\s+3\\s`));
    expect((await sharp(png).metadata()).format).toBe('png');
  });

  it('takes run ids, and says which one the server does not have', async () => {
    const r = await cli(['compare', '--mlflow', '--uri', uri, runIds[1]!, '--no-plot', '--format', 'markdown']);
    expect(r.code).toBe(0);
    expect(r.out.trimEnd().split('\n')).toHaveLength(3);
    expect(r.out).toContain(`| ${runIds[1]} | keras-1 |`);
    const missing = await cli(['compare', '--mlflow', '--uri', uri, '0123456789abcdef0123456789abcdef', '--no-plot']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('[compare.no-runs]');
    const noExp = await cli(['compare', '--mlflow', '--uri', uri, '--experiment', 'no-such-experiment', '--no-plot']);
    expect(noExp.code).toBe(2);
    expect(noExp.err).toContain('has no experiment `no-such-experiment`');
  });

  it('without a server URI it is a user error', async () => {
    const saved = process.env.MLFLOW_TRACKING_URI;
    delete process.env.MLFLOW_TRACKING_URI;
    try {
      const r = await cli(['compare', '--mlflow', '--experiment', experiment, '--no-plot']);
      expect(r.code).toBe(2);
      expect(r.err).toContain('[compare.no-uri]');
    } finally {
      if (saved !== undefined) process.env.MLFLOW_TRACKING_URI = saved;
    }
  });
});
