/**
 * Deterministic train / calibration / held-out assignment, shared by the trainer and `tiermesh eval` so that
 * evaluation never sees a prompt the weights were fitted on.
 */

/** FNV-1a over UTF-16 code units: a stable, dependency-free string hash. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A uniform-looking number in [0, 1) from a string and a seed. */
export function unitHash(text: string, seed: string): number {
  const h = fnv1a(text, fnv1a(seed));
  // One extra avalanche round so similar prompts do not land in similar buckets.
  let x = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return ((x ^ (x >>> 16)) >>> 0) / 4294967296;
}

export const SPLIT_SEED = 'tiermesh-learned-v1';

/** Share of MMLU subjects kept out of training entirely (a topic the classifier has never seen). */
export const MMLU_HELDOUT_SUBJECT_SHARE = 0.3;
/** Share of the remaining prompts of each training source held out at random. */
export const RANDOM_HELDOUT_SHARE = 0.3;
/** Share of the training pool kept for calibration (score quantiles) and validation loss. */
export const CALIBRATION_SHARE = 0.1;

/** `heldout-group`: a whole unseen group (MMLU subject); `heldout`: unseen prompts from seen groups or sources. */
export type Part = 'train' | 'calibration' | 'heldout' | 'heldout-group';

/** Which part a prompt belongs to. `group` (e.g. an MMLU subject) is held out as a whole when selected. */
export function partOf(source: string, prompt: string, group?: string): Part {
  if (
    group !== undefined &&
    unitHash(`${source}/${group}`, `${SPLIT_SEED}/group`) < MMLU_HELDOUT_SUBJECT_SHARE
  )
    return 'heldout-group';
  const u = unitHash(`${source}/${prompt}`, SPLIT_SEED);
  if (u < RANDOM_HELDOUT_SHARE) return 'heldout';
  if (u < RANDOM_HELDOUT_SHARE + CALIBRATION_SHARE) return 'calibration';
  return 'train';
}
