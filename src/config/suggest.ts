import { distance } from 'fastest-levenshtein';
import { camelCase } from './names.js';

/** Keras spellings that are not a plain snake_case -> camelCase change. */
const KERAS_ALIASES: Record<string, string> = { lr: 'learningRate', acc: 'accuracy', decay_rate: 'decayRate' };

/** The allowed word closest to `word`, when it is close enough to be a likely typo. */
export function closest(word: string, allowed: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const ci = allowed.find((a) => a.toLowerCase() === lower);
  if (ci) return ci;
  let best: string | undefined;
  let bestD = Infinity;
  for (const a of allowed) {
    const d = distance(lower, a.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return best !== undefined && bestD <= limit ? best : undefined;
}

/** The allowed word meant by `word`: its tfjs spelling when it is a Keras one, else the closest typo match. */
export function nearestName(word: string, allowed: readonly string[]): string | undefined {
  const alias = KERAS_ALIASES[word];
  if (alias && allowed.includes(alias)) return alias;
  if (word.includes('_')) {
    const camel = camelCase(word).toLowerCase();
    const hit = allowed.find((a) => a.toLowerCase() === camel);
    if (hit) return hit;
  }
  return closest(word, allowed);
}

/** "did you mean ...?" text, with the tfjs name when `word` is a Keras spelling of an allowed one. */
export function suggestion(word: string, allowed: readonly string[]): string | undefined {
  const alias = KERAS_ALIASES[word];
  if (alias && allowed.includes(alias)) return `\`${word}\` is the Keras spelling; fitspec uses the tfjs name \`${alias}\``;
  if (word.includes('_')) {
    const camel = camelCase(word);
    const hit = allowed.find((a) => a.toLowerCase() === camel.toLowerCase());
    if (hit) return `\`${word}\` is the Keras spelling; fitspec uses the tfjs name \`${hit}\``;
  }
  const c = closest(word, allowed);
  return c !== undefined ? `did you mean \`${c}\`?` : undefined;
}
