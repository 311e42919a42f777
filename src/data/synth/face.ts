import type { Rng } from '../random.js';

/**
 * One synthetic face as SVG. `age` in [0, 1] drives the age cues (grey and receding hair,
 * forehead lines, crow's feet, eye bags, folds, spots, a heavier jaw); everything else is a
 * nuisance drawn independently: pose, scale, expression, skin and hair colour, lighting,
 * occlusion, background clutter, output size. With a persona, the person's appearance is fixed
 * and only age, expression and the nuisances change.
 */
export interface FaceImage {
  svg: string;
  width: number;
  height: number;
  quality: number;
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));
const f = (v: number) => (Math.round(v * 100) / 100).toString();
type RGB = [number, number, number];
const mix = (a: RGB, b: RGB, t: number): RGB => [0, 1, 2].map((i) => a[i]! + (b[i]! - a[i]!) * t) as RGB;
const shade = (c: RGB, k: number): RGB => c.map((v) => v * k) as RGB;
const hex = (c: RGB) =>
  '#' +
  c
    .map((v) =>
      Math.round(Math.min(255, Math.max(0, v)))
        .toString(16)
        .padStart(2, '0'),
    )
    .join('');

const SKIN: RGB[] = [
  [255, 224, 196],
  [241, 194, 160],
  [224, 172, 130],
  [198, 140, 100],
  [160, 110, 75],
  [120, 80, 55],
  [95, 62, 42],
];
const HAIR: RGB[] = [
  [25, 20, 18],
  [45, 32, 25],
  [80, 55, 35],
  [120, 85, 50],
  [60, 40, 30],
  [170, 130, 80],
];
const GREY: RGB = [205, 205, 210];
const EYES: RGB[] = [
  [70, 45, 25],
  [40, 30, 20],
  [60, 90, 120],
  [80, 100, 60],
];

/** What stays the same across the images of one person. */
export interface Persona {
  skin: RGB;
  hair: RGB;
  longHair: boolean;
  eye: RGB;
  /** Added to the jaw width and the mouth width. */
  jaw: number;
  mouth: number;
  /** Chance of glasses in any one image of this person. */
  glasses: number;
}

export function drawPersona(r: Rng): Persona {
  return {
    skin: mix(r.pick(SKIN), r.pick(SKIN), r.next()),
    hair: r.pick(HAIR),
    longHair: r.bernoulli(0.35),
    eye: r.pick(EYES),
    jaw: r.normal(0, 0.05),
    mouth: r.uniform(-2, 4),
    glasses: r.bernoulli(0.25) ? 0.85 : 0.05,
  };
}

/** Scales of the per-image variety; 1 everywhere is the `default` profile. */
export interface FaceKnobs {
  cueNoise: number;
  nuisance: number;
}

const PLAIN: FaceKnobs = { cueNoise: 1, nuisance: 1 };

export function drawFace(r: Rng, age: number, persona?: Persona, knobs: FaceKnobs = PLAIN): FaceImage {
  const { cueNoise, nuisance } = knobs;
  // Output resolution: about 40 to 160 px, not square, like crops from film frames.
  const width = Math.round(r.uniform(40, 160));
  const height = Math.round(Math.min(170, Math.max(40, width * r.uniform(0.75, 1.35))));
  const quality = Math.round(r.uniform(45, 95));

  // Age cues, each with its own person-to-person variation so that classes overlap.
  const cue = (slope: number, offset: number, sd: number) => clamp01(age * slope + offset + r.normal(0, sd * cueNoise));
  const grey = cue(1.3, -0.45, 0.15);
  const recession = cue(1.1, -0.45, 0.18);
  const foreheadLines = cue(1.2, -0.3, 0.15);
  const crowsFeet = cue(1.2, -0.35, 0.15);
  const bags = cue(1.0, -0.25, 0.15);
  const folds = cue(1.1, -0.3, 0.15);
  const spots = Math.max(0, Math.round(cue(1, -0.35, 0.2) * 9));
  const jowl = cue(1.0, -0.3, 0.15);

  const skin = persona ? persona.skin : mix(r.pick(SKIN), r.pick(SKIN), r.next());
  const line = hex(shade(skin, 0.62));
  const hairBase = persona ? persona.hair : r.pick(HAIR);
  const hair = hex(mix(hairBase, GREY, grey));
  const brow = hex(mix(hairBase, GREY, clamp01(grey * 0.8 + r.normal(0, 0.1))));
  const longHair = persona ? persona.longHair : r.bernoulli(0.35);

  // Expression.
  const smile = r.uniform(-0.4, 1);
  const open = r.bernoulli(0.2) ? r.uniform(2, 8) : 0;
  const browRaise = r.uniform(-3, 5);
  const eyeOpen = r.uniform(0.6, 1.1);

  const parts: string[] = [];
  const jw = 0.78 + jowl * 0.18 + (persona ? persona.jaw + r.normal(0, 0.01) : r.normal(0, 0.04));
  const sag = jowl * 8;

  if (longHair) parts.push(`<ellipse cx="0" cy="${f(10 + recession * 5)}" rx="${f(74 + r.uniform(0, 8))}" ry="${f(95 + r.uniform(0, 10))}" fill="${hair}"/>`);
  parts.push(`<rect x="-22" y="55" width="44" height="60" fill="${hex(shade(skin, 0.9))}"/>`);
  parts.push(`<ellipse cx="-60" cy="4" rx="9" ry="16" fill="${hex(shade(skin, 0.95))}"/><ellipse cx="60" cy="4" rx="9" ry="16" fill="${hex(shade(skin, 0.95))}"/>`);
  const jx = 60 * jw;
  const chinY = 80 + sag * 0.6;
  parts.push(
    `<path d="M0,-80 C36,-80 61,-55 61,-10 C61,${f(25 + sag)} ${f(jx + 4)},${f(52 + sag)} ${f(jx * 0.55)},${f(70 + sag)} C${f(jx * 0.3)},${f(chinY)} ${f(-jx * 0.3)},${f(chinY)} ${f(-jx * 0.55)},${f(70 + sag)} C${f(-jx - 4)},${f(52 + sag)} -61,${f(25 + sag)} -61,-10 C-61,-55 -36,-80 0,-80 Z" fill="${hex(skin)}"/>`,
  );
  for (let i = 0; i < spots; i++) {
    parts.push(
      `<circle cx="${f(r.uniform(-45, 45))}" cy="${f(r.uniform(-45, 50))}" r="${f(r.uniform(1.2, 3))}" fill="${hex(shade(skin, 0.7))}" opacity="${f(r.uniform(0.5, 0.9))}"/>`,
    );
  }
  const n = Math.round(foreheadLines * 4);
  for (let i = 0; i < n; i++) {
    const y = -52 + i * 6 - browRaise;
    const w = 22 + r.uniform(0, 12);
    parts.push(
      `<path d="M${f(-w)},${f(y)} Q0,${f(y - 4 - r.uniform(0, 3))} ${f(w)},${f(y)}" stroke="${line}" stroke-width="${f(1.2 + foreheadLines)}" fill="none" opacity="${f(0.35 + 0.6 * foreheadLines)}"/>`,
    );
  }
  // Eyes, brows, crow's feet, bags.
  const eyeY = -12;
  for (const s of [-1, 1]) {
    const ex = s * 24;
    parts.push(`<ellipse cx="${ex}" cy="${eyeY}" rx="11" ry="${f(6 * eyeOpen)}" fill="#f4f1ec"/>`);
    parts.push(`<circle cx="${f(ex + r.uniform(-2, 2))}" cy="${eyeY}" r="${f(4.5 * Math.min(1, eyeOpen + 0.2))}" fill="${hex(persona ? persona.eye : r.pick(EYES))}"/>`);
    parts.push(
      `<path d="M${ex - 14},${f(eyeY - 15 - browRaise)} Q${ex},${f(eyeY - 22 - browRaise)} ${ex + 14},${f(eyeY - 14 - browRaise)}" stroke="${brow}" stroke-width="${f(3.5 - grey)}" fill="none" stroke-linecap="round"/>`,
    );
    if (bags > 0.15)
      parts.push(
        `<path d="M${ex - 9},${eyeY + 9} Q${ex},${f(eyeY + 14 + bags * 3)} ${ex + 9},${eyeY + 9}" stroke="${line}" stroke-width="${f(1 + bags)}" fill="none" opacity="${f(bags)}"/>`,
      );
    const k = Math.round(crowsFeet * 3);
    for (let j = 0; j < k; j++) {
      const ang = (j - 1) * 0.45;
      const x0 = ex + s * 13;
      parts.push(
        `<path d="M${x0},${eyeY} l${f(s * 8 * Math.cos(ang))},${f(8 * Math.sin(ang))}" stroke="${line}" stroke-width="${f(0.9 + crowsFeet)}" opacity="${f(0.3 + 0.6 * crowsFeet)}"/>`,
      );
    }
  }
  // Nose and folds.
  parts.push(`<path d="M-2,-8 Q-4,14 -9,20 Q0,25 9,20" stroke="${line}" stroke-width="2" fill="none" opacity="0.8"/>`);
  if (folds > 0.1)
    for (const s of [-1, 1])
      parts.push(`<path d="M${s * 13},18 Q${s * 22},34 ${s * 19},${f(46 + sag * 0.3)}" stroke="${line}" stroke-width="${f(1 + 1.5 * folds)}" fill="none" opacity="${f(folds)}"/>`);
  // Mouth.
  const my = 42 + sag * 0.4;
  const mw = 17 + (persona ? persona.mouth + r.uniform(-0.5, 0.5) : r.uniform(-2, 4));
  if (open > 0) {
    parts.push(`<path d="M${f(-mw)},${f(my)} Q0,${f(my - smile * 6)} ${f(mw)},${f(my)} Q0,${f(my + open + smile * 8)} ${f(-mw)},${f(my)} Z" fill="#5a2020"/>`);
  } else {
    parts.push(
      `<path d="M${f(-mw)},${f(my - smile * 3)} Q0,${f(my + smile * 8)} ${f(mw)},${f(my - smile * 3)}" stroke="${hex([150, 70, 70])}" stroke-width="3.5" fill="none" stroke-linecap="round"/>`,
    );
  }
  // Hair on top: the hairline climbs with recession; past about 0.75 only the temples keep hair.
  const hairline = -52 - recession * 30;
  if (recession < 0.75) {
    const fringe = r.uniform(-6, 6);
    parts.push(
      `<path d="M-64,-5 C-66,-60 -40,-92 0,-92 C40,-92 66,-60 64,-5 L58,-5 C56,${f(hairline + 10)} 30,${f(hairline)} ${f(fringe)},${f(hairline + 4)} C-30,${f(hairline)} -56,${f(hairline + 10)} -58,-5 Z" fill="${hair}"/>`,
    );
  } else {
    for (const s of [-1, 1]) parts.push(`<path d="M${s * 64},8 C${s * 67},-30 ${s * 60},-48 ${s * 48},-58 L${s * 54},-30 L${s * 58},8 Z" fill="${hair}"/>`);
  }
  // Occlusions.
  if (r.bernoulli(persona ? persona.glasses : Math.min(1, 0.2 * nuisance))) {
    const gc = hex(
      r.pick([
        [20, 20, 20],
        [90, 60, 30],
        [150, 150, 160],
      ] as RGB[]),
    );
    const dark = r.bernoulli(0.3);
    parts.push(
      `<g stroke="${gc}" stroke-width="3" fill="${dark ? '#222' : 'none'}" opacity="${dark ? 0.9 : 1}"><circle cx="-24" cy="${eyeY}" r="14"/><circle cx="24" cy="${eyeY}" r="14"/><path d="M-10,${eyeY} L10,${eyeY} M-38,${eyeY} L-58,${eyeY - 4} M38,${eyeY} L58,${eyeY - 4}" fill="none"/></g>`,
    );
  }
  if (r.bernoulli(Math.min(1, 0.15 * nuisance))) {
    const hc = hex([r.uniform(20, 230), r.uniform(20, 230), r.uniform(20, 230)]);
    const hy = -50 - r.uniform(0, 15);
    parts.push(
      `<path d="M-80,${f(hy)} L80,${f(hy)} L72,${f(hy - 10)} L-72,${f(hy - 10)} Z" fill="${hc}"/><path d="M-55,${f(hy - 8)} C-55,-120 55,-120 55,${f(hy - 8)} Z" fill="${hc}"/>`,
    );
  }
  if (r.bernoulli(Math.min(1, 0.1 * nuisance))) {
    const hx = r.uniform(-50, 30);
    const hy = r.uniform(10, 50);
    parts.push(
      `<g fill="${hex(shade(skin, r.uniform(0.85, 1.05)))}" stroke="${line}" stroke-width="1"><rect x="${f(hx)}" y="${f(hy)}" width="46" height="40" rx="12"/>${[0, 1, 2].map((i) => `<rect x="${f(hx + 2 + i * 14)}" y="${f(hy - 18)}" width="12" height="26" rx="6"/>`).join('')}</g>`,
    );
  }

  // Background clutter.
  const bg = hex([r.uniform(30, 230), r.uniform(30, 230), r.uniform(30, 230)]);
  const clutter: string[] = [];
  const m = r.int(Math.max(1, Math.round(7 * nuisance)));
  for (let i = 0; i < m; i++) {
    const c = hex([r.uniform(0, 255), r.uniform(0, 255), r.uniform(0, 255)]);
    const x = r.uniform(0, width);
    const y = r.uniform(0, height);
    const s = r.uniform(0.1, 0.5) * width;
    clutter.push(
      r.bernoulli(0.5)
        ? `<rect x="${f(x - s / 2)}" y="${f(y - s / 2)}" width="${f(s)}" height="${f(s * r.uniform(0.3, 2))}" fill="${c}" opacity="${f(r.uniform(0.4, 1))}" transform="rotate(${f(r.uniform(0, 90))} ${f(x)} ${f(y)})"/>`
        : `<circle cx="${f(x)}" cy="${f(y)}" r="${f(s / 2)}" fill="${c}" opacity="${f(r.uniform(0.4, 1))}"/>`,
    );
  }

  // Pose and scale: the face (about 190 units tall) fills 55 to 95 percent of the frame.
  const scale = (Math.min(width, height) * r.uniform(0.55, 0.95)) / 190;
  const tx = width / 2 + r.uniform(-0.1, 0.1) * width * nuisance;
  const ty = height / 2 + r.uniform(-0.08, 0.1) * height * nuisance;
  const rot = r.uniform(-15, 15) * nuisance;

  // Illumination: a linear gradient from light to shadow at a random angle.
  const ang = r.uniform(0, 2 * Math.PI);
  const light = Math.min(0.9, r.uniform(0, 0.45) * nuisance);
  const dark = Math.min(0.9, r.uniform(0, 0.55) * nuisance);
  const gx = Math.cos(ang) / 2;
  const gy = Math.sin(ang) / 2;

  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<defs><linearGradient id="l" x1="${f(0.5 - gx)}" y1="${f(0.5 - gy)}" x2="${f(0.5 + gx)}" y2="${f(0.5 + gy)}"><stop offset="0" stop-color="#fff" stop-opacity="${f(light)}"/><stop offset="0.5" stop-color="#808080" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="${f(dark)}"/></linearGradient></defs>` +
    `<rect width="${width}" height="${height}" fill="${bg}"/>${clutter.join('')}` +
    `<g transform="translate(${f(tx)} ${f(ty)}) rotate(${f(rot)}) scale(${f(scale)})">${parts.join('')}</g>` +
    `<rect width="${width}" height="${height}" fill="url(#l)"/></svg>`;
  return { svg, width, height, quality };
}
