import { FitspecError, type Problem } from '../../errors.js';

/** An MLflow request failed; `transient` when the server was unreachable or kept failing. */
export class MlflowError extends FitspecError {
  readonly status?: number;
  readonly errorCode?: string;
  readonly transient: boolean;
  constructor(problem: Problem, info: { status?: number; errorCode?: string; transient: boolean }) {
    super(problem);
    this.status = info.status;
    this.errorCode = info.errorCode;
    this.transient = info.transient;
  }
}

export function isMlflowError(e: unknown): e is MlflowError {
  return e instanceof MlflowError;
}

export interface HttpSettings {
  /** Base URI without credentials and without a trailing slash. */
  uri: string;
  /** Value of the Authorization header, if any. */
  authorization?: string;
  maxRetries: number;
  /** Seconds; the n-th retry waits backoffFactor * 2^(n-1), capped at backoffMax, plus jitter. */
  backoffFactor: number;
  backoffMax: number;
  /** Per request, ms (a request with a body gets one more second per MB). A request that timed out is not repeated. */
  timeoutMs: number;
  fetch?: typeof fetch;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);

/** Removes user:password from a URI so it can be stored and printed. */
export function redactUri(uri: string): string {
  try {
    const u = new URL(uri);
    if (!u.username && !u.password) return uri.replace(/\/+$/, '');
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/+$/, '');
  } catch {
    return uri.replace(/\/\/[^/@]*@/, '//').replace(/\/+$/, '');
  }
}

/** A non-negative number from an environment variable, `def` when unset. */
export function envNumber(env: NodeJS.ProcessEnv, name: string, def: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) {
    throw new FitspecError({ code: 'mlflow.env', message: `${name} must be a non-negative number`, expected: 'a number >= 0', received: JSON.stringify(raw) });
  }
  return n;
}

/**
 * Connection settings from a tracking URI and the MLflow environment variables
 * (MLFLOW_TRACKING_USERNAME/PASSWORD -> Basic, else MLFLOW_TRACKING_TOKEN -> Bearer; user:password in
 * the URI also works). Retries and the timeout default lower than MLflow's Python client so that a
 * dead or hanging server costs `fitspec sync` seconds, not minutes.
 */
export function httpSettings(uri: string, env: NodeJS.ProcessEnv = process.env): HttpSettings {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new FitspecError({
      code: 'mlflow.uri',
      message: `tracking URI ${JSON.stringify(redactUri(uri))} is not a URL`,
      expected: 'http://host:port or https://host/path',
      received: redactUri(uri),
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new FitspecError({
      code: 'mlflow.uri',
      message: `tracking URI ${JSON.stringify(redactUri(uri))} is not an HTTP(S) server: fitspec talks to MLflow over its REST API`,
      expected: 'http://host:port or https://host/path (start one with `npm run mlflow`)',
      received: url.protocol,
      hint: 'without a tracking URI, runs are stored only in the local runs/ folder',
    });
  }
  let authorization: string | undefined;
  // An empty variable (as left by `export MLFLOW_TRACKING_USERNAME=`) does not hide credentials in the URI.
  const user = env.MLFLOW_TRACKING_USERNAME || (url.username ? decodeURIComponent(url.username) : undefined);
  const pass = env.MLFLOW_TRACKING_PASSWORD || (url.password ? decodeURIComponent(url.password) : undefined);
  if (user !== undefined && user !== '') authorization = 'Basic ' + Buffer.from(`${user}:${pass ?? ''}`).toString('base64');
  else if (env.MLFLOW_TRACKING_TOKEN) authorization = `Bearer ${env.MLFLOW_TRACKING_TOKEN}`;
  return {
    uri: redactUri(uri),
    authorization,
    maxRetries: Math.floor(envNumber(env, 'MLFLOW_HTTP_REQUEST_MAX_RETRIES', 3)),
    backoffFactor: envNumber(env, 'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR', 1),
    backoffMax: envNumber(env, 'MLFLOW_HTTP_REQUEST_BACKOFF_MAX', 60),
    timeoutMs: envNumber(env, 'MLFLOW_HTTP_REQUEST_TIMEOUT', 30) * 1000,
  };
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  /** JSON body. */
  json?: unknown;
  /** Raw body (artifact upload). */
  body?: Uint8Array;
  /** Full URL instead of `uri + path` (artifact URIs that name another host). */
  url?: string;
  /** false: a failed attempt is not repeated (the caller decides whether repeating is safe). */
  retry?: boolean;
  /** The answer is plain text (GET /health), not MLflow's JSON. */
  text?: boolean;
  /**
   * What a successful answer must contain, e.g. `['run', 'info']`: MLflow always sends it, so its
   * absence means the URI points at something else (a proxy, a login page, another service).
   */
  expect?: string[];
}

interface RawResponse {
  status: number;
  text: string;
  headers: Headers;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((res) => {
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      res();
    }
  });

function retryAfterMs(h: Headers): number | undefined {
  const v = h.get('retry-after');
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

function connectionReason(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  return oneLine(err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e), 200);
}

/** Whitespace collapsed, at most `max` characters: server answers end up in one-line warnings and run.json. */
function oneLine(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

const isHtml = (text: string, contentType: string | null) => /html/i.test(contentType ?? '') || /^\s*<(!doctype|html|head|body)/i.test(text);

/** What came back, in a few words: `an HTML page titled "Sign in"`, `JSON {"ok":true}`, `text "..."`, `an empty body`. */
export function describeBody(text: string, contentType: string | null = null): string {
  if (!text.trim()) return 'an empty body';
  if (isHtml(text, contentType)) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1];
    return title?.trim() ? `an HTML page titled ${JSON.stringify(oneLine(title, 80))}` : `an HTML page (${JSON.stringify(oneLine(text, 80))})`;
  }
  try {
    JSON.parse(text);
    return `JSON ${oneLine(text, 120)}`;
  } catch {
    return `text ${JSON.stringify(oneLine(text, 120))}`;
  }
}

/** Parses `{error_code, message}` or returns the plain-text body (an HTML page as its title). */
export function parseError(text: string, contentType: string | null = null): { errorCode?: string; message: string } {
  try {
    const j = JSON.parse(text) as { error_code?: string; message?: string; detail?: unknown };
    if (j && typeof j === 'object' && (j.error_code || j.message)) return { errorCode: j.error_code, message: oneLine(j.message ?? text, 500) };
    if (j && typeof j === 'object' && j.detail !== undefined) return { message: oneLine(typeof j.detail === 'string' ? j.detail : JSON.stringify(j.detail), 500) };
  } catch {
    /* plain text */
  }
  return { message: isHtml(text, contentType) ? describeBody(text, contentType) : oneLine(text, 500) };
}

const isJsonObject = (text: string): boolean => {
  try {
    const v = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
};

function isArtifactServingDisabled(status: number, text: string): boolean {
  return status === 503 && /serve-artifacts/.test(text);
}

/**
 * fetch with the MLflow client's retry rules: 408/429/5xx and connection errors, Retry-After, jittered
 * exponential backoff; a per-request timeout; answers that are not MLflow's JSON are errors.
 */
export class MlflowHttp {
  private readonly cancel = new AbortController();
  /** Requests answered so far (any status): lets a caller waiting on a queue of requests tell a slow server from a stuck one. */
  answered = 0;
  /** Why the last attempt that will be repeated failed (a connection error or a retryable status). */
  lastFailure?: string;

  constructor(
    readonly settings: HttpSettings,
    private readonly onRetry?: (msg: string) => void,
  ) {}

  get uri(): string {
    return this.settings.uri;
  }

  /** Ends every request in flight and refuses new ones, each failing with `reason`. */
  abortAll(reason: MlflowError): void {
    this.cancel.abort(reason);
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, opts);
    const where = path || new URL(opts.url ?? this.settings.uri).pathname;
    if (res.status < 200 || res.status >= 300) throw this.httpError(method, where, res);
    if (opts.text) return res.text as unknown as T;
    if (!res.text) return {} as T;
    if (!isJsonObject(res.text)) throw this.notMlflow(method, where, res);
    const body = JSON.parse(res.text) as Record<string, unknown>;
    if (opts.expect) {
      let v: unknown = body;
      for (const k of opts.expect) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
      if (v === undefined || v === null) throw this.notMlflow(method, where, res, opts.expect.join('.'));
    }
    return body as T;
  }

  private notMlflow(method: string, path: string, res: RawResponse, lacking?: string): MlflowError {
    const got = describeBody(res.text, res.headers.get('content-type'));
    const what = lacking ? `${got} without ${lacking}` : got;
    const maybe = res.status === 404 ? ' (or an MLflow version without this endpoint)' : '';
    return new MlflowError(
      {
        code: 'mlflow.not-mlflow',
        message: `${this.settings.uri} is not an MLflow tracking server${maybe}: it answered ${method} ${path} with HTTP ${res.status} and ${what}`,
        received: `HTTP ${res.status} and ${got}`,
        hint: 'check the tracking URI (MLFLOW_TRACKING_URI or tracking.uri): it must point at `mlflow server`, e.g. http://127.0.0.1:5000',
      },
      { status: res.status, transient: false },
    );
  }

  private async raw(method: string, path: string, opts: RequestOptions): Promise<RawResponse> {
    const s = this.settings;
    const url = new URL(opts.url ?? `${s.uri}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {};
    if (s.authorization) headers.authorization = s.authorization;
    let body: BodyInit | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.body) {
      headers['content-type'] = 'application/octet-stream';
      body = opts.body as BodyInit;
    }
    const f = s.fetch ?? fetch;
    const maxRetries = opts.retry === false ? 0 : s.maxRetries;
    const timeoutMs = Math.ceil(s.timeoutMs + (opts.body ? opts.body.byteLength / 1000 : 0));
    for (let attempt = 0; ; attempt++) {
      this.throwIfCancelled();
      let wait: number | undefined;
      let failure: string;
      const timeout = AbortSignal.timeout(timeoutMs);
      try {
        const r = await f(url, { method, headers, body, signal: AbortSignal.any([timeout, this.cancel.signal]) });
        const text = await r.text();
        this.answered++;
        const res = { status: r.status, text, headers: r.headers };
        if (!RETRY_STATUS.has(r.status) || isArtifactServingDisabled(r.status, text)) return res;
        if (attempt >= maxRetries) return res;
        wait = retryAfterMs(r.headers);
        failure = `HTTP ${r.status}`;
      } catch (e) {
        this.throwIfCancelled();
        // A server that took the whole timeout to not answer would most likely do it again.
        if (timeout.aborted) {
          throw new MlflowError(
            {
              code: 'mlflow.timeout',
              message: `MLflow server ${s.uri} did not answer ${method} ${url.pathname} within ${+(timeoutMs / 1000).toFixed(1)} s`,
              hint: 'check that the server is not stuck; MLFLOW_HTTP_REQUEST_TIMEOUT sets the limit in seconds',
              received: 'no answer',
            },
            { transient: true },
          );
        }
        const reason = connectionReason(e);
        if (reason === 'bad port') {
          // fetch itself refuses some ports (the WHATWG "bad ports": 5060, 5061, 6000, ...): nothing was sent, and retrying cannot help.
          throw new MlflowError(
            {
              code: 'mlflow.bad-port',
              message: `MLflow server ${s.uri} cannot be reached: port ${url.port} is one that fetch refuses to connect to (a blocked "bad port"), no request was sent`,
              hint: 'run the MLflow server on another port, e.g. 5000',
              received: `port ${url.port}`,
            },
            { transient: false },
          );
        }
        if (attempt >= maxRetries) {
          throw new MlflowError(
            {
              code: 'mlflow.unreachable',
              message: `MLflow server ${s.uri} is unreachable (${reason}${attempt ? `, ${attempt + 1} attempts` : ''})`,
              hint: 'check the tracking URI and that the server runs (`npm run mlflow` starts one on 127.0.0.1:5000)',
              received: reason,
            },
            { transient: true },
          );
        }
        failure = reason;
      }
      const backoff = Math.min(s.backoffMax, s.backoffFactor * 2 ** attempt) * 1000;
      const delay = wait !== undefined ? Math.min(wait, s.backoffMax * 1000) : backoff + Math.random() * Math.min(1000, backoff);
      this.lastFailure = failure;
      this.onRetry?.(`MLflow ${method} ${url.pathname}: ${failure}; retrying in ${(delay / 1000).toFixed(1)} s`);
      await sleep(delay, this.cancel.signal);
    }
  }

  private throwIfCancelled(): void {
    if (this.cancel.signal.aborted) throw this.cancel.signal.reason;
  }

  private httpError(method: string, path: string, res: RawResponse): MlflowError {
    const { errorCode, message } = parseError(res.text, res.headers.get('content-type'));
    const s = this.settings;
    const base = { status: res.status, errorCode };
    const received = `HTTP ${res.status}${errorCode ? ` ${errorCode}` : ''}: ${message}`;
    if (res.status === 401) {
      return new MlflowError(
        {
          code: 'mlflow.unauthorized',
          message: `MLflow server ${s.uri} rejected the request: ${s.authorization ? 'wrong credentials' : 'it requires credentials'} (401)`,
          received,
          hint: 'set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN)',
        },
        { ...base, transient: false },
      );
    }
    if (res.status === 403) {
      return new MlflowError(
        {
          code: 'mlflow.forbidden',
          message: `MLflow server ${s.uri} refused ${method} ${path}: permission denied (403)`,
          received,
          hint: 'ask the server admin for permission on this experiment, or use another user',
        },
        { ...base, transient: false },
      );
    }
    if (isArtifactServingDisabled(res.status, res.text)) {
      return new MlflowError(
        {
          code: 'mlflow.artifacts-disabled',
          message: `MLflow server ${s.uri} does not serve artifacts (started with --no-serve-artifacts), so artifacts cannot be uploaded`,
          received,
          hint: 'restart the server without --no-serve-artifacts (and with --artifacts-destination), then run `fitspec sync` for the run',
        },
        { ...base, transient: false },
      );
    }
    const transient = RETRY_STATUS.has(res.status);
    if (res.status >= 500) {
      return new MlflowError(
        {
          code: 'mlflow.server-error',
          message: `MLflow server ${s.uri} failed on ${method} ${path} with HTTP ${res.status}${errorCode ? ` ${errorCode}` : ''}: ${message || 'no details'}`,
          received,
          hint: "the server's own log says why",
        },
        { ...base, transient },
      );
    }
    // MLflow explains every refusal in JSON; anything else came from something that is not MLflow.
    if (!errorCode && !isJsonObject(res.text) && res.status !== 429 && res.status !== 408) return this.notMlflow(method, path, res);
    return new MlflowError(
      {
        code: transient ? 'mlflow.server-error' : 'mlflow.request',
        message: `MLflow ${method} ${path} failed: ${errorCode ? `${errorCode}: ` : ''}${message || `HTTP ${res.status}`}`,
        received,
      },
      { ...base, transient },
    );
  }
}
