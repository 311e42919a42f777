#!/usr/bin/env node
// The pull-request check of .github/workflows/fitspec-review.yml: validates every experiment, writes
// `fitspec review BASE HEAD --format markdown` with the validation result, and posts it as one comment
// on the pull request, updating that comment on later pushes instead of adding new ones.
//
//   node scripts/review/pr-comment.mjs [--base REV] [--head REV] [--pr N] [--out FILE] [-- review options]
//
// BASE defaults to origin/$GITHUB_BASE_REF; the pull request number to the event's. Without
// GITHUB_TOKEN and GITHUB_REPOSITORY nothing is posted: the comment is only written (--out) and printed.
// Exit 0: the experiments validate and resolve; 2: one does not.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const MARKER = '<!-- fitspec-review -->';
const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'fitspec.js');
/** GitHub's limit on a comment body. */
const MAX_BODY = 65_536;

const { values, positionals } = parseArgs({
  options: {
    base: { type: 'string' },
    head: { type: 'string', default: 'HEAD' },
    pr: { type: 'string' },
    out: { type: 'string' },
    experiments: { type: 'string', default: 'experiments' },
  },
  allowPositionals: true,
});

function fitspec(args) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** Experiment files: every YAML file except layer stacks (architectures/) and partials (mixins/). */
function experimentFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'architectures' && name !== 'mixins' && !name.startsWith('.')) out.push(...experimentFiles(p));
    } else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

function pullRequestNumber() {
  if (values.pr) return values.pr;
  if (!process.env.GITHUB_EVENT_PATH) return undefined;
  const event = JSON.parse(readFileSync(process.env.GITHUB_EVENT_PATH, 'utf8'));
  return event.pull_request?.number !== undefined ? String(event.pull_request.number) : undefined;
}

async function github(method, url, body) {
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${process.env.GITHUB_TOKEN}`,
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`GitHub ${method} ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Updates the comment that carries the marker, or adds it: one review comment per pull request. */
async function postOrUpdate(body, pr) {
  const api = (process.env.GITHUB_API_URL || 'https://api.github.com').replace(/\/+$/, '');
  const repo = process.env.GITHUB_REPOSITORY;
  let existing;
  for (let page = 1; !existing; page++) {
    const comments = await github('GET', `${api}/repos/${repo}/issues/${pr}/comments?per_page=100&page=${page}`);
    existing = comments.find((c) => typeof c.body === 'string' && c.body.includes(MARKER));
    if (comments.length < 100) break;
  }
  if (existing) {
    await github('PATCH', `${api}/repos/${repo}/issues/comments/${existing.id}`, { body });
    return `updated comment ${existing.id}`;
  }
  const created = await github('POST', `${api}/repos/${repo}/issues/${pr}/comments`, { body });
  return `posted comment ${created.id}`;
}

const base = values.base ?? (process.env.GITHUB_BASE_REF ? `origin/${process.env.GITHUB_BASE_REF}` : undefined);
if (!base) {
  process.stderr.write('no base revision: give --base REV, or run in a pull-request workflow (GITHUB_BASE_REF)\n');
  process.exit(2);
}

const files = experimentFiles(values.experiments);
const validation = files.length ? fitspec(['validate', ...files]) : { code: 0, stdout: '', stderr: '' };
const review = fitspec(['review', base, values.head, '--path', values.experiments, '--format', 'markdown', ...positionals]);
if (review.code > 2 || (review.code === 2 && !review.stdout)) {
  process.stderr.write(review.stderr);
  process.exit(2);
}
const parts = [MARKER, review.stdout.trimEnd()];
if (validation.code !== 0) {
  const problems = (validation.stderr + validation.stdout)
    .split('\n')
    .filter((l) => l && !l.startsWith('ok  '))
    .join('\n');
  parts.splice(
    1,
    0,
    `> [!CAUTION]\n> Some experiments do not validate at \`${values.head}\`.\n\n<details><summary>fitspec validate</summary>\n\n\`\`\`\n${problems.slice(0, 20_000)}\n\`\`\`\n\n</details>\n`,
  );
}
let body = parts.join('\n\n') + '\n';
if (body.length > MAX_BODY) body = body.slice(0, MAX_BODY - 120) + "\n\n_…cut at GitHub's comment size; run `fitspec review` for the rest._\n";
if (values.out) writeFileSync(values.out, body);
process.stdout.write(body);

const pr = pullRequestNumber();
if (process.env.GITHUB_TOKEN && process.env.GITHUB_REPOSITORY && pr) process.stderr.write(`${await postOrUpdate(body, pr)} on ${process.env.GITHUB_REPOSITORY}#${pr}\n`);
else process.stderr.write('not posted: GITHUB_TOKEN, GITHUB_REPOSITORY and a pull request number are needed\n');
process.exit(validation.code !== 0 || review.code === 2 ? 2 : 0);
