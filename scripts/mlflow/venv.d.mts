export const ROOT: string;
export const REQUIREMENTS: string;
export const VENV: string;
export function venvPython(venv?: string): string;
export function ensureMlflow(opts?: { log?: (msg: string) => void; signal?: AbortSignal; venv?: string; requirements?: string; what?: string }): Promise<string>;
export function freePort(): Promise<number>;
export interface MlflowServer {
  uri: string;
  port: number;
  pid: number;
  logFile: string;
  dir: string;
  stop(): Promise<void>;
}
export function startMlflowServer(opts: {
  dir: string;
  port?: number;
  serveArtifacts?: boolean;
  basicAuth?: { username: string; password: string };
  stdio?: 'file' | 'inherit';
  timeoutMs?: number;
  signal?: AbortSignal;
  log?: (msg: string) => void;
}): Promise<MlflowServer>;
export function findPython(what?: string): string;
export function withLock<T>(path: string, fn: () => Promise<T>, opts: { signal?: AbortSignal; onWait?: (owner: string) => void }): Promise<T>;
