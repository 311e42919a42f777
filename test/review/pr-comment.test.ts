import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../config/helpers.js';

// `npm run review:pr`, the logic of .github/workflows/fitspec-review.yml, on a scratch repository.
// GitHub's REST API is played by a server on 127.0.0.1 that keeps the pull request's comments.
const SCRIPT = path.join(ROOT, 'scripts/review/pr-comment.mjs');
const repo = mkdtempSync(path.join(os.tmpdir(), 'fitspec-pr-'));
const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: repo, encoding: 'utf8', stdio: 'pipe' }).trim();
const write = (rel: string, text: string) => {
  mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
  writeFileSync(path.join(repo, rel), text);
};

interface Comment {
  id: number;
  body: string;
}
const comments: Comment[] = [{ id: 1, body: 'an unrelated comment' }];
const requests: string[] = [];
let api = '';
const server = http.createServer((req, res) => {
  let text = '';
  req.on('data', (d) => (text += d));
  req.on('end', () => {
    requests.push(`${req.method} ${req.url}`);
    const send = (code: number, v: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(v));
    };
    if (req.headers.authorization !== 'Bearer test-token') return send(401, { message: 'Bad credentials' });
    if (req.method === 'GET' && req.url?.startsWith('/repos/o/r/issues/7/comments')) return send(200, comments);
    if (req.method === 'POST' && req.url === '/repos/o/r/issues/7/comments') {
      const c = { id: 100 + comments.length, body: JSON.parse(text).body };
      comments.push(c);
      return send(201, c);
    }
    const m = /^\/repos\/o\/r\/issues\/comments\/(\d+)$/.exec(req.url ?? '');
    const c = m && comments.find((x) => x.id === Number(m[1]));
    if (req.method === 'PATCH' && c) {
      c.body = JSON.parse(text).body;
      return send(200, c);
    }
    send(404, { message: 'Not Found' });
  });
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SCRIPT, ...args], {
      cwd: repo,
      env: {
        ...process.env,
        NO_COLOR: '1',
        MLFLOW_TRACKING_URI: '',
        GITHUB_TOKEN: 'test-token',
        GITHUB_REPOSITORY: 'o/r',
        GITHUB_API_URL: api,
        GITHUB_BASE_REF: 'main',
        GITHUB_EVENT_PATH: path.join(repo, 'event.json'),
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const BASELINE = (lr: string) => `name: 01-baseline
data: {source: {type: directory, path: data/x}, classes: [a, b]}
model:
  layers:
    - conv2d: {filters: 8, kernelSize: 3, activation: relu}
    - flatten: {}
    - dense: {units: 2, activation: softmax}
train:
  epochs: 3
  optimizer: {name: rmsprop, learningRate: ${lr}}
`;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  git('init', '-q', '-b', 'main');
  write('experiments/01-baseline.yaml', BASELINE('0.0001'));
  write('experiments/02-child.yaml', 'extends: 01-baseline.yaml\nname: 02-child\ntrain: {epochs: 5}\n');
  write('experiments/mixins/short.yaml', 'train: {epochs: 1}\n');
  write('experiments/quick/01-baseline.yaml', 'extends: [../01-baseline.yaml, ../mixins/short.yaml]\nname: quick-01-baseline\n');
  write('event.json', JSON.stringify({ pull_request: { number: 7 } }));
  write('.gitignore', 'event.json\nreview.md\nruns/\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'experiments');
  // The workflow compares with origin/<base branch>.
  git('update-ref', 'refs/remotes/origin/main', 'HEAD');
  git('checkout', '-q', '-b', 'faster');
});
afterAll(() => {
  server.close();
  rmSync(repo, { recursive: true, force: true });
});

describe('npm run review:pr', () => {
  it('posts one review comment, then updates it on the next push', async () => {
    write('experiments/01-baseline.yaml', BASELINE('0.001'));
    git('commit', '-q', '-am', 'faster');
    const first = await run(['--out', 'review.md']);
    expect(first.stderr).toMatch(/posted comment 101 on o\/r#7/);
    expect(first.code).toBe(0);
    expect(comments).toHaveLength(2);
    const body = comments[1]!.body;
    expect(body).toBe(readFileSync(path.join(repo, 'review.md'), 'utf8'));
    expect(body).toMatch(/^<!-- fitspec-review -->\n\n### fitspec review: `origin\/main` → `HEAD`\n\n\*\*3 experiments change, 0 have results, 3 stale\.\*\*\n/);
    expect(body).toContain('<details><summary>');
    expect(body.length).toBeLessThan(65_536);

    write('experiments/02-child.yaml', 'extends: 01-baseline.yaml\nname: 02-child\ntrain: {epochs: 6}\n');
    git('commit', '-q', '-am', 'longer child');
    const second = await run([]);
    expect(second.stderr).toMatch(/updated comment 101 on o\/r#7/);
    expect(comments).toHaveLength(2);
    expect(comments[0]!.body).toBe('an unrelated comment');
    expect(comments[1]!.body).toContain('~ | `train.epochs` | `5` | `6` |');
    expect(requests.filter((r) => r.startsWith('POST'))).toHaveLength(1);
    expect(requests.filter((r) => r.startsWith('PATCH'))).toEqual(['PATCH /repos/o/r/issues/comments/101']);
  }, 120_000);

  it('an experiment that does not validate fails the check, and the comment says which', async () => {
    write('experiments/02-child.yaml', 'extends: 01-baseline.yaml\nname: 02-child\ntrain: {epochs: 6, batchsize: 3}\n');
    git('commit', '-q', '-am', 'typo');
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(comments).toHaveLength(2);
    expect(comments[1]!.body).toContain('Some experiments do not validate at `HEAD`.');
    expect(comments[1]!.body).toMatch(/experiments\/02-child\.yaml:3:\d+: error \[schema\.unknown-key\]/);
  }, 120_000);
});
