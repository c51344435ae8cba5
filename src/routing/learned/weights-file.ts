/** The shape of weights.json: a logistic-regression model over hashed features plus its calibration quantiles. */
import { z } from 'zod';

export const weightsFile = z.object({
  format: z.literal('tiermesh-learned-v1'),
  hashBits: z.number().int().min(8).max(24),
  structural: z.array(z.string()),
  /** Float32 little-endian, base64: one weight per hashed feature. */
  hashed: z.string(),
  dense: z.array(z.number()),
  bias: z.number(),
  /**
   * Score quantiles on the calibration split, 0%..100% in equal steps: `calibration[i]` is the score below
   * which i/(n-1) of calibration prompts fall. Turns a premium share into a threshold.
   */
  calibration: z.array(z.number()).min(2),
  /** How the weights were made (seed, epochs, data sizes, validation loss): provenance, not used for scoring. */
  training: z.record(z.string(), z.unknown()),
});
export type WeightsFile = z.infer<typeof weightsFile>;
