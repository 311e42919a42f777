import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { Static } from '@sinclair/typebox';
import { stringify } from 'csv-stringify/sync';
import type { callbackSchemas } from '../../config/schema/callbacks.js';
import { fail } from '../../errors.js';
import type { Callback, CallbackKindDef, CallbackState, Logs, TrainingHandle } from './types.js';

type Args = Static<(typeof callbackSchemas)['csvLogger']>;

/**
 * Keras `CSVLogger`: `epoch` then the metric names in sorted order (fixed at the first epoch), `NA`
 * for a value missing later; with `append`, the header is written only to an empty or new file.
 * Unlike Keras, `epoch` counts from 1, like every epoch number fitspec prints or writes.
 */
export class CsvLogger implements Callback {
  readonly kind = 'csvLogger';
  private file = '';
  private keys: string[] | undefined;
  private writeHeader = true;
  private resumed = false;

  constructor(readonly args: Args) {}

  getState(): CallbackState {
    return { keys: this.keys };
  }

  /** A resumed run keeps what the file already has, whatever `append` says, and the same columns. */
  setState(s: CallbackState): void {
    this.keys = Array.isArray(s.keys) ? s.keys.map(String) : undefined;
    this.resumed = true;
  }

  onTrainBegin(h: TrainingHandle): void {
    const file = resolve(h.runDir, this.args.filename);
    const rel = relative(resolve(h.runDir), file);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      fail('callbacks.csv-outside-run', `csvLogger.filename must name a file inside the run folder, received \`${this.args.filename}\``, {
        path: 'csvLogger.filename',
        expected: 'a relative path such as log.csv',
        received: this.args.filename,
      });
    }
    this.file = file;
    if (!this.resumed) this.keys = undefined;
    mkdirSync(dirname(file), { recursive: true });
    if ((this.args.append || this.resumed) && existsSync(file)) {
      this.writeHeader = readFileSync(file, 'utf8').split('\n', 1)[0]!.length === 0;
    } else {
      writeFileSync(file, '');
      this.writeHeader = true;
    }
    this.resumed = false;
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    // The trainer's epoch rows carry `epoch` themselves; it is the first column already.
    this.keys ??= Object.keys(logs)
      .filter((k) => k !== 'epoch')
      .sort();
    const rows: (string | number)[][] = [];
    if (this.writeHeader) {
      rows.push(['epoch', ...this.keys]);
      this.writeHeader = false;
    }
    rows.push([epoch + 1, ...this.keys.map((k) => (logs[k] === undefined ? 'NA' : logs[k]!))]);
    // One append per epoch so the file is complete up to the last finished epoch if training dies.
    appendFileSync(this.file, stringify(rows));
  }
}

export const csvLogger: CallbackKindDef<Args> = { kind: 'csvLogger', create: (args) => new CsvLogger(args) };
