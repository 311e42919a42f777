import { fail } from '../../errors.js';

/**
 * The difficulty knobs of the synthetic faces. `default` is what `fitspec data synth` has always
 * written (the same bytes for the same seed); the other profiles turn the knobs that make a small
 * dataset behave like the notebook's film stills, or change the task for pretraining.
 */
export interface SynthProfile {
  name: string;
  description: string;
  /** `age`: young / middle / old. `identity`: one class per person, every person at every age (a pretraining task). */
  task: 'age' | 'identity';
  /**
   * 0: every image is a new person. N: images come from N persons whose appearance (skin, hair
   * colour and style, eyes, face shape, mouth, glasses habit) repeats from image to image, so a
   * network can memorise persons instead of learning age cues.
   */
  identities: number;
  /** How far each class's age band reaches into its neighbours, as a share of the band (0.25: a quarter). */
  ageOverlap: number;
  /** Person-to-person spread of every age cue around what the age implies (1: as `default`). */
  cueNoise: number;
  /** Scale of pose, position, lighting, background clutter and occlusions (1: as `default`, 0: frontal faces on plain light). */
  nuisance: number;
  /** Share of images whose age comes from a neighbouring class: borderline or mislabelled. */
  borderline: number;
}

export const SYNTH_PROFILES: readonly SynthProfile[] = [
  {
    name: 'default',
    description: 'Every image a new person; age cues overlap between neighbouring classes; pose, light, clutter and occlusion vary; 3% borderline labels.',
    task: 'age',
    identities: 0,
    ageOverlap: 0.25,
    cueNoise: 1,
    nuisance: 1,
    borderline: 0.03,
  },
  {
    name: 'film-stills',
    description:
      "Like the notebook's source (100 actors across films): 100 persons whose appearance repeats and who each appear in one or two neighbouring age classes, wider age overlap, noisier cues, more pose / light / background variety, 6% borderline labels.",
    task: 'age',
    identities: 100,
    ageOverlap: 0.4,
    cueNoise: 1.3,
    nuisance: 1.3,
    borderline: 0.06,
  },
  {
    name: 'identities',
    description: 'A pretraining task on the same faces: 60 persons, one class each, every person drawn at every age; labels are the persons.',
    task: 'identity',
    identities: 60,
    ageOverlap: 0.25,
    cueNoise: 1,
    nuisance: 1,
    borderline: 0,
  },
];

export function synthProfile(name: string): SynthProfile {
  const p = SYNTH_PROFILES.find((x) => x.name === name);
  if (!p)
    fail('synth.profile', `Unknown data profile \`${name}\`; the profiles are ${SYNTH_PROFILES.map((x) => x.name).join(', ')}.`, {
      expected: SYNTH_PROFILES.map((x) => x.name).join(' | '),
      received: name,
    });
  return p;
}
