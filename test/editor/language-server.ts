import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Diagnostic {
  message: string;
  severity?: number;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  source?: string;
}

type Message = { id?: number; method?: string; params?: unknown; result?: unknown; error?: unknown };

/**
 * The YAML language server (the one VS Code's YAML extension runs) over stdio, speaking plain LSP
 * JSON-RPC: no editor-specific glue, so what it reports is what an editor shows.
 */
export class YamlLanguageServer {
  private proc: ChildProcessWithoutNullStreams;
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private pending = new Map<number, (m: Message) => void>();
  private diagnostics = new Map<string, Diagnostic[]>();
  private waiters = new Map<string, ((d: Diagnostic[]) => void)[]>();
  private settings: Record<string, unknown>;
  private opened = 0;
  stderr = '';

  constructor(settings: Record<string, unknown> = {}) {
    const require = createRequire(import.meta.url);
    const bin = path.join(path.dirname(require.resolve('yaml-language-server/package.json')), 'bin/yaml-language-server');
    this.settings = { validate: true, hover: true, completion: true, schemaStore: { enable: false }, schemas: {}, ...settings };
    this.proc = spawn(process.execPath, [bin, '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
    this.proc.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  private send(msg: Message): void {
    const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...msg }), 'utf8');
    this.proc.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.proc.stdin.write(body);
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const sep = this.buffer.indexOf('\r\n\r\n');
      if (sep < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, sep).toString())?.[1]);
      if (this.buffer.length < sep + 4 + length) return;
      const msg = JSON.parse(this.buffer.subarray(sep + 4, sep + 4 + length).toString('utf8')) as Message;
      this.buffer = this.buffer.subarray(sep + 4 + length);
      this.handle(msg);
    }
  }

  private handle(msg: Message): void {
    if (msg.method === 'textDocument/publishDiagnostics') {
      const { uri, diagnostics } = msg.params as { uri: string; diagnostics: Diagnostic[] };
      this.diagnostics.set(uri, diagnostics);
      for (const w of this.waiters.get(uri) ?? []) w(diagnostics);
      this.waiters.delete(uri);
    } else if (msg.method && msg.id !== undefined) {
      // Requests from the server: settings, capability registration, progress.
      const result =
        msg.method === 'workspace/configuration' ? (msg.params as { items: { section?: string }[] }).items.map((i) => (i.section === 'yaml' ? this.settings : null)) : null;
      this.send({ id: msg.id, result });
    } else if (msg.id !== undefined) {
      this.pending.get(msg.id)?.(msg);
      this.pending.delete(msg.id);
    }
  }

  request<T>(method: string, params: unknown): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.error ? reject(new Error(JSON.stringify(m.error))) : resolve(m.result as T)));
      this.send({ id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    this.send({ method, params });
  }

  async start(rootDir: string): Promise<void> {
    await this.request('initialize', {
      processId: process.pid,
      rootUri: pathToFileURL(rootDir).href,
      capabilities: { workspace: { configuration: true }, textDocument: { publishDiagnostics: {}, hover: { contentFormat: ['markdown', 'plaintext'] }, completion: {} } },
    });
    this.notify('initialized', {});
    this.notify('workspace/didChangeConfiguration', { settings: { yaml: this.settings } });
  }

  /** Opens a file as an editor would and waits for its diagnostics. */
  open(file: string, text = readFileSync(file, 'utf8')): Promise<Diagnostic[]> {
    const uri = pathToFileURL(file).href;
    const done = new Promise<Diagnostic[]>((resolve) => this.waiters.set(uri, [...(this.waiters.get(uri) ?? []), resolve]));
    this.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'yaml', version: 1, text } });
    return done;
  }

  /**
   * Opens, waits for the diagnostics, closes; again until `accept` holds. The server applies settings
   * asynchronously after `initialized`, so the first check of a file may run before they are in force.
   */
  async settle(file: string, text: string, accept: (d: Diagnostic[]) => boolean, timeoutMs = 30_000): Promise<Diagnostic[]> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      // A fresh name each time: closing a document publishes empty diagnostics for it, which must not
      // be mistaken for the result of opening it again.
      const name = file.replace(/(\.ya?ml)$/, `-${++this.opened}$1`);
      const d = await this.open(name, text);
      this.close(name);
      if (accept(d) || Date.now() > until) return d;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  close(file: string): void {
    this.notify('textDocument/didClose', { textDocument: { uri: pathToFileURL(file).href } });
  }

  hover(file: string, line: number, character: number): Promise<{ contents: { value: string } | string } | null> {
    return this.request('textDocument/hover', { textDocument: { uri: pathToFileURL(file).href }, position: { line, character } });
  }

  completion(file: string, line: number, character: number): Promise<{ items: { label: string }[] } | null> {
    return this.request('textDocument/completion', { textDocument: { uri: pathToFileURL(file).href }, position: { line, character } });
  }

  async stop(): Promise<void> {
    try {
      await Promise.race([this.request('shutdown', null), new Promise((r) => setTimeout(r, 5000))]);
      this.notify('exit', null);
    } finally {
      this.proc.kill();
    }
  }
}
