import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import sharp from 'sharp';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/** Font installed with most Linux distributions and found by librsvg through fontconfig. */
export const FONT = 'DejaVu Sans, Verdana, Arial, sans-serif';

export const baseConfig = {
  font: FONT,
  background: 'white',
  title: { fontSize: 16, anchor: 'middle' as const },
  axis: { labelFontSize: 12, titleFontSize: 13, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 12 },
  view: { stroke: '#bbbbbb' },
};

/** Vega-Lite spec -> SVG, without a browser or a canvas (text is measured by Vega's estimator). */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Vega-Lite spec -> PNG file at `scale` times the spec's pixel size; the same spec gives the same bytes. */
export async function vegaLiteToPng(spec: TopLevelSpec, out: string, scale = 2): Promise<void> {
  const svg = await vegaLiteToSvg(spec);
  mkdirSync(dirname(out), { recursive: true });
  await sharp(Buffer.from(svg), { density: 72 * scale })
    .png()
    .toFile(out);
}
