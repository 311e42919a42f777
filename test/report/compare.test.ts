import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import {
  canonicalValue,
  compareCurvesSpec,
  compareRuns,
  differingParams,
  formatComparison,
  historyFromPoints,
  parseMetricsCsv,
  runLabels,
  vegaLiteToSvg,
  type EpochRow,
  type RunData,
} from '../../src/report/index.js';

const root = mkdtempSync(join(tmpdir(), 'fitspec-compare-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function curve(epochs: number, peak: number, gap: number): EpochRow[] {
  return Array.from({ length: epochs }, (_, e) => ({
    epoch: e,
    loss: 1 / (e + 1),
    accuracy: Math.min(0.99, peak - 0.3 + gap + 0.04 * e),
    val_loss: 0.8 + 0.01 * (e - 3) ** 2,
    val_accuracy: e === 4 ? peak : peak - 0.05,
  }));
}

/** A run folder as the trainer writes it (run.json, metrics.csv, summary.json). */
function writeRun(
  experiment: string,
  runId: string,
  o: { params: Record<string, string>; history: EpochRow[]; wall?: number; hash?: string; status?: string; runName?: string; csv?: boolean },
): string {
  const dir = join(root, 'runs', experiment, runId);
  mkdirSync(dir, { recursive: true });
  const start = Date.UTC(2026, 0, 1, 10, 0, Number(runId.slice(13, 15)));
  writeFileSync(
    join(dir, 'run.json'),
    JSON.stringify({
      format: 1,
      runId,
      experimentName: experiment,
      runName: o.runName ?? `${experiment}-${runId}`,
      status: o.status ?? 'FINISHED',
      startTime: start,
      endTime: start + 90_000,
      params: o.params,
      tags: { 'fitspec.config_hash': `tag${runId}` },
      artifacts: [],
    }),
  );
  if (o.csv !== false) {
    const keys = ['epoch', 'loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr'];
    writeFileSync(join(dir, 'metrics.csv'), [keys.join(','), ...o.history.map((r) => keys.map((k) => (r[k] === undefined ? '' : r[k])).join(','))].join('\n') + '\n');
  } else {
    writeFileSync(
      join(dir, 'metrics.jsonl'),
      o.history
        .flatMap((r) =>
          Object.entries(r)
            .filter(([k]) => k !== 'epoch')
            .map(([key, value]) => JSON.stringify({ key, value, step: r.epoch, timestamp: 0 })),
        )
        .join('\n') + '\n',
    );
  }
  if (o.wall !== undefined) writeFileSync(join(dir, 'summary.json'), JSON.stringify({ status: 'FINISHED', config_hash: o.hash ?? 'feedbeefcafe1234', wall_time_s: o.wall }));
  return dir;
}

const base = { 'train.optimizer.learningRate': '0.0001', 'train.epochs': '6', 'data.augment': '[]', seed: '42' };
const a = writeRun('01-baseline', '20260101-100001-aaaa', { params: base, history: curve(6, 0.68, 0.25), wall: 125.4, hash: '1111222233334444' });
const b = writeRun('01-baseline', '20260101-100002-bbbb', { params: { ...base, 'train.optimizer.learningRate': '0.001' }, history: curve(6, 0.7, 0.2), wall: 3725 });
const c = writeRun('03-augmentation', '20260101-100003-cccc', {
  params: { ...base, 'data.augment': '[{"flip":{}}]', 'model.extra': 'x' },
  history: curve(8, 0.74, 0.02),
  csv: false,
  status: 'KILLED',
});

let out = '';
let err = '';
afterEach(() => vi.restoreAllMocks());
async function cli(args: string[]): Promise<number> {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  const code = await main(args);
  vi.restoreAllMocks();
  return code;
}

describe('comparison (pure)', () => {
  const runs: RunData[] = [
    { id: 'r1', name: 'baseline', params: { lr: '0.1', seed: '1' }, history: curve(6, 0.68, 0.25), wallTimeS: 10 },
    { id: 'r2', name: 'augment', params: { lr: '0.1', seed: '1', aug: 'flip' }, history: curve(3, 0.7, 0.1) },
  ];

  it('finds the params that differ, counting a missing param as different', () => {
    expect(differingParams(runs)).toEqual(['aug']);
    expect(differingParams([runs[0]!])).toEqual([]);
  });

  it('computes best val_accuracy and its epoch, min val_loss epoch (1-based), final losses and the gap', () => {
    const { rows } = compareRuns(runs);
    expect(rows[0]).toMatchObject({ id: 'r1', bestValAccuracy: 0.68, bestValAccuracyEpoch: 5, minValLossEpoch: 4, epochs: 6, finalLoss: 1 / 6 });
    expect(rows[0]!.finalValLoss).toBeCloseTo(0.84, 12);
    expect(rows[0]!.finalGap).toBeCloseTo(0.68 - 0.3 + 0.25 + 0.2 - 0.63, 12);
    expect(rows[1]).toMatchObject({ bestValAccuracyEpoch: 1, params: { aug: 'flip' } });
    expect(rows[0]!.params).toEqual({ aug: undefined });
  });

  it('formats an aligned text table and a Markdown table', () => {
    const c = compareRuns(runs);
    const text = formatComparison(c, { format: 'text' }).trimEnd().split('\n');
    expect(text[0]).toMatch(/^run\s+name\s+config\s+aug\s+best val_accuracy\s+at epoch/);
    expect(text[1]).toMatch(/^-+ +-+/);
    // Columns line up: every row is as long as the header or shorter only by trimmed trailing blanks.
    const col = text[0]!.indexOf('best val_accuracy') + 'best val_accuracy'.length;
    expect(text[2]!.slice(col - 6, col)).toBe('0.6800');
    expect(text[3]!.slice(col - 6, col)).toBe('0.6500');
    const md = formatComparison(c, { format: 'markdown' }).trimEnd().split('\n');
    expect(md[0]).toBe('| run | name | config | aug | best val_accuracy | at epoch | min val_loss epoch | final loss | final val_loss | train-val gap | epochs run | wall time |');
    expect(md[1]).toBe('| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    expect(md[2]).toMatch(/^\| r1 \| baseline \| - \| - \| 0\.6800 \| 5 \| 4 \| 0\.1667 \| 0\.8400 \| \+0\.\d{4} \| 6 \| 10\.0s \|$/);
  });

  it('lists differing params beyond the column limit under the table', () => {
    const many = [0, 1].map((i) => ({ id: `r${i}`, name: 'x', params: Object.fromEntries(['a', 'b', 'c'].map((k) => [k, `${k}${i}`])), history: [] }));
    const text = formatComparison(compareRuns(many), { format: 'text', maxParamColumns: 1 });
    expect(text).toMatch(/^run\s+name\s+config\s+a\s+best/);
    expect(text).toContain('2 more params differ: b, c');
  });

  it('puts hand-set params before layer arguments, ignores name and description, and groups what does not fit', () => {
    const layers = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`model.layers.${i}.dense.units`, String(10 * (i + n))]));
    const runs = [
      { id: 'a', name: 'a', params: { name: 'a', description: 'one', 'train.epochs': '3', 'augment.zoom': '0', 'augment.shear': '0', ...layers(3) }, history: [] },
      { id: 'b', name: 'b', params: { name: 'b', description: 'two', 'train.epochs': '5', 'augment.zoom': '0.2', 'augment.shear': '0.1', ...layers(4) }, history: [] },
    ];
    expect(differingParams(runs).slice(0, 4)).toEqual(['augment.shear', 'augment.zoom', 'train.epochs', 'model.layers.0.dense.units']);
    const text = formatComparison(compareRuns(runs), { format: 'text', maxParamColumns: 2 });
    expect(text).toMatch(/^run\s+name\s+config\s+augment\.shear\s+augment\.zoom\s+best/);
    expect(text).toContain('5 more params differ: train.epochs, model.layers.* (4)');
  });

  it('one column per differing config value: Keras autolog duplicates, placement and presentation are not differences', () => {
    const fitspecRun = (epochs: string, extra: Record<string, string> = {}) => ({
      // As the trainer logs them: the resolved config, and the same values under Keras autolog names.
      params: { 'train.epochs': epochs, epochs, batch_size: '32', seed: '42', 'tracking.runName': `r${epochs}`, 'tracking.runsDir': `/tmp/${epochs}`, ...extra },
    });
    const cases: { description: string; runs: { params: Record<string, string> }[]; differing: string[] }[] = [
      { description: 'epochs appear once, as the config path', runs: [fitspecRun('3'), fitspecRun('5')], differing: ['train.epochs'] },
      {
        description: 'a missing value equals an empty list, mapping or null',
        runs: [fitspecRun('3'), fitspecRun('3', { 'train.callbacks': '[]', 'data.classes': 'null', 'model.base': '{}' })],
        differing: [],
      },
      {
        description: 'numbers in another notation are equal',
        runs: [fitspecRun('3', { 'train.optimizer.learningRate': '0.0001' }), fitspecRun('3', { 'train.optimizer.learningRate': '1e-4' })],
        differing: [],
      },
      { description: 'Python and YAML booleans are equal', runs: [fitspecRun('3', { 'train.shuffle': 'True' }), fitspecRun('3', { 'train.shuffle': 'true' })], differing: [] },
      { description: 'a seed differs like any config value', runs: [fitspecRun('3', { seed: '1' }), fitspecRun('3', { seed: '2' })], differing: ['seed'] },
      {
        description: 'runs logged by Keras autolog alone keep their names',
        runs: [{ params: { epochs: '3', batch_size: '32' } }, { params: { epochs: '4', batch_size: '32' } }],
        differing: ['epochs'],
      },
    ];
    for (const c of cases) expect(differingParams(c.runs), c.description).toEqual(c.differing);
    expect(['1e-4', '0.00010', 'None', '[]', 'False', 'relu'].map(canonicalValue)).toEqual(['0.0001', '0.0001', '', '', 'false', 'relu']);
    const table = formatComparison(
      compareRuns(cases[0]!.runs.map((r, i) => ({ id: `r${i}`, name: 'x', params: r.params, history: curve(Number(r.params['train.epochs']), 0.6, 0) }))),
      { format: 'text' },
    );
    expect(table.split('\n')[0]!.match(/epochs/g)).toEqual(['epochs', 'epochs']);
    expect(table.split('\n')[0]).toMatch(/^run\s+name\s+config\s+train\.epochs\s+best.*\s+epochs run\s+wall time$/);
  });

  it('labels the curves with run names, told apart by what differs, and by id only when nothing does', () => {
    const runs: RunData[] = [
      { id: 'r1', name: '01-baseline', params: { 'train.epochs': '3', epochs: '3' }, history: [] },
      { id: 'r2', name: '01-baseline', params: { 'train.epochs': '5', epochs: '5' }, history: [] },
      { id: 'r3', name: 'augmented', params: { 'train.epochs': '5' }, history: [] },
      { id: 'r4', name: 'same', params: { 'train.epochs': '5' }, history: [] },
      { id: 'r5', name: 'same', params: { 'train.epochs': '5' }, history: [] },
    ];
    expect(runLabels(runs)).toEqual(['01-baseline train.epochs=3', '01-baseline train.epochs=5', 'augmented', 'same (r4)', 'same (r5)']);
  });

  it('reads metrics.csv and metric points into the same rows', () => {
    // Today's files count epochs from 1; run folders written before count from 0.
    expect(parseMetricsCsv('epoch,loss,val_loss\n1,1.5,NaN\n2,1.2,\n')).toEqual([
      { epoch: 0, loss: 1.5, val_loss: Number.NaN },
      { epoch: 1, loss: 1.2 },
    ]);
    expect(parseMetricsCsv('epoch,loss,val_loss\n0,1.5,NaN\n1,1.2,\n')).toEqual([
      { epoch: 0, loss: 1.5, val_loss: Number.NaN },
      { epoch: 1, loss: 1.2 },
    ]);
    expect(
      historyFromPoints([
        { key: 'loss', value: 2, step: 1 },
        { key: 'loss', value: 3, step: 0 },
        { key: 'val_loss', value: 4, step: 1 },
      ]),
    ).toEqual([
      { epoch: 0, loss: 3 },
      { epoch: 1, loss: 2, val_loss: 4 },
    ]);
  });

  it('overlays every run in one colour each, val_accuracy and val_loss side by side', async () => {
    const svg = await vegaLiteToSvg(
      compareCurvesSpec([
        { label: 'baseline', history: curve(4, 0.6, 0) },
        { label: 'augment', history: curve(4, 0.7, 0) },
      ]),
    );
    for (const s of ['Validation accuracy', 'Validation loss', 'baseline', 'augment', 'Epoch', '2 runs compared']) expect(svg).toContain(`>${s}<`);
  });
});

describe('fitspec compare', () => {
  it('compares run folders: differing params, figures, wall time, and writes the curves PNG', async () => {
    const png = join(root, 'two.png');
    expect(await cli(['compare', a, b, '--out', png])).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^run\s+name\s+config\s+train\.optimizer\.learningRate\s+best val_accuracy/);
    expect(lines[2]).toMatch(/^20260101-100001-aaaa\s+01-baseline\s+11112222\s+0\.0001\s+0\.6800\s+5\s+4\s+0\.1667\s+0\.8400\s+\+0\.\d{4}\s+6\s+2m 05s$/);
    expect(lines[3]).toMatch(/^20260101-100002-bbbb\s+01-baseline\s+feedbeef\s+0\.001\s+0\.7000\s+5 .* 1h 02m$/);
    expect(err).toContain(`curves written to ${png}`);
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(800);
  });

  it('--experiment takes every run of the experiment; --format markdown', async () => {
    expect(await cli(['compare', '--experiment', '01-baseline', '--runs-dir', join(root, 'runs'), '--format', 'markdown', '--no-plot'])).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/^\| 20260101-100001-aaaa \| 01-baseline \|/);
    expect(lines[3]).toMatch(/^\| 20260101-100002-bbbb \| 01-baseline \|/);
    expect(err).toBe('');
  });

  it('reads metrics.jsonl when metrics.csv is missing, shows status when a run did not finish, defaults the PNG into the runs folder', async () => {
    const runsDir = join(root, 'runs');
    expect(await cli(['compare', a, c, '--runs-dir', runsDir])).toBe(0);
    expect(out.split('\n')[0]).toMatch(/^run\s+name\s+status\s+config\s+data\.augment\s+model\.extra\s+best/);
    expect(out).toMatch(/20260101-100003-cccc\s+03-augmentation\s+KILLED\s+tag20260\s+\[\{"flip":\{\}\}\]\s+x\s+0\.7400\s+5\s+4\s+0\.1250\s+.*\s+8\s+1m 30s/);
    const written = readdirSync(runsDir).filter((f) => /^compare-\d{8}-\d{6}\.png$/.test(f));
    expect(written).toHaveLength(1);
  });

  it('compares the resolved configs with defaults filled in: a default written out is no difference', async () => {
    const minimal = `name: r\ndata: {source: {type: directory, path: data/x}}\nmodel: {layers: [{flatten: {}}, {dense: {units: 3, activation: softmax}}]}\n`;
    const d1 = writeRun('resolved', '20260101-100004-dddd', { params: {}, history: curve(3, 0.6, 0), wall: 10 });
    const d2 = writeRun('resolved', '20260101-100005-eeee', { params: {}, history: curve(3, 0.6, 0), wall: 10 });
    const d3 = writeRun('resolved', '20260101-100006-ffff', { params: {}, history: curve(3, 0.6, 0), wall: 10 });
    writeFileSync(join(d1, 'resolved.yaml'), minimal);
    writeFileSync(join(d2, 'resolved.yaml'), minimal + 'train: {shuffle: true, callbacks: [], optimizer: {name: rmsprop, learningRate: 1.0e-3}}\ntracking: {runName: other}\n');
    writeFileSync(join(d3, 'resolved.yaml'), minimal + 'train: {epochs: 7}\n');
    expect(await cli(['compare', d1, d2, '--no-plot'])).toBe(0);
    expect(out).toContain('The runs have the same params.');
    expect(await cli(['compare', d1, d2, d3, '--no-plot'])).toBe(0);
    expect(out.split('\n')[0]).toMatch(/^run\s+name\s+config\s+train\.epochs\s+best/);
  });

  it('--metric plots one metric', async () => {
    const png = join(root, 'lr.png');
    expect(await cli(['compare', a, b, '--metric', 'loss', '--out', png])).toBe(0);
    expect((await sharp(png).metadata()).format).toBe('png');
  });

  it('user mistakes are reported with a code and exit 2', async () => {
    expect(await cli(['compare'])).toBe(2);
    expect(err).toContain('[compare.no-runs]');
    expect(await cli(['compare', '--experiment', '01-basline', '--runs-dir', join(root, 'runs')])).toBe(2);
    expect(err).toContain('did you mean `01-baseline`?');
    expect(await cli(['compare', join(root, 'nowhere')])).toBe(2);
    expect(err).toContain('[run.not-found]');
    expect(await cli(['compare', a, '--format', 'html'])).toBe(2);
    expect(await cli(['compare', a, '--metric', 'val_acuracy', '--out', join(root, 'never.png')])).toBe(2);
    expect(err).toContain('[compare.unknown-metric]');
    expect(err).toContain('did you mean `val_accuracy`?');
  });
});
