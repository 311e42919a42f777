import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';
import { parse } from 'csv-parse/sync';
import { globSync, isDynamicPattern } from 'tinyglobby';
import type { DiscoveredClasses } from '../config/checks/types.js';
import type { DataConfig } from '../config/schema/experiment.js';
import { fail, type Problem } from '../errors.js';

/** Extensions sharp decodes and Keras lists (plus WebP and GIF, which sharp reads). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff'];

export interface Item {
  /** Directory source: `<class folder>/<file>`; CSV source: the id as written in the CSV. */
  id: string;
  file: string;
  /** Class index in `classes`. */
  label: number;
}

export interface Listing {
  type: 'directory' | 'csv';
  location: string;
  classes: string[];
  items: Item[];
  /** Problems that `onError: skip` may skip; structural problems throw at once. */
  problems: Problem[];
}

const isImage = (name: string) => IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
const hidden = (name: string) => name.startsWith('.');

function requireDir(path: string, what: string, field: string): void {
  if (!existsSync(path)) fail('data.missing-folder', `${what} ${path} does not exist; check \`${field}\` (relative paths start at the working directory).`, { file: path, path: field, expected: 'an existing folder', received: 'nothing' });
  if (!statSync(path).isDirectory()) fail('data.not-a-folder', `${what} ${path} is not a folder; check \`${field}\`.`, { file: path, path: field, expected: 'a folder', received: 'a file' });
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (hidden(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile() || e.isSymbolicLink()) out.push(p);
  }
  return out;
}

function emptyFileProblem(file: string): Problem {
  return { code: 'data.empty-file', message: `${file} is empty (0 bytes).`, file, expected: 'an image file', received: '0 bytes' };
}

/** Class subfolders of a directory source, sorted; `data.classes` when given (each must exist). */
function directoryClasses(data: DataConfig): { root: string; classes: string[] } {
  const field = 'data.source.path';
  if (!data.source.path) fail('data.missing-path', 'A `directory` source needs `data.source.path`: the folder holding one subfolder per class.', { path: field, expected: 'a folder path', received: 'nothing' });
  const root = resolve(data.source.path);
  requireDir(root, 'Data folder', field);
  const folders = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !hidden(e.name))
    .map((e) => e.name)
    .sort();
  if (data.classes) {
    const classes = [...data.classes];
    const missing = classes.filter((c) => !folders.includes(c));
    if (missing.length) {
      fail('data.missing-class-folder', `Class folder${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} not found in ${root}.`, { file: root, path: 'data.classes', expected: `subfolders ${classes.join(', ')}`, received: folders.length ? folders.join(', ') : 'no subfolders' });
    }
    return { root, classes };
  }
  if (folders.length < 2) fail('data.too-few-classes', `${root} has ${folders.length} class folder${folders.length === 1 ? '' : 's'}; a classifier needs at least 2.`, { file: root, expected: 'one subfolder per class', received: folders.join(', ') || 'none' });
  return { root, classes: folders };
}

/** Keras `flow_from_directory`: one subfolder per class, class names sorted unless given. */
export function listDirectory(data: DataConfig): Listing {
  const { root, classes } = directoryClasses(data);
  const items: Item[] = [];
  const problems: Problem[] = [];
  classes.forEach((cls, label) => {
    const dir = join(root, cls);
    const files = walk(dir);
    let images = 0;
    for (const file of files) {
      if (!isImage(file)) {
        problems.push({ code: 'data.not-an-image', message: `${file} is not an image (expected ${IMAGE_EXTENSIONS.join(' ')}).`, file, expected: 'an image file', received: extname(file) || 'no extension' });
        continue;
      }
      images++;
      if (statSync(file).size === 0) {
        problems.push(emptyFileProblem(file));
        continue;
      }
      items.push({ id: relative(root, file).split(sep).join('/'), file, label });
    }
    if (images === 0) fail('data.empty-class', `Class folder ${dir} holds no images.`, { file: dir, expected: `image files (${IMAGE_EXTENSIONS.join(' ')})`, received: files.length ? `${files.length} other file(s)` : 'an empty folder' });
  });
  return { type: 'directory', location: root, classes, items, problems };
}

interface CsvTable {
  imagesDir: string;
  labelsFile: string;
  idCol: string;
  labelCol: string;
  rows: Record<string, string>[];
  classes: string[];
  /** Rows per distinct label. */
  counts: Map<string, number>;
}

/** Reads the labels CSV of a csv source; classes are `data.classes` or the sorted distinct labels. */
function readCsv(data: DataConfig): CsvTable {
  const src = data.source;
  if (!src.images) fail('data.missing-path', 'A `csv` source needs `data.source.images`: the folder holding the image files.', { path: 'data.source.images', expected: 'a folder path', received: 'nothing' });
  if (!src.labels) fail('data.missing-path', 'A `csv` source needs `data.source.labels`: the CSV file with one row per image.', { path: 'data.source.labels', expected: 'a CSV file path', received: 'nothing' });
  const imagesDir = resolve(src.images);
  const labelsFile = resolve(src.labels);
  requireDir(imagesDir, 'Images folder', 'data.source.images');
  if (!existsSync(labelsFile) || !statSync(labelsFile).isFile()) fail('data.missing-file', `Labels file ${labelsFile} does not exist; check \`data.source.labels\`.`, { file: labelsFile, path: 'data.source.labels', expected: 'a CSV file', received: 'nothing' });
  const idCol = src.idColumn ?? 'ID';
  const labelCol = src.labelColumn ?? 'Class';

  let rows: Record<string, string>[];
  try {
    rows = parse(readFileSync(labelsFile), { columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (e) {
    fail('data.csv-parse', `${labelsFile} is not a readable CSV: ${(e as Error).message}`, { file: labelsFile });
  }
  const header = rows.length ? Object.keys(rows[0]!) : [];
  for (const [col, field] of [[idCol, 'idColumn'], [labelCol, 'labelColumn']] as const) {
    if (rows.length && !header.includes(col)) fail('data.csv-column', `${labelsFile} has no column "${col}".`, { file: labelsFile, line: 1, path: `data.source.${field}`, expected: `a column named ${col}`, received: header.join(', ') });
  }
  if (!rows.length) fail('data.csv-empty', `${labelsFile} has no rows.`, { file: labelsFile, expected: `a header ${idCol},${labelCol} and one row per image`, received: 'no rows' });

  const counts = new Map<string, number>();
  for (const r of rows) {
    const label = (r[labelCol] ?? '').trim();
    if (label) counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const classes = data.classes ? [...data.classes] : [...counts.keys()].sort();
  if (!data.classes && classes.length < 2) fail('data.too-few-classes', `${labelsFile} has ${classes.length} distinct label${classes.length === 1 ? '' : 's'} in column ${labelCol}; a classifier needs at least 2.`, { file: labelsFile, received: classes.join(', ') || 'none' });
  return { imagesDir, labelsFile, idCol, labelCol, rows, classes, counts };
}

/** The notebook's source layout: `Train/<ID>.jpg` plus `train.csv` with `ID,Class`. */
export function listCsv(data: DataConfig): Listing {
  const { imagesDir, labelsFile, idCol, labelCol, rows, classes } = readCsv(data);
  // One directory read instead of one stat per row.
  const byName = new Map<string, string>();
  const byStem = new Map<string, string[]>();
  for (const e of readdirSync(imagesDir, { withFileTypes: true })) {
    if (!e.isFile() && !e.isSymbolicLink()) continue;
    byName.set(e.name, e.name);
    if (isImage(e.name)) {
      const stem = e.name.slice(0, e.name.length - extname(e.name).length);
      byStem.set(stem, [...(byStem.get(stem) ?? []), e.name]);
    }
  }

  const index = new Map<string, number>();
  classes.forEach((c, i) => index.set(c.toLowerCase(), i));

  const items: Item[] = [];
  const problems: Problem[] = [];
  const seen = new Map<string, number>();
  rows.forEach((row, i) => {
    const line = i + 2;
    const id = (row[idCol] ?? '').trim();
    const labelText = (row[labelCol] ?? '').trim();
    if (!id) {
      problems.push({ code: 'data.missing-id', message: `${labelsFile}:${line} has an empty ${idCol}.`, file: labelsFile, line, expected: 'an image file name', received: 'an empty cell' });
      return;
    }
    const first = seen.get(id);
    if (first !== undefined) {
      problems.push({ code: 'data.duplicate-id', message: `${labelsFile}:${line}: id ${id} already appears on line ${first}.`, file: labelsFile, line, expected: 'each id once', received: `${id} again` });
      return;
    }
    seen.set(id, line);
    const label = index.get(labelText.toLowerCase());
    if (label === undefined) {
      problems.push({ code: 'data.unknown-label', message: `${labelsFile}:${line}: label "${labelText}" of ${id} is not one of the classes ${classes.join(', ')}.`, file: labelsFile, line, path: 'data.classes', expected: classes.join(' | '), received: labelText || 'an empty cell' });
      return;
    }
    let name = byName.get(id);
    if (name === undefined || !isImage(name)) {
      const candidates = byStem.get(id) ?? [];
      name = candidates.length ? candidates.sort()[0] : undefined;
    }
    if (name === undefined) {
      const file = join(imagesDir, id);
      problems.push({ code: 'data.missing-image', message: `${labelsFile}:${line}: image ${id} is not in ${imagesDir}.`, file, line, expected: `${id} or ${id}.<${IMAGE_EXTENSIONS.map((e) => e.slice(1)).join('|')}>`, received: 'no such file' });
      return;
    }
    const file = join(imagesDir, name);
    if (!isImage(name)) {
      problems.push({ code: 'data.not-an-image', message: `${file} (${labelsFile}:${line}) is not an image (expected ${IMAGE_EXTENSIONS.join(' ')}).`, file, line, expected: 'an image file', received: extname(name) || 'no extension' });
      return;
    }
    if (statSync(file).size === 0) {
      problems.push(emptyFileProblem(file));
      return;
    }
    items.push({ id, file, label });
  });
  return { type: 'csv', location: labelsFile, classes, items, problems };
}

export function listSource(data: DataConfig): Listing {
  return data.source.type === 'csv' ? listCsv(data) : listDirectory(data);
}

/**
 * The classes training will use: `data.classes` when listed, else the class folders or the distinct
 * values of the CSV's label column. Cheap: one folder read or one CSV parse, no image is decoded.
 */
export function discoverClasses(data: DataConfig): DiscoveredClasses {
  if (data.source.type === 'csv') {
    const t = readCsv(data);
    return data.classes ? { classes: t.classes, from: '`data.classes`' } : { classes: t.classes, from: `the distinct values of column ${t.labelCol} in ${t.labelsFile}`, counts: Object.fromEntries(t.counts) };
  }
  const d = directoryClasses(data);
  return { classes: d.classes, from: data.classes ? '`data.classes`' : `the class folders of ${d.root}` };
}

/**
 * Image files named on a command line: a file as given, a folder as every image inside it
 * (recursively, sorted, hidden files left out), a glob pattern (quoted, so the shell left it alone)
 * as the images it matches.
 */
export function expandImagePaths(args: string[]): string[] {
  const out: string[] = [];
  for (const arg of args) {
    if (existsSync(arg) && statSync(arg).isDirectory()) {
      const images = walk(arg).filter(isImage);
      if (!images.length) fail('predict.no-images', `${arg} holds no images (${IMAGE_EXTENSIONS.join(' ')}).`, { file: arg, expected: 'a folder with image files', received: 'no images' });
      out.push(...images);
    } else if (existsSync(arg)) {
      out.push(arg);
    } else if (isDynamicPattern(arg)) {
      const images = globSync(arg, { onlyFiles: true, dot: false, expandDirectories: false })
        .filter(isImage)
        .sort();
      if (!images.length) fail('predict.no-images', `no image matches ${arg}.`, { expected: `image files (${IMAGE_EXTENSIONS.join(' ')})`, received: 'no match' });
      out.push(...images);
    } else {
      fail('predict.missing-image', `Image ${arg} does not exist.`, { file: arg, expected: 'an image file, a folder of images or a quoted glob pattern', received: 'nothing' });
    }
  }
  return out;
}
