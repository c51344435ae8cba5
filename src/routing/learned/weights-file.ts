/**
 * The shape of a learned routing model file (the shipped weights.json, or one `tiermesh train` wrote).
 *
 * A model is a few linear "heads", each predicting the strong model's quality gain (strong - weak) on prompts of
 * one source it was trained on, plus a recogniser that picks the head for a prompt (or the fallback head when the
 * prompt looks like none of them). Weights are int8 with one scale per table, base64: small and exact to reload.
 */
import { z } from 'zod';

export const MODEL_FORMAT = 'tiermesh-learned-v2';
/** A model file bigger than this is refused before parsing: the shipped one is well under 1 MB. */
export const MAX_MODEL_BYTES = 8 * 1024 * 1024;

const int8Table = z.object({
  /** Int8 weights, base64; the weight is value * scale. */
  q: z.string(),
  scale: z.number().nonnegative(),
});
export type Int8Table = z.infer<typeof int8Table>;

export const head = z.object({
  /** The source (or group) whose prompts this head scores, e.g. "mmlu". */
  name: z.string().min(1),
  /** The weak -> strong pair its label came from (documentation). */
  pair: z.string().optional(),
  /** Hashed n-gram weights (2^hashBits), absent for a structure-only head. */
  hashed: int8Table.optional(),
  /** One weight per structural feature, raw scale. */
  dense: z.array(z.number()),
  /** Weights on the static sentence embedding (embedding.ts, EMB_DIM), absent for a head that does not read it. */
  embedding: z.array(z.number()).optional(),
  bias: z.number(),
});
export type Head = z.infer<typeof head>;

export const modelFile = z.object({
  format: z.literal(MODEL_FORMAT),
  hashBits: z.number().int().min(8).max(20),
  structural: z.array(z.string()),
  heads: z.array(head).min(1).max(32),
  /**
   * Picks a head: one linear score per class over the same features, classes = heads' names plus optionally
   * "other". Hashed weights interleaved (feature * classes + class). Absent: the first head scores everything.
   */
  recogniser: z
    .object({
      classes: z.array(z.string()).min(1),
      hashed: int8Table,
      dense: z.array(z.array(z.number())),
      bias: z.array(z.number()),
      /** Class scores below this mean "unlike any training source": the fallback head scores the prompt. */
      minScore: z.number(),
      /** The hashed weights cover word unigrams and bigrams only (not character 4-grams). */
      wordsOnly: z.boolean().optional(),
    })
    .optional(),
  /** The head for prompts the recogniser does not place (its name is one of `heads`). */
  fallback: z.string().optional(),
  /**
   * Score quantiles on the calibration mix, 0%..100% in equal steps: the percentile scale before a route has seen
   * enough of its own traffic (online calibration takes over then).
   */
  calibration: z.array(z.number()).min(2),
  /** Provenance (data, options, validation figures): not used for scoring. */
  training: z.record(z.string(), z.unknown()),
});
export type ModelFile = z.infer<typeof modelFile>;
