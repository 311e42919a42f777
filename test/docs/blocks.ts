import fs from 'node:fs';

/** A fenced code block of a Markdown page. */
export interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  text: string;
  /** The reason given in `<!-- not run: REASON -->` right above the fence, when there is one. */
  notRun?: string;
}

const NOT_RUN = /^<!--\s*not run:\s*(.*?)\s*-->$/;

/** Every fenced block of a page, in order, with the not-run marker that stands right above it. */
export function blocks(file: string): Block[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(\S*)/.exec(lines[i]!);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith(open[1]!)) j++;
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === '') k--;
    const marker = k >= 0 ? NOT_RUN.exec(lines[k]!.trim()) : null;
    out.push({ file, line: i + 1, lang: open[2]!, text: lines.slice(i + 1, j).join('\n'), notRun: marker ? marker[1] : undefined });
    i = j;
  }
  return out;
}

/** Shell blocks are the commands of a page. */
export const isShell = (b: Block) => ['bash', 'sh', 'shell'].includes(b.lang);

/** A YAML block whose first line is `# path/to/file.yaml` is that file, written before the page's commands run. */
export function fileOf(b: Block): string | undefined {
  if (b.lang !== 'yaml') return undefined;
  const m = /^#\s+(\S+\.ya?ml)\s*$/.exec(b.text.split('\n')[0] ?? '');
  return m?.[1];
}
