import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockRun } from '../../src/track/lock.js';
import { cutTornTail, readMetrics } from '../../src/track/runs.js';
import { syncRun } from '../../src/track/sync.js';
import { BIN, ROOT, cli, tmpDir } from '../train/helpers.js';

/** Commands used carelessly: a closed pipe, paths outside the repository, broken run files, secrets in URLs. */

function piped(command: string, cwd: string): { code: number; stderr: string; stdout: string } {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', `${command} | head -c10 >/dev/null`], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stderr: r.stderr, stdout: r.stdout };
}

describe('a closed stdout ends the command quietly', () => {
  it.each([
    ['fitspec schema', `node ${BIN} schema`],
    ['fitspec sweep --dry-run', `node ${BIN} sweep experiments/sweeps/notebook-comparison.yaml --dry-run`],
  ])('%s | head -c10: exit 0, no stack', (_, command) => {
    const r = piped(command, ROOT);
    expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('credentials in URLs are never printed', () => {
  it('fitspec resolve leaves the password out of tracking.uri and the description', () => {
    const dir = tmpDir('resolve-secret');
    const file = path.join(dir, 'x.yaml');
    fs.writeFileSync(
      file,
      `name: x
description: data from https://reader:SEKRIT4711@data.example.com/faces
data: {source: {type: directory, path: data}}
model: {layers: [{flatten: {}}, {dense: {units: 3, activation: softmax}}]}
tracking: {uri: 'http://user:SEKRIT4711@127.0.0.1:5000'}
`,
    );
    for (const args of [
      ['resolve', file],
      ['resolve', file, '--explain'],
      ['resolve', file, '--set', 'tracking.uri=http://u:SEKRIT4711@h:1'],
    ]) {
      const r = cli(args, dir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toContain('SEKRIT4711');
      expect(r.stdout).toMatch(/http:\/\/(127\.0\.0\.1:5000|h:1)/);
    }
  });
});

describe('paths outside the repository or revision', () => {
  const repo = tmpDir('git');
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo, stdio: 'pipe' });
  const text = 'name: g\ndata: {source: {type: directory, path: data}}\nmodel: {layers: [{flatten: {}}, {dense: {units: 3, activation: softmax}}]}\n';
  git('init', '-q');
  fs.writeFileSync(path.join(repo, 'a.yaml'), text);
  git('add', '.');
  git('commit', '-qm', 'one');
  fs.writeFileSync(path.join(repo, 'b.yaml'), text);
  const outside = path.join(tmpDir('outside'), 'c.yaml');
  fs.writeFileSync(outside, text);

  it('diff --git of a file outside the repository: exit 2, not "No differences"', () => {
    const r = cli(['diff', outside, '--git', 'HEAD'], repo);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stderr).toContain(`[git.outside] ${outside} is outside the git repository`);
  });

  it('diff --git of a file only in the working tree says so', () => {
    const r = cli(['diff', 'b.yaml', '--git', 'HEAD'], repo);
    expect(r.code, r.stdout).toBe(2);
    expect(r.stderr).toContain('[git.not-in-revision] b.yaml is not in `HEAD`: it exists only in the working tree');
  });

  it('review --path outside the repository: one sentence, exit 2', () => {
    const r = cli(['review', 'HEAD', '--path', path.dirname(outside)], repo);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('[git.outside]');
    expect(r.stderr).not.toMatch(/internal error/);
  });
});

function runFolder(status: string): string {
  const dir = path.join(tmpDir('runfolder'), '20260101-000000-abcd');
  fs.mkdirSync(dir);
  fs.writeFileSync(
    path.join(dir, 'run.json'),
    JSON.stringify({ format: 1, runId: path.basename(dir), experimentName: 'e', runName: 'r', status, startTime: 1, params: {}, tags: {}, artifacts: [] }),
  );
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '{"key":"loss","value":1,"step":0,"timestamp":1}\n{"key":"loss","value":0.5,"step":1,"timestamp":2}\n{"key":"lo');
  return dir;
}

describe('run files', () => {
  it("fetch's blocked ports are named, not reported as a timeout", async () => {
    const dir = runFolder('KILLED');
    const r = cli(['sync', dir, '--uri', 'http://127.0.0.1:5061'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('port 5061 is one that fetch refuses to connect to');
    expect(r.stderr).not.toMatch(/did not answer|timeout/i);
  });

  it('a run.lock that is a folder: one sentence naming it', () => {
    const dir = runFolder('KILLED');
    fs.mkdirSync(path.join(dir, 'run.lock'));
    const r = cli(['sync', dir, '--uri', 'http://127.0.0.1:1'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`[run.lock-invalid] ${path.join(dir, 'run.lock')} is a folder, not a lock file written by fitspec`);
  });

  it('a stale lock whose pid now belongs to another process is taken over', async () => {
    const dir = runFolder('KILLED');
    const other = spawn('sleep', ['30']);
    try {
      fs.writeFileSync(
        path.join(dir, 'run.lock'),
        JSON.stringify({
          pid: other.pid,
          host: (await import('node:os')).hostname(),
          started: new Date(Date.now() - 3600_000).toISOString(),
          command: 'fitspec train',
          token: 'x',
        }) + '\n',
      );
      const lock = lockRun(dir, 'test');
      expect(JSON.parse(fs.readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
      lock.release();
    } finally {
      other.kill();
    }
  });

  it('sync cuts a torn metrics tail and uploads a dead RUNNING run as KILLED', async () => {
    const dir = runFolder('RUNNING');
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    await expect(syncRun(dir, { uri: `http://127.0.0.1:${port}`, env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' } })).rejects.toThrow(/unreachable/);
    const record = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
    expect(record.status).toBe('KILLED');
    expect(record.error).toMatch(/ended without recording how/);
    expect(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').endsWith('"timestamp":2}\n')).toBe(true);
    expect(readMetrics(dir).map((p) => p.value)).toEqual([1, 0.5]);
  });

  it('a record glued to a torn line by an earlier version is recovered', () => {
    const dir = runFolder('KILLED');
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), '{"key":"loss","value":0.25,"step":2,"timestamp":3}\n');
    expect(readMetrics(dir).map((p) => p.value)).toEqual([1, 0.5, 0.25]);
    expect(cutTornTail(dir)).toBe(0);
  });
});

describe('a truncated JPEG', () => {
  it("is reported by fitspec once; libjpeg's own lines do not reach the terminal", () => {
    const dir = tmpDir('jpeg');
    const data = path.join(dir, 'faces');
    expect(cli(['data', 'synth', '--out', data, '--per-class', '12', '--layout', 'directory', '--seed', '5'], ROOT).code).toBe(0);
    const file = path.join(data, 'old', fs.readdirSync(path.join(data, 'old')).sort()[0]!);
    fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 600));
    fs.writeFileSync(
      path.join(dir, 'x.yaml'),
      `name: j
data:
  source: {type: directory, path: faces}
  image: {height: 32, width: 32}
  split: {train: 8, validation: 3}
  onError: skip
model: {layers: [{flatten: {}}, {dense: {units: 3, activation: softmax}}]}
train: {epochs: 1, batchSize: 8}
tracking: {runsDir: runs}
`,
    );
    const r = cli(['train', 'x.yaml', '--no-progress'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain(`data: skipped ${file}`);
    expect(r.stderr).not.toMatch(/jpeg_mem|Premature end of JPEG data/);
  }, 120_000);
});
