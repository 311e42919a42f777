import { describe, expect, it } from 'vitest';
import { loadExperimentText } from '../../src/config/index.js';
import { fixture, problemsOf } from './helpers.js';

interface Case {
  description: string;
  yaml: string;
  set?: string[];
  /** Expected problems, in order: code, line, col (line/col omitted when the problem has no position). */
  errors: { code: string; line?: number; col?: number; hint?: RegExp; message?: RegExp }[];
}

const cases: Case[] = [
  {
    description: 'a reshape target that cannot hold its input, at the target',
    yaml: `name: t
data:
  source: {type: directory, path: data/x}
  image: {height: 16, width: 16}
model:
  layers:
    - conv2d: {filters: 4, kernelSize: 3}
    - reshape: {targetShape: [5, -1]}
    - flatten: {}
    - dense: {units: 3, activation: softmax}
`,
    errors: [{ code: 'check.reshape-size', line: 8, col: 30, message: /\(batch, 14, 14, 4\) \(784 values per example\)/ }],
  },
  {
    description: 'typo keys at several depths, with suggestions',
    yaml: `name: t
seeed: 1
data:
  source: {type: directory, path: data/x}
  image: {hieght: 64}
model:
  layers:
    - conv2d: {filters: 8, kernelSize: 3, activaton: relu}
    - flatten: {}
    - dense: {units: 3, activation: softmax}
`,
    errors: [
      { code: 'schema.unknown-key', line: 2, col: 1, hint: /did you mean `seed`/ },
      { code: 'schema.unknown-key', line: 5, col: 11, hint: /did you mean `height`/ },
      { code: 'schema.unknown-key', line: 8, col: 43, hint: /did you mean `activation`/ },
    ],
  },
  {
    description: 'unknown layer kind: one clear error, not a wall of alternatives',
    yaml: `name: t
data: {source: {type: directory, path: data/x}}
model:
  layers:
    - conv2: {filters: 8, kernelSize: 3}
    - flatten: {}
    - dense: {units: 3, activation: softmax}
`,
    errors: [{ code: 'schema.unknown-layer', line: 5, col: 7, message: /unknown layer kind `conv2`/, hint: /did you mean `conv2d`/ }],
  },
  {
    description: 'a known layer kind reports its own argument errors',
    yaml: `name: t
data: {source: {type: directory, path: data/x}}
model:
  layers:
    - conv2d: {filters: 0, kernelSize: [3, 3, 3], padding: full}
    - flatten: {}
    - dropout: {rate: 1.5}
    - dense: {units: 3, activation: softmax}
`,
    errors: [
      { code: 'schema.range', line: 5, col: 25, message: /an integer >= 1, got 0/ },
      { code: 'schema.items', line: 5, col: 40 },
      { code: 'schema.enum', line: 5, col: 60, message: /one of valid, same; got "full"/ },
      { code: 'schema.range', line: 7, col: 23, message: /`model\.layers\.2\.dropout\.rate` must be a number >= 0 and < 1, got 1\.5/ },
    ],
  },
  {
    description: 'Keras snake_case arguments get the tfjs name',
    yaml: `name: t
data: {source: {type: directory, path: data/x}}
model:
  layers:
    - conv2d: {filters: 8, kernel_size: 3}
    - maxPooling2d: {pool_size: 2}
    - flatten: {}
    - dense: {units: 3, activation: softmax}
train:
  optimizer: {name: rmsprop, learning_rate: 0.001}
  loss: categorical_crossentropy
  metrics: [acc]
`,
    errors: [
      { code: 'schema.required', line: 5, col: 7, message: /missing the required key `kernelSize`/ },
      { code: 'schema.unknown-key', line: 5, col: 28, hint: /tfjs name `kernelSize`/ },
      { code: 'schema.unknown-key', line: 6, col: 22, hint: /tfjs name `poolSize`/ },
      { code: 'schema.unknown-key', line: 10, col: 30, hint: /tfjs name `learningRate`/ },
      { code: 'schema.enum', line: 11, col: 9, hint: /tfjs name `categoricalCrossentropy`/ },
      { code: 'schema.enum', line: 12, col: 13, hint: /tfjs name `accuracy`/ },
    ],
  },
  {
    description: 'wrong types and unknown optimizer / enum values',
    yaml: `name: t
seed: forty-two
data:
  source: {type: folder, path: data/x}
model:
  layers:
    - flatten: {}
    - dense: {units: "3", activation: softmax}
train:
  optimizer: {name: adamw}
  shuffle: maybe
`,
    errors: [
      { code: 'schema.type', line: 2, col: 7, message: /must be an integer >= 0, got the string "forty-two"/ },
      { code: 'schema.enum', line: 4, col: 18, message: /one of directory, csv/ },
      { code: 'schema.type', line: 8, col: 22, message: /got the string "3"/ },
      { code: 'schema.enum', line: 10, col: 21, hint: /did you mean `adam`/ },
      { code: 'schema.type', line: 11, col: 12, message: /true or false/ },
    ],
  },
  {
    description: 'a layer item with two kinds',
    yaml: `name: t
data: {source: {type: directory, path: data/x}}
model:
  layers:
    - flatten: {}
      dense: {units: 3}
`,
    errors: [{ code: 'schema.single-key', line: 5, col: 7, message: /exactly one layer kind/ }],
  },
  {
    description: 'missing name and model',
    yaml: `description: no name
data: {source: {type: directory, path: data/x}}
`,
    errors: [
      { code: 'schema.required', line: 1, col: 1, message: /`name`/ },
      { code: 'schema.required', line: 1, col: 1, message: /`model`/ },
    ],
  },
  {
    description: 'a layer written as a bare word or without its mapping',
    yaml: `name: t
data: {source: {type: directory, path: data/x}}
model:
  layers:
    - conv2d
    - flatten:
    - dense: {units: 3}
`,
    errors: [
      { code: 'schema.type', line: 5, col: 7, message: /`model\.layers\.0` must be a mapping, got the string "conv2d"/ },
      { code: 'schema.type', line: 6, col: 7, hint: /write `flatten: \{\}` for no arguments/ },
    ],
  },
  { description: 'duplicate keys', yaml: `name: t\nseed: 1\nseed: 2\n`, errors: [{ code: 'yaml.duplicate-key', line: 3, col: 1 }] },
  { description: 'tab indentation', yaml: `name: t\ndata:\n\tseed: 1\n`, errors: [{ code: 'yaml.tab', line: 3, col: 1 }] },
  {
    description: 'invalid YAML',
    yaml: `name: t\nmodel: {layers: [\n`,
    errors: [
      { code: 'yaml.syntax', line: 3, col: 1 },
      { code: 'yaml.syntax', line: 3, col: 1 },
    ],
  },
  { description: 'an empty file', yaml: ``, errors: [{ code: 'config.empty', line: 1, col: 1 }] },
  { description: 'a file with only comments', yaml: `# nothing here\n`, errors: [{ code: 'config.empty', line: 1, col: 1 }] },
  { description: 'a file that is a list', yaml: `- name: t\n- seed: 1\n`, errors: [{ code: 'config.not-a-mapping', line: 1, col: 1, message: /got a list/ }] },
  { description: 'a file that is a scalar', yaml: `hello\n`, errors: [{ code: 'config.not-a-mapping', line: 1, col: 1 }] },
  {
    description: 'an alias bomb',
    yaml: `a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]
`,
    errors: [{ code: 'yaml.alias-bomb', line: 2, col: 8 }],
  },
  { description: 'a newer schema version', yaml: `schemaVersion: 7\n${'name: t\n'}`, errors: [{ code: 'config.version-newer', line: 1, col: 16 }] },
  { description: 'a bad schema version', yaml: `schemaVersion: one\nname: t\n`, errors: [{ code: 'config.version', line: 1, col: 16 }] },
  { description: 'extends to a missing file', yaml: `extends: nowhere.yaml\nname: t\n`, errors: [{ code: 'extends.missing', line: 1, col: 10, message: /nowhere\.yaml/ }] },
  { description: 'extends with a wrong type', yaml: `extends: [base.yaml, 3]\nname: t\n`, errors: [{ code: 'extends.type', line: 1, col: 22 }] },
  {
    description: 'patch target that does not exist, with a suggestion',
    yaml: `extends: base.yaml
name: t
model:
  layers:
    $patch:
      - update: conv2d_7
        with: {filters: 4}
      - remove: maxpooling2d
      - insertAfter: 99
        with: {dropout: {rate: 0.1}}
`,
    errors: [
      { code: 'extends.patch-target', line: 6, col: 17 },
      { code: 'extends.patch-target', line: 8, col: 17, hint: /did you mean `max_pooling2d`/ },
      { code: 'extends.patch-target', line: 9, col: 22 },
    ],
  },
  {
    description: 'malformed patch edits',
    yaml: `extends: base.yaml
name: t
model:
  layers:
    $patch:
      - insertAfter: flatten
      - remove: flatten
        with: {}
      - delete: flatten
`,
    errors: [
      { code: 'extends.patch-syntax', line: 6, col: 9, message: /needs `with`/ },
      { code: 'extends.patch-syntax', line: 7, col: 9, message: /takes no `with`/ },
      { code: 'extends.patch-syntax', line: 9, col: 9, message: /unknown patch key `delete`; an edit is one of update, replace, insertBefore, insertAfter, remove/ },
    ],
  },
  {
    description: 'a patch with nothing inherited',
    yaml: `name: t
data: {source: {type: directory, path: data/x}}
model:
  layers:
    $patch:
      - remove: 0
`,
    errors: [{ code: 'extends.patch-without-base', line: 5, col: 5 }],
  },
  {
    description: 'null with nothing to delete is a type error',
    yaml: `name: t
seed: null
data: {source: {type: directory, path: data/x}}
model: {layers: [{flatten: {}}, {dense: {units: 3}}]}
`,
    errors: [{ code: 'schema.type', line: 2, col: 7, message: /got null/ }],
  },
  {
    description: 'cross-field errors are placed at the value they concern',
    yaml: `name: t
data:
  source: {type: csv, images: data/x}
  classes: [a, b, c]
  image: {height: 32, width: 32}
  split: {train: 10, validation: 0}
model:
  layers:
    - conv2d: {filters: 4, kernelSize: 3}
    - dense: {units: 8}
    - flatten: {}
    - dense: {units: 4, activation: softmax}
train:
  batchSize: 64
  optimizer: {name: adam, momentum: 0.9}
  callbacks:
    - earlyStopping: {monitor: val_loss}
`,
    errors: [
      { code: 'check.source-fields', line: 3, col: 11, message: /needs `labels`/ },
      { code: 'check.dense-input-rank', line: 10, col: 7, message: /4-D tensor \(batch, 30, 30, 4\)/ },
      { code: 'check.softmax-units', line: 12, col: 22, message: /4 softmax units but `data.classes` lists 3 classes/ },
      { code: 'check.batch-size', line: 14, col: 14 },
      { code: 'check.optimizer-args', line: 15, col: 27, message: /`momentum` does not apply to the `adam` optimizer/ },
      { code: 'check.val-monitor', line: 17, col: 32, message: /monitor `loss` or add a validation split/ },
    ],
  },
  {
    description: 'images too small for the stack',
    yaml: `name: t
data: {source: {type: directory, path: data/x}, image: {height: 8, width: 8}}
model:
  layers:
    - conv2d: {filters: 4, kernelSize: 5}
    - maxPooling2d: {poolSize: 2}
    - conv2d: {filters: 4, kernelSize: 3}
    - flatten: {}
    - dense: {units: 3, activation: softmax}
`,
    errors: [{ code: 'check.spatial-size', line: 7, col: 7 }],
  },
  {
    description: 'duplicate layer names',
    yaml: `name: t
data: {source: {type: directory, path: data/x}}
model:
  layers:
    - flatten: {}
    - dense: {units: 8, name: dense_1}
    - dense: {units: 3, activation: softmax}
    - dense: {units: 3, activation: softmax}
`,
    errors: [{ code: 'check.layer-name', line: 8, col: 7, message: /named `dense_1`, like layer 1/ }],
  },
  {
    description: '--set on a path that does not exist names the nearest valid path',
    yaml: `name: t
data: {source: {type: directory, path: data/x}}
model: {layers: [{flatten: {}}, {dense: {units: 3}}]}
`,
    set: ['train.optimizer.learningrate=0.1', 'model.layers.5.dense.units=2', 'model.layers.0.conv2d.filters=4', 'train.epochs', 'extends=base.yaml'],
    errors: [
      { code: 'set.path', message: /nearest valid path is `train\.optimizer\.learningRate`/ },
      { code: 'set.path', message: /list of 2 items/ },
      { code: 'set.path', message: /is a `flatten` item, not `conv2d`/ },
      { code: 'set.syntax' },
      { code: 'set.path', message: /`extends` belongs in the file/ },
    ],
  },
  {
    description: '--set values are validated like the file',
    yaml: `name: t
data: {source: {type: directory, path: data/x}}
model: {layers: [{flatten: {}}, {dense: {units: 3}}]}
`,
    set: ['train.epochs=zero'],
    errors: [{ code: 'schema.type', message: /`train\.epochs` must be an integer >= 1/ }],
  },
];

describe('invalid configs: every problem, with code and position', () => {
  for (const c of cases) {
    it(c.description, () => {
      const file = fixture('inline.yaml');
      const problems = problemsOf(() => loadExperimentText(c.yaml, file, { set: c.set }));
      expect(problems.map((p) => ({ code: p.code, line: p.line, col: p.col }))).toEqual(c.errors.map((e) => ({ code: e.code, line: e.line, col: e.col })));
      c.errors.forEach((e, i) => {
        const p = problems[i];
        if (e.line !== undefined) {
          expect(p.file).toBe(file);
          expect(p.excerpt).toMatch(new RegExp(`^${e.line} \\| `));
          expect(p.excerpt!.split('\n')[1].indexOf('^')).toBe(p.excerpt!.split('\n')[0].indexOf('| ') + 2 + e.col! - 1);
        }
        if (e.hint) expect(p.hint).toMatch(e.hint);
        if (e.message) expect(p.message).toMatch(e.message);
        expect(p.message.length).toBeGreaterThan(10);
      });
    });
  }
});

describe('valid overrides', () => {
  const base = `name: t
data: {source: {type: directory, path: data/x}}
model: {layers: [{conv2d: {filters: 4, kernelSize: 3}}, {flatten: {}}, {dense: {units: 3}}]}
augment: {rotation: 10}
`;
  const cases: { set: string[]; check: (e: import('../../src/config/index.js').Experiment) => void }[] = [
    { set: ['model.layers.0.conv2d.filters=16'], check: (e) => expect((e.model.layers[0] as { conv2d: { filters: number } }).conv2d.filters).toBe(16) },
    { set: ['model.layers.-1.dense.units=5'], check: (e) => expect((e.model.layers[2] as { dense: { units: number } }).dense.units).toBe(5) },
    { set: ['model.layers.0.conv2d.kernelSize=[5, 3]'], check: (e) => expect((e.model.layers[0] as { conv2d: { kernelSize: unknown } }).conv2d.kernelSize).toEqual([5, 3]) },
    { set: ['train.optimizer.learningRate=1e-5', 'train.optimizer.name=adam'], check: (e) => expect(e.train.optimizer).toMatchObject({ name: 'adam', learningRate: 1e-5 }) },
    { set: ['augment=null'], check: (e) => expect(e.augment).toBeUndefined() },
    { set: ['tracking.tags.team=vision'], check: (e) => expect(e.tracking.tags).toEqual({ team: 'vision' }) },
    { set: ['data.classes=[a, b, c]', 'model.layers.2.dense={units: 3, activation: softmax}'], check: (e) => expect(e.data.classes).toEqual(['a', 'b', 'c']) },
  ];
  for (const c of cases) {
    it(c.set.join(' '), () => {
      const l = loadExperimentText(base, fixture('inline.yaml'), { set: c.set });
      expect(l.overrides).toEqual(c.set);
      c.check(l.experiment);
    });
  }
});
