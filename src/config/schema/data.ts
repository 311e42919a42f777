import { Type } from '@sinclair/typebox';
import { Enum, strict } from './common.js';

const Part = (description: string, def?: number) =>
  Type.Number({
    minimum: 0,
    description: `${description} An integer >= 1 is a count of images per class; a number between 0 and 1 is a fraction of each class.`,
    ...(def !== undefined ? { default: def } : {}),
    examples: [800, 0.2],
  });

export const DataSchema = Type.Object(
  {
    source: Type.Object(
      {
        type: Enum(['directory', 'csv'] as const, {
          description: '`directory`: one subfolder per class (Keras `flow_from_directory`). `csv`: an images folder plus a labels CSV.',
          default: 'directory',
          examples: ['csv'],
        }),
        path: Type.Optional(
          Type.String({
            minLength: 1,
            description: '`directory` source: folder holding one subfolder per class. Relative paths are relative to the working directory.',
            examples: ['data/faces'],
          }),
        ),
        images: Type.Optional(Type.String({ minLength: 1, description: '`csv` source: folder holding the image files.', examples: ['data/faces/Train'] })),
        labels: Type.Optional(Type.String({ minLength: 1, description: '`csv` source: CSV file with one row per image.', examples: ['data/faces/train.csv'] })),
        idColumn: Type.Optional(
          Type.String({ minLength: 1, description: '`csv` source: column holding the image file name (with or without extension).', default: 'ID', examples: ['ID'] }),
        ),
        labelColumn: Type.Optional(Type.String({ minLength: 1, description: '`csv` source: column holding the class label.', default: 'Class', examples: ['Class'] })),
      },
      { ...strict, description: 'Where the images come from.', default: {}, examples: [{ type: 'directory', path: 'data/faces' }] },
    ),
    classes: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 2,
        uniqueItems: true,
        description: 'Class names in one-hot order. When omitted they are discovered and sorted, as Keras does. CSV labels are matched case-insensitively.',
        examples: [['young', 'middle', 'old']],
      }),
    ),
    image: Type.Object(
      {
        height: Type.Integer({ minimum: 8, maximum: 1024, description: 'Height images are resized to.', default: 128, examples: [128] }),
        width: Type.Integer({ minimum: 8, maximum: 1024, description: 'Width images are resized to.', default: 128, examples: [128] }),
        channels: Type.Union([Type.Literal(1), Type.Literal(3)], { description: '1 for grayscale, 3 for RGB.', default: 3, examples: [3] }),
        rescale: Type.Number({
          exclusiveMinimum: 0,
          description: 'Factor applied to pixel values (Keras `rescale`); 1/255 maps them to [0, 1].',
          default: 0.00392156862745098,
          examples: [0.00392156862745098],
        }),
        resize: Enum(['stretch', 'fit', 'cover'] as const, {
          description: '`stretch` ignores the aspect ratio, like Keras; `fit` keeps it and pads with black; `cover` keeps it and crops the centre.',
          default: 'stretch',
          examples: ['cover'],
        }),
        interpolation: Enum(['nearest', 'bilinear', 'bicubic', 'lanczos3'] as const, {
          description:
            "Resampling kernel when images are resized, antialiased when shrinking (except `nearest`). `lanczos3` is the sharpest; Keras' `flow_from_directory` uses `nearest` (fastest, aliased).",
          default: 'lanczos3',
          examples: ['nearest'],
        }),
      },
      { ...strict, description: 'Size, channels and scaling of the decoded images.', default: {}, examples: [{ height: 128, width: 128, channels: 3 }] },
    ),
    split: Type.Object(
      {
        train: Part('Training part.', 0.7),
        validation: Part('Validation part, evaluated after every epoch.', 0.3),
        test: Part('Held-out test part, evaluated once after training.', 0),
      },
      {
        ...strict,
        description: 'Stratified, seeded split of every class into train / validation / test. No image is in two parts.',
        default: {},
        examples: [{ train: 1600, validation: 800 }],
      },
    ),
    onError: Enum(['fail', 'skip'] as const, {
      description:
        'What to do with an unreadable, truncated or empty image, a CSV row whose image is missing, an unknown label, a duplicate id or a non-image file: stop before training naming the file, or skip it and list it in the run summary. A missing folder or a class without images always stops.',
      default: 'fail',
      examples: ['skip'],
    }),
    cache: Enum(['auto', 'memory', 'disk', 'none'] as const, {
      description:
        'Where decoded images are kept so that later epochs decode nothing. `memory`: in this process; stops before decoding when they need more than `memoryBudget`. `disk`: in one file of fixed-size records per dataset under `$XDG_CACHE_HOME/fitspec/images` (default `~/.cache/fitspec/images`), each record checksummed, read batch by batch ahead of training, so memory stays bounded however large the dataset and later runs decode nothing. `auto`: `memory` when the decoded images fit in `memoryBudget`, else `disk` with a warning. `none`: decode every time.',
      default: 'auto',
      examples: ['disk'],
    }),
    memoryBudget: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description:
          'Most memory, in MB, decoded images may take with `cache: memory` or `auto`. Default: half of the memory available when the run starts (the smaller of free memory and the cgroup limit).',
        examples: [4096],
      }),
    ),
  },
  {
    ...strict,
    description: 'The data: where it is, how it is split and decoded.',
    default: {},
    examples: [{ source: { type: 'csv', images: 'data/faces/Train', labels: 'data/faces/train.csv' }, split: { train: 1600, validation: 800 } }],
  },
);

const Range = (description: string, def: number) =>
  Type.Union([Type.Number({ minimum: 0 }), Type.Tuple([Type.Number(), Type.Number()])], { description, default: def, examples: [def, [0.8, 1.2]] });

export const AugmentSchema = Type.Object(
  {
    rotation: Type.Number({
      minimum: 0,
      maximum: 180,
      description: 'Random rotation in degrees, uniform in [-rotation, rotation] (Keras `rotation_range`). Positive angles turn the picture counter-clockwise.',
      default: 0,
      examples: [40],
    }),
    widthShift: Type.Number({
      minimum: 0,
      maximum: 1,
      description: 'Random horizontal shift, uniform in [-widthShift, widthShift] times the width (Keras `width_shift_range` as documented; Keras itself applies it vertically).',
      default: 0,
      examples: [0.2],
    }),
    heightShift: Type.Number({
      minimum: 0,
      maximum: 1,
      description:
        'Random vertical shift, uniform in [-heightShift, heightShift] times the height (Keras `height_shift_range` as documented; Keras itself applies it horizontally).',
      default: 0,
      examples: [0.2],
    }),
    shear: Type.Number({
      minimum: 0,
      description: 'Random shear angle in degrees, uniform in [-shear, shear] (Keras `shear_range`, which is in degrees since Keras 2).',
      default: 0,
      examples: [0.2, 10],
    }),
    zoom: Range(
      'Random zoom, drawn separately for width and height: a number z means [1-z, 1+z]; a pair is [min, max] (Keras `zoom_range`). As in Keras, factors above 1 zoom out (the picture gets smaller).',
      0,
    ),
    horizontalFlip: Type.Boolean({ description: 'Randomly flip half of the images left-right (Keras `horizontal_flip`).', default: false, examples: [true] }),
    verticalFlip: Type.Boolean({ description: 'Randomly flip half of the images top-bottom (Keras `vertical_flip`).', default: false, examples: [true] }),
    fill: Enum(['nearest', 'reflect', 'wrap', 'constant'] as const, {
      description:
        'How points outside the image are filled (Keras `fill_mode`): `nearest` repeats the edge pixel (aaa|abcd|ddd), `reflect` mirrors (dcba|abcd|dcba), `wrap` tiles (abcd|abcd|abcd), `constant` uses `fillValue`.',
      default: 'nearest',
      examples: ['reflect'],
    }),
    fillValue: Type.Number({ description: 'Value used with `fill: constant`, in pixel units before rescale (Keras `cval`).', default: 0, examples: [0, 255] }),
    brightness: Type.Optional(
      Type.Tuple([Type.Number({ minimum: 0 }), Type.Number({ minimum: 0 })], {
        description: 'Random brightness factor, uniform in [min, max], multiplying pixel values, which are then clipped to [0, 255] (Keras `brightness_range`). Omit for none.',
        examples: [[0.8, 1.2]],
      }),
    ),
    interpolation: Enum(['bilinear', 'nearest'] as const, {
      description: 'How transformed pixels are sampled (Keras `interpolation_order` 1 or 0).',
      default: 'bilinear',
      examples: ['nearest'],
    }),
    channelShift: Type.Number({
      minimum: 0,
      description: "Random value, uniform in [-channelShift, channelShift] pixel units, added to every channel and clipped to the image's own range (Keras `channel_shift_range`).",
      default: 0,
      examples: [20],
    }),
  },
  {
    ...strict,
    description:
      'Random transforms applied to training batches only (Keras `ImageDataGenerator`), seeded from the experiment seed, the epoch and the batch. Omit the section for no augmentation.',
    examples: [{ rotation: 40, widthShift: 0.2, heightShift: 0.2, shear: 0.2, zoom: 0.2, horizontalFlip: true, fill: 'nearest' }],
  },
);
