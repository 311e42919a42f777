import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowClient, artifactUrl, chunkBatch, LOG_BATCH_LIMITS } from '../../src/track/mlflow/client.js';
import { httpSettings, redactUri, type HttpSettings } from '../../src/track/mlflow/http.js';
import { FitspecError } from '../../src/errors.js';
import { freePort } from '../../scripts/mlflow/venv.mjs';

/** A loopback HTTP server whose answers each test scripts, recording every request. */
type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
let server: Server;
let uri: string;
let handler: Handler = (_q, _b, res) => res.end('{}');
const requests: { method: string; url: string; body: string; auth?: string }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, body, auth: req.headers.authorization });
      handler(req, body, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  uri = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const settings = (over: Partial<HttpSettings> = {}): HttpSettings => ({ ...httpSettings(uri, {}), backoffFactor: 0.01, ...over });
const reset = (h: Handler) => {
  requests.length = 0;
  handler = h;
};
const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

describe('MLflow HTTP: retries, timeouts, errors', () => {
  it('retries 503 and honours Retry-After', async () => {
    let n = 0;
    reset((_q, _b, res) =>
      n++ < 1
        ? json(res, 503, { error_code: 'TEMPORARILY_UNAVAILABLE', message: 'busy' }, { 'retry-after': '1' })
        : json(res, 200, { experiment: { experiment_id: '7', name: 'e', lifecycle_stage: 'active' } }),
    );
    const c = new MlflowClient(settings());
    const t0 = Date.now();
    const e = await c.getExperimentByName('e');
    expect(e?.experimentId).toBe('7');
    expect(requests).toHaveLength(2);
    // backoffFactor alone would retry after ~10 ms; Retry-After asks for 1 s.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
  });

  it('retries 429 and 5xx up to the limit, then reports the server error', async () => {
    reset((_q, _b, res) => json(res, 502, { error_code: 'BAD_GATEWAY', message: 'upstream down' }));
    const c = new MlflowClient(settings({ maxRetries: 2 }));
    const err = await c.getRun('r').catch((e) => e);
    expect(err).toBeInstanceOf(FitspecError);
    expect(err.code).toBe('mlflow.server-error');
    expect(err.transient).toBe(true);
    expect(err.message).toContain('upstream down');
    expect(requests).toHaveLength(3);
  });

  it('does not retry a client error and keeps the server error_code and message', async () => {
    reset((_q, _b, res) => json(res, 400, { error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid value "bad!" for metric name' }));
    const c = new MlflowClient(settings());
    const err = await c.logBatch('r', { metrics: [{ key: 'bad!', value: 1, step: 0, timestamp: 1 }] }).catch((e) => e);
    expect(requests).toHaveLength(1);
    expect(err.errorCode).toBe('INVALID_PARAMETER_VALUE');
    expect(err.code).toBe('mlflow.request');
    expect(err.message).toContain('INVALID_PARAMETER_VALUE: Invalid value "bad!"');
  });

  it('reads plain-text errors (auth, proxies)', async () => {
    reset((_q, _b, res) => {
      res.writeHead(401, { 'content-type': 'text/html' });
      res.end('You are not authenticated.');
    });
    const err = await new MlflowClient(settings()).getRun('r').catch((e) => e);
    expect(err.code).toBe('mlflow.unauthorized');
    expect(err.problems[0].received).toContain('You are not authenticated.');
    expect(err.problems[0].hint).toContain('MLFLOW_TRACKING_USERNAME');
  });

  it('gives up on a request that hangs after the per-request timeout, without repeating it', async () => {
    reset(() => undefined);
    const c = new MlflowClient(settings({ timeoutMs: 300, maxRetries: 1 }));
    const t0 = Date.now();
    const err = await c.getRun('r').catch((e) => e);
    expect(err.code).toBe('mlflow.timeout');
    expect(err.message).toBe(`MLflow server ${uri} did not answer GET /api/2.0/mlflow/runs/get within 0.3 s`);
    expect(requests).toHaveLength(1);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('an unreachable server is one clear error after the retries', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const c = new MlflowClient({ ...httpSettings(dead, { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '2', MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.01' }) });
    const err = await c.getExperimentByName('x').catch((e) => e);
    expect(err.code).toBe('mlflow.unreachable');
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).toContain('3 attempts');
  });

  it('never repeats runs/create blindly: after a failed create it looks the run up by its tag first', async () => {
    let creates = 0;
    reset((req, body, res) => {
      if (req.url!.includes('runs/create')) {
        creates++;
        // The server created the run but the answer was lost.
        return json(res, 504, { error_code: 'GATEWAY_TIMEOUT', message: 'timeout' });
      }
      if (req.url!.includes('runs/search')) {
        expect(JSON.parse(body).filter).toBe("tags.`fitspec.run_id` = 'loc-1'");
        return json(res, 200, {
          runs: [{ info: { run_id: 'srv-1', experiment_id: '3', status: 'RUNNING', artifact_uri: 'mlflow-artifacts:/3/srv-1/artifacts', lifecycle_stage: 'active' } }],
        });
      }
      json(res, 404, { error_code: 'ENDPOINT_NOT_FOUND', message: req.url });
    });
    const c = new MlflowClient(settings());
    const info = await c.createRun({ experimentId: '3', runName: 'r', startTime: 1, identity: { key: 'fitspec.run_id', value: 'loc-1' } });
    expect(info.runId).toBe('srv-1');
    expect(creates).toBe(1);
  });

  it('without an identity tag a failed runs/create is not repeated', async () => {
    reset((_q, _b, res) => json(res, 503, { error_code: 'X', message: 'down' }));
    await expect(new MlflowClient(settings()).createRun({ experimentId: '3', runName: 'r', startTime: 1 })).rejects.toThrow(/down/);
    expect(requests).toHaveLength(1);
  });

  it('does not retry the 503 of a server without artifact serving', async () => {
    reset((_q, _b, res) => json(res, 503, { detail: 'Artifact serving is disabled. Run `mlflow server` with `--serve-artifacts` to enable.' }));
    const err = await new MlflowClient(settings()).uploadArtifact({ artifactUri: 'mlflow-artifacts:/1/r/artifacts' }, 'a.txt', Buffer.from('x')).catch((e) => e);
    expect(err.code).toBe('mlflow.artifacts-disabled');
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ method: 'PUT', url: '/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/a.txt', body: 'x' });
  });

  it('sends Basic or Bearer auth from the environment and never keeps credentials in the URI', async () => {
    reset((_q, _b, res) => json(res, 200, {}));
    const withUser = uri.replace('http://', 'http://ana:s3cret@');
    const s = httpSettings(withUser, {});
    expect(s.uri).toBe(uri);
    await new MlflowClient(s).updateRun('r', 'FINISHED', 5);
    expect(requests[0].auth).toBe('Basic ' + Buffer.from('ana:s3cret').toString('base64'));
    expect(JSON.parse(requests[0].body)).toEqual({ run_id: 'r', status: 'FINISHED', end_time: 5 });
    expect(httpSettings(uri, { MLFLOW_TRACKING_TOKEN: 'tok' }).authorization).toBe('Bearer tok');
    expect(httpSettings(withUser, { MLFLOW_TRACKING_USERNAME: 'bob', MLFLOW_TRACKING_PASSWORD: 'pw' }).authorization).toBe('Basic ' + Buffer.from('bob:pw').toString('base64'));
    expect(httpSettings(withUser, { MLFLOW_TRACKING_USERNAME: '', MLFLOW_TRACKING_PASSWORD: '' }).authorization).toBe('Basic ' + Buffer.from('ana:s3cret').toString('base64'));
    expect(redactUri('https://u:p@host/x/')).toBe('https://host/x');
    expect(() => httpSettings('file:///tmp/mlruns', {})).toThrow(/REST API/);
    expect(() => httpSettings(uri, { MLFLOW_HTTP_REQUEST_TIMEOUT: 'soon' })).toThrow(/MLFLOW_HTTP_REQUEST_TIMEOUT/);
  });

  it('sends NaN and infinities as the strings MLflow expects', async () => {
    reset((_q, _b, res) => json(res, 200, {}));
    await new MlflowClient(settings()).logBatch('r', {
      metrics: [
        { key: 'loss', value: NaN, step: 0, timestamp: 1 },
        { key: 'loss', value: -Infinity, step: 1, timestamp: 2 },
      ],
    });
    expect(JSON.parse(requests[0].body).metrics.map((m: { value: unknown }) => m.value)).toEqual(['NaN', '-Infinity']);
  });
});

describe('log-batch chunking and artifact URLs', () => {
  it('splits to the per-request limits', () => {
    const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: 'm', value: i, step: i, timestamp: 1 }));
    const params = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: 'v' }));
    const tags = Array.from({ length: 120 }, (_, i) => ({ key: `t${i}`, value: 'v' }));
    const chunks = chunkBatch({ metrics, params, tags });
    for (const c of chunks) {
      expect(c.params.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.params);
      expect(c.tags.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.tags);
      expect(c.metrics.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.metrics);
      expect(c.metrics.length + c.params.length + c.tags.length).toBeLessThanOrEqual(LOG_BATCH_LIMITS.total);
    }
    expect(chunks.flatMap((c) => c.metrics).map((m) => m.value)).toEqual(metrics.map((m) => m.value));
    expect(chunks.flatMap((c) => c.params)).toEqual(params);
    expect(chunks.flatMap((c) => c.tags)).toEqual(tags);
    expect(chunkBatch({})).toEqual([]);
  });

  it('maps artifact URIs to upload URLs, and refuses stores a REST client cannot write', () => {
    expect(artifactUrl('http://h:5000', 'mlflow-artifacts:/1/abc/artifacts', 'model/model.json')).toBe(
      'http://h:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/model.json',
    );
    expect(artifactUrl('https://h/prefix', 'mlflow-artifacts://other:81/1/abc/artifacts', 'a b.txt')).toBe(
      'https://other:81/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/a%20b.txt',
    );
    expect(artifactUrl('http://h', 'https://store/x/', 'f')).toBe('https://store/x/f');
    expect(() => artifactUrl('http://h', 's3://bucket/1/abc/artifacts', 'f')).toThrow(/cannot write/);
    expect(() => artifactUrl('http://h', '/var/mlruns/1/abc/artifacts', 'f')).toThrow(FitspecError);
  });
});
