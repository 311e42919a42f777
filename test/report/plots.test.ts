import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { confusionMatrixPng, confusionMatrixSpec, learningCurvesPng, learningCurvesSpec, vegaLiteToSvg, type EpochRow } from '../../src/report/index.js';

const dir = mkdtempSync(join(tmpdir(), 'fitspec-plots-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const history: EpochRow[] = Array.from({ length: 12 }, (_, e) => ({
  epoch: e,
  loss: 1.1 * Math.exp(-e / 4),
  accuracy: 0.4 + 0.05 * e,
  val_loss: 0.9 + 0.01 * (e - 5) ** 2,
  val_accuracy: e === 7 ? 0.71 : 0.5 + 0.01 * e,
  lr: 0.001,
}));

/** Visible text lines of an SVG (Vega writes a label as a <text> element, one <tspan> per line). */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>(.*?)<\/text>/g)].flatMap((m) => {
    const spans = [...m[1]!.matchAll(/<tspan[^>]*>([^<]*)<\/tspan>/g)].map((t) => t[1]!);
    return spans.length ? spans : [m[1]!];
  });
}

async function pngInfo(file: string) {
  const img = sharp(file);
  const meta = await img.metadata();
  const stats = await img.stats();
  return { meta, stats };
}

describe('learning curves', () => {
  it('have both panels, axis titles, legend and the best epochs marked (1-based, as Keras prints)', async () => {
    const t = texts(await vegaLiteToSvg(learningCurvesSpec(history, { title: '01-baseline' })));
    for (const s of ['01-baseline', 'Training and validation accuracy', 'Training and validation loss', 'Epoch', 'Accuracy', 'Loss', 'Training', 'Validation'])
      expect(t).toContain(s);
    expect(t).toContain('best 0.710 (epoch 8)');
    expect(t).toContain('min 0.900 (epoch 6)');
  });

  it('render to a PNG that is deterministic and not blank', async () => {
    const a = join(dir, 'a.png');
    const b = join(dir, 'sub/b.png');
    await learningCurvesPng(history, a, { title: 'x' });
    await learningCurvesPng(history, b, { title: 'x' });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    const { meta, stats } = await pngInfo(a);
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(1000);
    expect(meta.height).toBeGreaterThan(400);
    // Curves are drawn in colour on white: the red channel varies.
    expect(stats.channels[0]!.stdev).toBeGreaterThan(10);
  });

  it('draw only the loss panel when there is no accuracy, and accept Keras 2 `acc` names', async () => {
    const lossOnly = texts(await vegaLiteToSvg(learningCurvesSpec(history.map(({ epoch, loss, val_loss }) => ({ epoch, loss: loss!, val_loss: val_loss! })))));
    expect(lossOnly).toContain('Training and validation loss');
    expect(lossOnly).not.toContain('Training and validation accuracy');
    const keras2 = texts(await vegaLiteToSvg(learningCurvesSpec(history.map(({ epoch, accuracy, val_accuracy }) => ({ epoch, acc: accuracy!, val_acc: val_accuracy! })))));
    expect(keras2).toContain('Training and validation accuracy');
    expect(keras2).toContain('best 0.710 (epoch 8)');
  });

  it('mark where each later training phase starts', async () => {
    const t = texts(
      await vegaLiteToSvg(
        learningCurvesSpec(history, {
          phases: [
            { name: 'frozen', firstEpoch: 0 },
            { name: 'finetune', firstEpoch: 6 },
          ],
        }),
      ),
    );
    expect(t.filter((s) => s === 'finetune')).toHaveLength(2);
    expect(t).not.toContain('frozen');
  });

  it('skip NaN values instead of failing', async () => {
    const withNaN = history.map((r, i) => (i === 3 ? { ...r, loss: Number.NaN } : r));
    await learningCurvesPng(withNaN, join(dir, 'nan.png'));
    expect((await sharp(join(dir, 'nan.png')).metadata()).format).toBe('png');
  });
});

describe('confusion matrix plot', () => {
  const matrix = [
    [52, 6, 2],
    [9, 41, 10],
    [1, 8, 51],
  ];
  const classes = ['young', 'middle', 'old'];

  it('shows class names on both axes, counts and row shares in the cells, and the accuracy', async () => {
    const t = texts(await vegaLiteToSvg(confusionMatrixSpec(matrix, classes, { title: 'validation' })));
    for (const c of classes) expect(t.filter((s) => s === c)).toHaveLength(2);
    for (const s of ['Predicted class', 'True class', 'validation', '52', '86.7%', '41', '68.3%', '10', '16.7%']) expect(t).toContain(s);
    expect(t.some((s) => s.startsWith('accuracy 80.0%, 180 images'))).toBe(true);
  });

  it('renders a square-ish PNG', async () => {
    const out = join(dir, 'cm.png');
    await confusionMatrixPng(matrix, classes, out);
    const { meta, stats } = await pngInfo(out);
    expect(meta.format).toBe('png');
    expect(meta.width).toBeGreaterThan(500);
    expect(stats.channels[0]!.stdev).toBeGreaterThan(10);
  });
});
