import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { globSync, isDynamicPattern } from 'tinyglobby';
import type { DiscoveredClasses } from '../config/checks/types.js';
import type { DataConfig } from '../config/schema/experiment.js';
import { fail, FitspecError, type Problem } from '../errors.js';

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
  if (!existsSync(path))
    fail('data.missing-folder', `${what} ${path} does not exist; check \`${field}\` (relative paths start at the working directory).`, {
      file: path,
      path: field,
      expected: 'an existing folder',
      received: 'nothing',
    });
  if (!statSync(path).isDirectory())
    fail('data.not-a-folder', `${what} ${path} is not a folder; check \`${field}\`.`, { file: path, path: field, expected: 'a folder', received: 'a file' });
}

/**
 * Files under `dir`, sorted, hidden names left out; `rel` is the path below `dir` with `/` separators
 * (built here: path.relative per file costs as much as the listing itself on large folders).
 */
function walk(dir: string, under = ''): { file: string; rel: string }[] {
  const out: { file: string; rel: string }[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (hidden(e.name)) continue;
    const p = join(dir, e.name);
    const rel = under + e.name;
    // A folder named like an image, a named pipe, a socket or a device is listed so that it is
    // reported (imageFileProblem) instead of silently left out or read forever.
    if (e.isDirectory() && !isImage(e.name)) out.push(...walk(p, rel + '/'));
    else out.push({ file: p, rel });
  }
  return out;
}

/**
 * Why a listed image file cannot be used, before anything reads it: a symbolic link to nothing or to
 * itself, something that is not a regular file (a FIFO would block the decoder), an empty file.
 */
function imageFileProblem(file: string, at: { line?: number; where?: string } = {}): Problem | undefined {
  const place = at.where ? ` (${at.where})` : '';
  const base = { file, ...(at.line !== undefined ? { line: at.line } : {}), expected: 'an image file' };
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    let target = '';
    try {
      if (lstatSync(file).isSymbolicLink()) target = readlinkSync(file);
    } catch {
      /* gone meanwhile */
    }
    if (code === 'ENOENT' && target)
      return {
        ...base,
        code: 'data.broken-link',
        message: `${file}${place} is a symbolic link to ${target}, which does not exist; fix or delete the link.`,
        received: `a link to missing ${target}`,
      };
    if (code === 'ELOOP')
      return { ...base, code: 'data.broken-link', message: `${file}${place} is a loop of symbolic links; fix or delete the link.`, received: 'a symbolic link loop' };
    if (code === 'EACCES' || code === 'EPERM')
      return { ...base, code: 'data.unreadable-image', message: `${file}${place} cannot be read (permission denied).`, received: 'permission denied' };
    if (code === 'ENOENT') return { ...base, code: 'data.missing-image', message: `${file}${place} disappeared while the data was listed.`, received: 'no such file' };
    throw e;
  }
  if (!st.isFile()) {
    const kind = st.isDirectory()
      ? 'a folder'
      : st.isFIFO()
        ? 'a named pipe (FIFO)'
        : st.isCharacterDevice() || st.isBlockDevice()
          ? 'a device'
          : st.isSocket()
            ? 'a socket'
            : 'not a regular file';
    return { ...base, code: 'data.not-a-file', message: `${file}${place} is ${kind}, not an image file.`, received: kind };
  }
  if (st.size === 0) return { ...base, code: 'data.empty-file', message: `${file}${place} is empty (0 bytes).`, received: '0 bytes' };
  return undefined;
}

/** C0 control characters and DEL: a label holding one (a NUL byte, a stray newline) is a broken CSV cell, not a class name. */
const CONTROL = /[\u0000-\u001f\u007f]/;
const controlProblem = (name: string) => {
  const c = CONTROL.exec(name)![0].charCodeAt(0);
  return `a control character (U+${c.toString(16).toUpperCase().padStart(4, '0')}${c === 0 ? ', a NUL byte' : ''})`;
};

function badLabel(labelsFile: string, line: number, id: string, label: string): Problem {
  return {
    code: 'data.bad-label',
    message: `${labelsFile}:${line}: the label of ${id}, ${JSON.stringify(label)}, contains ${controlProblem(label)}; fix the cell.`,
    file: labelsFile,
    line,
    path: 'data.source.labels',
    expected: 'printable text',
    received: JSON.stringify(label),
  };
}

/** Class names end up in reports, plots and MLflow: each must be printable text. */
function checkClassNames(names: readonly string[], where: { file: string; path: string; what: string }): void {
  const bad = names.find((n) => CONTROL.test(n));
  if (bad !== undefined) {
    fail('data.bad-class-name', `${where.what} ${JSON.stringify(bad)} contains ${controlProblem(bad)}; rename it to printable text.`, {
      file: where.file,
      path: where.path,
      expected: 'printable text',
      received: JSON.stringify(bad),
    });
  }
}

/** Class subfolders of a directory source, sorted; `data.classes` when given (each must exist). */
function directoryClasses(data: DataConfig): { root: string; classes: string[] } {
  const field = 'data.source.path';
  if (!data.source.path)
    fail('data.missing-path', 'A `directory` source needs `data.source.path`: the folder holding one subfolder per class.', {
      path: field,
      expected: 'a folder path',
      received: 'nothing',
    });
  const root = resolve(data.source.path);
  requireDir(root, 'Data folder', field);
  const folders = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !hidden(e.name))
    .map((e) => e.name)
    .sort();
  checkClassNames(folders, { file: root, path: 'data.source.path', what: 'Class folder' });
  if (data.classes) {
    const classes = [...data.classes];
    checkClassNames(classes, { file: root, path: 'data.classes', what: 'Class' });
    const missing = classes.filter((c) => !folders.includes(c));
    if (missing.length) {
      fail('data.missing-class-folder', `Class folder${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} not found in ${root}.`, {
        file: root,
        path: 'data.classes',
        expected: `subfolders ${classes.join(', ')}`,
        received: folders.length ? folders.join(', ') : 'no subfolders',
      });
    }
    return { root, classes };
  }
  if (folders.length < 2)
    fail('data.too-few-classes', `${root} has ${folders.length} class folder${folders.length === 1 ? '' : 's'}; a classifier needs at least 2.`, {
      file: root,
      expected: 'one subfolder per class',
      received: folders.join(', ') || 'none',
    });
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
    for (const { file, rel } of files) {
      if (!isImage(file)) {
        problems.push({
          code: 'data.not-an-image',
          message: `${file} is not an image (expected ${IMAGE_EXTENSIONS.join(' ')}).`,
          file,
          expected: 'an image file',
          received: extname(file) || 'no extension',
        });
        continue;
      }
      images++;
      const bad = imageFileProblem(file);
      if (bad) {
        problems.push(bad);
        continue;
      }
      items.push({ id: `${cls}/${rel}`, file, label });
    }
    if (images === 0)
      fail('data.empty-class', `Class folder ${dir} holds no images.`, {
        file: dir,
        expected: `image files (${IMAGE_EXTENSIONS.join(' ')})`,
        received: files.length ? `${files.length} other file(s)` : 'an empty folder',
      });
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
  if (!src.images)
    fail('data.missing-path', 'A `csv` source needs `data.source.images`: the folder holding the image files.', {
      path: 'data.source.images',
      expected: 'a folder path',
      received: 'nothing',
    });
  if (!src.labels)
    fail('data.missing-path', 'A `csv` source needs `data.source.labels`: the CSV file with one row per image.', {
      path: 'data.source.labels',
      expected: 'a CSV file path',
      received: 'nothing',
    });
  const imagesDir = resolve(src.images);
  const labelsFile = resolve(src.labels);
  requireDir(imagesDir, 'Images folder', 'data.source.images');
  if (!existsSync(labelsFile))
    fail('data.missing-file', `Labels file ${labelsFile} does not exist; check \`data.source.labels\`.`, {
      file: labelsFile,
      path: 'data.source.labels',
      expected: 'a CSV file',
      received: 'nothing',
    });
  const labelsStat = statSync(labelsFile);
  if (!labelsStat.isFile()) {
    const kind = labelsStat.isDirectory()
      ? 'a folder'
      : labelsStat.isFIFO()
        ? 'a named pipe (FIFO)'
        : labelsStat.isCharacterDevice() || labelsStat.isBlockDevice()
          ? 'a device'
          : 'not a regular file';
    fail('data.not-a-file', `Labels file ${labelsFile} is ${kind}, not a CSV file; check \`data.source.labels\`.`, {
      file: labelsFile,
      path: 'data.source.labels',
      expected: 'a CSV file',
      received: kind,
    });
  }
  const idCol = src.idColumn ?? 'ID';
  const labelCol = src.labelColumn ?? 'Class';

  let rows: Record<string, string>[];
  try {
    rows = parse(readFileSync(labelsFile), { columns: true, skip_empty_lines: true, trim: true, bom: true });
  } catch (e) {
    fail('data.csv-parse', `${labelsFile} is not a readable CSV: ${(e as Error).message}`, { file: labelsFile });
  }
  const header = rows.length ? Object.keys(rows[0]!) : [];
  for (const [col, field] of [
    [idCol, 'idColumn'],
    [labelCol, 'labelColumn'],
  ] as const) {
    if (rows.length && !header.includes(col))
      fail('data.csv-column', `${labelsFile} has no column "${col}".`, {
        file: labelsFile,
        line: 1,
        path: `data.source.${field}`,
        expected: `a column named ${col}`,
        received: header.join(', '),
      });
  }
  if (!rows.length)
    fail('data.csv-empty', `${labelsFile} has no rows.`, { file: labelsFile, expected: `a header ${idCol},${labelCol} and one row per image`, received: 'no rows' });

  const counts = new Map<string, number>();
  const broken: Problem[] = [];
  rows.forEach((r, i) => {
    const label = (r[labelCol] ?? '').trim();
    // A label with a control character is a broken cell, not a class: `onError: skip` leaves its row out.
    if (CONTROL.test(label)) broken.push(badLabel(labelsFile, i + 2, (r[idCol] ?? '').trim(), label));
    else if (label) counts.set(label, (counts.get(label) ?? 0) + 1);
  });
  if (broken.length && data.onError !== 'skip') {
    const more = broken.length > 1 ? ` (${broken.length - 1} more row(s) like it)` : '';
    throw new FitspecError({
      ...broken[0]!,
      message: `${broken[0]!.message.replace(/; fix the cell\.$/, '')}${more}; fix the cell, or set \`data.onError: skip\` to leave such rows out.`,
    });
  }
  const classes = data.classes ? [...data.classes] : [...counts.keys()].sort();
  checkClassNames(classes, { file: labelsFile, path: 'data.classes', what: 'Class' });
  if (!data.classes && classes.length < 2)
    fail('data.too-few-classes', `${labelsFile} has ${classes.length} distinct label${classes.length === 1 ? '' : 's'} in column ${labelCol}; a classifier needs at least 2.`, {
      file: labelsFile,
      received: classes.join(', ') || 'none',
    });
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
      problems.push({
        code: 'data.missing-id',
        message: `${labelsFile}:${line} has an empty ${idCol}.`,
        file: labelsFile,
        line,
        expected: 'an image file name',
        received: 'an empty cell',
      });
      return;
    }
    if (CONTROL.test(labelText)) {
      problems.push(badLabel(labelsFile, line, id, labelText));
      return;
    }
    const first = seen.get(id);
    if (first !== undefined) {
      problems.push({
        code: 'data.duplicate-id',
        message: `${labelsFile}:${line}: id ${id} already appears on line ${first}.`,
        file: labelsFile,
        line,
        expected: 'each id once',
        received: `${id} again`,
      });
      return;
    }
    seen.set(id, line);
    const label = index.get(labelText.toLowerCase());
    if (label === undefined) {
      problems.push({
        code: 'data.unknown-label',
        message: `${labelsFile}:${line}: label "${labelText}" of ${id} is not one of the classes ${classes.join(', ')}.`,
        file: labelsFile,
        line,
        path: 'data.classes',
        expected: classes.join(' | '),
        received: labelText || 'an empty cell',
      });
      return;
    }
    let name = byName.get(id);
    if (name === undefined || !isImage(name)) {
      const candidates = byStem.get(id) ?? [];
      name = candidates.length ? candidates.sort()[0] : undefined;
    }
    if (name === undefined) {
      const file = join(imagesDir, id);
      problems.push({
        code: 'data.missing-image',
        message: `${labelsFile}:${line}: image ${id} is not in ${imagesDir}.`,
        file,
        line,
        expected: `${id} or ${id}.<${IMAGE_EXTENSIONS.map((e) => e.slice(1)).join('|')}>`,
        received: 'no such file',
      });
      return;
    }
    const file = join(imagesDir, name);
    if (!isImage(name)) {
      problems.push({
        code: 'data.not-an-image',
        message: `${file} (${labelsFile}:${line}) is not an image (expected ${IMAGE_EXTENSIONS.join(' ')}).`,
        file,
        line,
        expected: 'an image file',
        received: extname(name) || 'no extension',
      });
      return;
    }
    const bad = imageFileProblem(file, { line, where: `${labelsFile}:${line}` });
    if (bad) {
      problems.push(bad);
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
    return data.classes
      ? { classes: t.classes, from: '`data.classes`' }
      : { classes: t.classes, from: `the distinct values of column ${t.labelCol} in ${t.labelsFile}`, counts: Object.fromEntries(t.counts) };
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
      const images = walk(arg)
        .map((f) => f.file)
        .filter(isImage);
      if (!images.length)
        fail('predict.no-images', `${arg} holds no images (${IMAGE_EXTENSIONS.join(' ')}).`, { file: arg, expected: 'a folder with image files', received: 'no images' });
      const bad = images.map((f) => imageFileProblem(f)).filter((p) => p !== undefined);
      if (bad.length) throw new FitspecError(bad.map((p) => ({ ...p, code: p.code.replace(/^data\./, 'predict.') })));
      out.push(...images);
    } else if (existsSync(arg)) {
      // The checks training data gets: /dev/zero or a named pipe would be read forever.
      const bad = imageFileProblem(arg);
      if (bad) throw new FitspecError({ ...bad, code: bad.code.replace(/^data\./, 'predict.') });
      out.push(arg);
    } else if (isDynamicPattern(arg)) {
      const images = globSync(arg, { onlyFiles: true, dot: false, expandDirectories: false }).filter(isImage).sort();
      if (!images.length) fail('predict.no-images', `no image matches ${arg}.`, { expected: `image files (${IMAGE_EXTENSIONS.join(' ')})`, received: 'no match' });
      const bad = images.map((f) => imageFileProblem(f)).filter((p) => p !== undefined);
      if (bad.length) throw new FitspecError(bad.map((p) => ({ ...p, code: p.code.replace(/^data\./, 'predict.') })));
      out.push(...images);
    } else {
      fail('predict.missing-image', `Image ${arg} does not exist.`, { file: arg, expected: 'an image file, a folder of images or a quoted glob pattern', received: 'nothing' });
    }
  }
  return out;
}
