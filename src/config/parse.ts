import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { Problem } from '../errors.js';
import { ensureMeta, renderExcerpt, setKey, type Origin, type Sources } from './origins.js';

/** Larger experiment files are almost certainly a mistake (or an attack); reading stops before parsing. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Expanding more aliases than this is treated as an alias bomb (a few aliases may expand exponentially). */
export const MAX_ALIAS_COUNT = 100;

export interface ParseResult {
  /** The mapping at the top of the file, with positions in the side table; undefined when unusable. */
  value?: Record<string, unknown>;
  text?: string;
}

function problemAt(code: string, message: string, file: string, text: string | undefined, line: number, col: number, extra: Partial<Problem> = {}): Problem {
  return { code, message, file, line, col, ...(text !== undefined ? { excerpt: renderExcerpt(text, line, col) } : {}), ...extra };
}

/** 1-based line and column of a character offset. */
function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}

/** Decodes strictly: a config with bytes that are not UTF-8 is rejected with the position of the first one. */
export function decodeConfig(bytes: Uint8Array, file: string, problems: Problem[]): string | undefined {
  if (bytes.byteLength > MAX_CONFIG_BYTES) {
    problems.push({
      code: 'yaml.too-large',
      message: `config file is ${bytes.byteLength} bytes; the limit is ${MAX_CONFIG_BYTES} bytes (1 MiB). An experiment file is a few kilobytes: check that the right file was given.`,
      file,
      expected: `at most ${MAX_CONFIG_BYTES} bytes`,
      received: `${bytes.byteLength} bytes`,
    });
    return undefined;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    const loose = new TextDecoder('utf-8').decode(bytes);
    const { line, col } = lineCol(loose, Math.max(0, loose.indexOf('\uFFFD')));
    problems.push(
      problemAt('yaml.encoding', 'the file is not valid UTF-8; save it as UTF-8.', file, loose, line, col, { expected: 'UTF-8 text', received: 'bytes that are not UTF-8' }),
    );
    return undefined;
  }
}

/**
 * Parses one experiment file into a plain mapping whose every value knows its line and column.
 * Problems are appended to `problems`; nothing is thrown for bad input.
 */
export function parseConfigText(text: string, file: string, sources: Sources, problems: Problem[]): ParseResult {
  sources.set(file, text);
  const before = problems.length;
  text.split('\n').forEach((src, i) => {
    const m = /^[ ]*\t/.exec(src);
    if (m)
      problems.push(
        problemAt('yaml.tab', 'tab character in indentation; YAML indents with spaces only.', file, text, i + 1, m[0].length, { expected: 'spaces', received: 'a tab' }),
      );
  });
  if (problems.length > before) return { text };

  const lineCounter = new LineCounter();
  // Duplicate keys are found below with a set per mapping: the parser's own check compares every key
  // with every earlier one, which takes minutes on a file with tens of thousands of keys.
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false, strict: true, merge: false });
  for (const err of doc.errors) {
    const { line, col } = lineCounter.linePos(err.pos[0]);
    problems.push(problemAt('yaml.syntax', `invalid YAML: ${err.message.split('\n')[0]}`, file, text, line, col));
  }
  if (problems.length > before) return { text };

  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && (contents.value === null || contents.value === ''))) {
    problems.push(
      problemAt('config.empty', 'the config file is empty; an experiment is a mapping with at least `name` and `model.layers`.', file, text, 1, 1, {
        expected: 'a mapping',
        received: 'nothing',
      }),
    );
    return { text };
  }
  if (!isMap(contents)) {
    const { line, col } = lineCounter.linePos(contents.range?.[0] ?? 0);
    const received = isSeq(contents) ? 'a list' : `a ${typeof (isScalar(contents) ? contents.value : contents)}`;
    problems.push(
      problemAt('config.not-a-mapping', `the top level of an experiment file must be a mapping of keys (name, data, model, train, ...), got ${received}.`, file, text, line, col, {
        expected: 'a mapping',
        received,
      }),
    );
    return { text };
  }
  try {
    doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    if (!(e instanceof ReferenceError)) throw e;
    const firstAlias = /(^|[\s:,[{-])\*[^\s,\]}]+/m.exec(text);
    const { line, col } = firstAlias ? lineCol(text, firstAlias.index + firstAlias[1].length) : { line: 1, col: 1 };
    problems.push(
      problemAt(
        'yaml.alias-bomb',
        `aliases expand to too many nodes (more than ${MAX_ALIAS_COUNT} expansions); write the values out instead of nesting aliases.`,
        file,
        text,
        line,
        col,
      ),
    );
    return { text };
  }

  const pos = (node: Node | null | undefined, fallback: Origin): Origin => {
    if (!node?.range) return fallback;
    const { line, col } = lineCounter.linePos(node.range[0]);
    return { kind: 'file', file, line, col };
  };
  const build = (node: Node | null, here: Origin): unknown => {
    if (node === null) return null;
    if (isAlias(node)) return build(node.resolve(doc as Document) ?? null, here);
    if (isMap(node)) {
      const obj: Record<string, unknown> = {};
      const meta = ensureMeta(obj, pos(node, here));
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const keyOrigin = pos(keyNode, here);
        if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number' && typeof keyNode.value !== 'boolean')) {
          const o = keyOrigin as Extract<Origin, { kind: 'file' }>;
          problems.push(problemAt('yaml.complex-key', 'keys must be plain words, not lists, mappings or empty.', file, text, o.line, o.col));
          continue;
        }
        const key = String(keyNode.value);
        if (meta.keys.has(key)) {
          const o = keyOrigin as Extract<Origin, { kind: 'file' }>;
          problems.push(problemAt('yaml.duplicate-key', 'duplicate key: a key may appear only once in a mapping; remove or rename one of them.', file, text, o.line, o.col));
          continue;
        }
        const valueNode = pair.value as Node | null;
        const valueOrigin = valueNode?.range && valueNode.range[0] !== valueNode.range[1] ? pos(valueNode, keyOrigin) : keyOrigin;
        setKey(obj, key, build(valueNode, valueOrigin));
        meta.keys.set(key, keyOrigin);
        meta.vals.set(key, valueOrigin);
      }
      return obj;
    }
    if (isSeq(node)) {
      const arr: unknown[] = [];
      const meta = ensureMeta(arr, pos(node, here));
      node.items.forEach((item, i) => {
        const o = pos(item as Node, here);
        arr.push(build(item as Node, o));
        meta.vals.set(String(i), o);
      });
      return arr;
    }
    if (isScalar(node)) return node.value ?? null;
    return null;
  };
  const value = build(contents, { kind: 'file', file, line: 1, col: 1 }) as Record<string, unknown>;
  return { value, text };
}
