// `npm run mlflow [-- --port 5000 --dir .mlflow]`: the pinned MLflow server on 127.0.0.1 with a SQLite
// store and artifact serving, in the foreground until Ctrl-C.
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { ROOT, startMlflowServer } from './venv.mjs';

const { values } = parseArgs({ options: { port: { type: 'string', default: '5000' }, dir: { type: 'string', default: join(ROOT, '.mlflow') } } });
const port = Number(values.port);
let server;
try {
  server = await startMlflowServer({ dir: values.dir, port, stdio: 'file' });
} catch (e) {
  process.stderr.write(`${e.message}\n`);
  process.exit(1);
}
process.stdout.write(
  [
    `MLflow ${server.uri}  (data in ${values.dir}, log ${server.logFile})`,
    `  open ${server.uri} in a browser; track runs with:`,
    `  MLFLOW_TRACKING_URI=${server.uri} npm run demo`,
    '  Ctrl-C stops the server',
    '',
  ].join('\n'),
);
const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setInterval(() => {}, 1 << 30);
