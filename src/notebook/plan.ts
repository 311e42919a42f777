/**
 * What `fitspec notebook` trains: the notebook's steps and the transfer-learning variants, each as
 * a full-size experiment file and its quick variant, on the stand-in data.
 */

export type Scale = 'full' | 'quick' | 'tiny';
export const SCALES: readonly Scale[] = ['full', 'quick', 'tiny'];

export interface NotebookDataset {
  /** Where the experiment files read it (relative to the working directory). */
  dir: string;
  profile: string;
  seed: number;
  layout: 'csv' | 'directory';
  perClass: Record<Scale, number>;
  /** Images per class in the split at the tiny scale (the other scales keep the files' splits). */
  tinySplit: { train: number; validation: number };
}

export const DATASETS = {
  faces: { dir: 'data/faces', profile: 'default', seed: 2024, layout: 'csv', perClass: { full: 2400, quick: 2400, tiny: 6 }, tinySplit: { train: 4, validation: 2 } },
  identities: {
    dir: 'data/faces-identities',
    profile: 'identities',
    seed: 7,
    layout: 'directory',
    perClass: { full: 100, quick: 100, tiny: 3 },
    tinySplit: { train: 2, validation: 1 },
  },
} as const satisfies Record<string, NotebookDataset>;
export type DatasetKey = keyof typeof DATASETS;

export interface NotebookStep {
  /** Short id used by `--only` and in the table. */
  id: string;
  title: string;
  /** Experiment files, relative to experiments/. */
  files: { full: string; quick: string };
  data: DatasetKey;
  /** The notebook's own result for this step, as it states it. */
  notebook?: { text: string; valAccuracy?: number };
  /** Loads `model.base.weights` exported from the run of this step. */
  weightsFrom?: string;
  /** Pretraining on another task: trained and exported, listed under the table, left out of the curves. */
  pretrain?: boolean;
}

export const STEPS: readonly NotebookStep[] = [
  {
    id: '01',
    title: 'baseline',
    files: { full: '01-baseline.yaml', quick: 'quick/01-baseline.yaml' },
    data: 'faces',
    notebook: { text: '68%; training accuracy towards 90%, val_loss lowest at epoch 13', valAccuracy: 0.68 },
  },
  {
    id: '02',
    title: '+ BatchNorm (axis 1) + Dropout',
    files: { full: '02-bn-dropout.yaml', quick: 'quick/02-bn-dropout.yaml' },
    data: 'faces',
    notebook: { text: 'just over 70%, still overfits', valAccuracy: 0.7 },
  },
  {
    id: '03',
    title: '+ augmentation',
    files: { full: '03-augmentation.yaml', quick: 'quick/03-augmentation.yaml' },
    data: 'faces',
    notebook: { text: '74%, curves close together', valAccuracy: 0.74 },
  },
  {
    id: '04',
    title: 'VGG16 frozen (no ImageNet weights here)',
    files: { full: '04-vgg16-frozen.yaml', quick: 'quick/04-vgg16-frozen.yaml' },
    data: 'faces',
    notebook: { text: '67% with ImageNet weights', valAccuracy: 0.67 },
  },
  {
    id: '05',
    title: 'VGG16, block5 fine-tuned',
    files: { full: '05-vgg16-finetune.yaml', quick: 'quick/05-vgg16-finetune.yaml' },
    data: 'faces',
    notebook: { text: '(step described, no figure given)' },
  },
  {
    id: 'pretrain',
    title: 'pretraining: MobileNet-style base on 60 identities',
    files: { full: 'pretrain/mobilenet-mini-identities.yaml', quick: 'quick/pretrain-mobilenet-mini-identities.yaml' },
    data: 'identities',
    pretrain: true,
  },
  { id: '04s', title: 'MobileNet-style, from scratch (control)', files: { full: '04s-mobilenet-scratch.yaml', quick: 'quick/04s-mobilenet-scratch.yaml' }, data: 'faces' },
  {
    id: '04b',
    title: 'MobileNet-style, pretrained here, frozen',
    files: { full: '04b-mobilenet-pretrained-frozen.yaml', quick: 'quick/04b-mobilenet-pretrained-frozen.yaml' },
    data: 'faces',
    weightsFrom: 'pretrain',
  },
  {
    id: '05b',
    title: 'MobileNet-style, pretrained here, fine-tuned',
    files: { full: '05b-mobilenet-pretrained-finetune.yaml', quick: 'quick/05b-mobilenet-pretrained-finetune.yaml' },
    data: 'faces',
    weightsFrom: 'pretrain',
  },
  { id: '06', title: 'small ResNet, from scratch (beyond the notebook)', files: { full: '06-resnet.yaml', quick: 'quick/06-resnet.yaml' }, data: 'faces' },
];

/** The data folder a scale uses: the tiny scale writes its own small copy next to the real one. */
export function datasetDir(key: DatasetKey, scale: Scale): string {
  return scale === 'tiny' ? `${DATASETS[key].dir}-tiny` : DATASETS[key].dir;
}
