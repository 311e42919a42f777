import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/mlflow/venv.mjs';

/**
 * A real redis-server for tests: Debian's package, installed with apt-get when missing (CI runs as
 * root on a fresh machine), started on a free loopback port with its own data folder and the
 * persistence the README recommends (append-only file, fsync every second, no RDB snapshots so a
 * restart that keeps the queue proves the AOF does it).
 */
export interface TestRedis {
  /** redis://:PASSWORD@127.0.0.1:PORT */
  url: string;
  password: string;
  port: number;
  dir: string;
  /** SIGKILL (no clean shutdown) and start again on the same port and data folder. */
  crashAndRestart(): Promise<void>;
  stop(): Promise<void>;
}

function redisBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error("redis-server is not installed and this is not root: install Debian's redis-server package (apt-get install -y redis-server)");
  process.stderr.write('[redis] installing redis-server (apt-get)\n');
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'redis-server']]) {
    const r = spawnSync('apt-get', args, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: 600_000 });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed: ${r.stderr.slice(-2000)}`);
  }
  const bin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
  if (!bin) throw new Error('apt-get installed redis-server but it is not on PATH');
  return bin;
}

function waitPort(port: number, child: ChildProcess, log: () => string, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`redis-server exited with ${child.exitCode}:\n${log()}`));
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() - t0 > timeoutMs) reject(new Error(`redis-server is not listening on ${port} after ${timeoutMs} ms:\n${log()}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export async function startRedis(): Promise<TestRedis> {
  const bin = redisBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fitspec-redis-'));
  const port = await freePort();
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const logFile = path.join(dir, 'redis.log');
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'everysec',
    '--save',
    '',
    '--requirepass',
    password,
    '--logfile',
    logFile,
    '--daemonize',
    'no',
  ];
  let child: ChildProcess;
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-3000) : '');
  const start = async () => {
    child = spawn(bin, args, { stdio: 'ignore' });
    await waitPort(port, child, log);
  };
  const kill = (sig: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(sig);
    });
  await start();
  return {
    url: `redis://:${password}@127.0.0.1:${port}`,
    password,
    port,
    dir,
    async crashAndRestart() {
      await kill('SIGKILL');
      await start();
    },
    async stop() {
      await kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
