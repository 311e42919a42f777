import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/**
 * TensorFlow's C++ library writes start-up lines to file descriptor 2 while it loads:
 *   WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
 *   I0000 00:00:... port.cc:153] oneDNN custom operations are on. ...
 *   I0000 00:00:... cpu_feature_guard.cc:227] This TensorFlow binary is optimized ...
 * TF_CPP_MIN_LOG_LEVEL=2 hides the last kind but not the first two, which are logged before the
 * level is read (only TF_ENABLE_ONEDNN_OPTS=0 removes them, and that changes the numerics). Node
 * cannot redirect its own descriptor 2, so commands that load TensorFlow run in a child process
 * whose stderr goes through this filter.
 */
const NOISE = [
  /^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/,
  /^I\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.-]+:\d+\] /,
  /^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.$/,
  // libjpeg's complaint about a truncated or corrupt JPEG, logged by TensorFlow's decoder at error level:
  // fitspec reports such a file itself (skipped or stopped, with the file name).
  /^[EW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ jpeg_mem\.cc:\d+\] /,
];
/** How noise lines start: a partial line that may still become one is held until its end arrives. */
const NOISE_HEADS = ['WARNING: All log messages before absl::InitializeLog()', 'To enable the following instructions: '];
const mayBecomeNoise = (partial: string) => NOISE_HEADS.some((h) => h.startsWith(partial) || partial.startsWith(h)) || /^[IEW](\d{0,4}$|\d{4} )/.test(partial);

export function isTensorFlowNoise(line: string): boolean {
  return NOISE.some((re) => re.test(line));
}

/** Copies `text` chunks to `write`, leaving out TensorFlow's start-up lines. */
export function noiseFilter(write: (s: string) => void): { push(chunk: string): void; end(): void } {
  let rest = '';
  return {
    push(chunk) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      const kept = lines.filter((l) => !isTensorFlowNoise(l.replace(/\r$/, '')));
      let out = kept.map((l) => l + '\n').join('');
      if (rest && !mayBecomeNoise(rest)) {
        out += rest;
        rest = '';
      }
      if (out) write(out);
    },
    end() {
      if (rest && !isTensorFlowNoise(rest)) write(rest);
      rest = '';
    },
  };
}

const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const CHILD_MARK = 'FITSPEC_STDERR_FILTERED';

/**
 * Runs this CLI invocation again in a child with TF_CPP_MIN_LOG_LEVEL=2 and a filtered stderr, when
 * the command loads TensorFlow and the user asked for neither `--verbose` nor a log level of their
 * own. Returns undefined when the command should run in this process.
 */
export function runQuiet(argv: string[], loadsTensorFlow: (command: string) => boolean): Promise<number> | undefined {
  const command = argv.find((a) => !a.startsWith('-'));
  // A forked process (sweep workers) talks to its parent over IPC, which must stay this process.
  if (!command || !loadsTensorFlow(command) || argv.includes('--verbose') || process.env.TF_CPP_MIN_LOG_LEVEL !== undefined || process.send) return undefined;
  return new Promise((resolve) => {
    // The child gets its own process group, so a Ctrl-C reaches it once, through this process.
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
      stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
      env: {
        ...process.env,
        TF_CPP_MIN_LOG_LEVEL: '2',
        [CHILD_MARK]: '1',
        ...(process.stdout.isTTY && !process.env.NO_COLOR ? { FORCE_COLOR: process.env.FORCE_COLOR ?? '1' } : {}),
      },
      // On Windows a detached child would open a console window of its own.
      detached: process.platform !== 'win32',
    });
    const filter = noiseFilter((s) => process.stderr.write(s));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => filter.push(s));
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    for (const s of FORWARDED) process.on(s, forward);
    child.on('close', (code, signal) => {
      filter.end();
      for (const s of FORWARDED) process.off(s, forward);
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 1));
    });
  });
}

/** In the child: if the parent dies (SIGKILL), stop too rather than train on unsupervised. */
export function watchFilteringParent(): void {
  if (!process.env[CHILD_MARK] || !process.channel) return;
  delete process.env[CHILD_MARK];
  process.channel.unref();
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}
