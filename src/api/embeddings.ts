/** The OpenAI embeddings request the sidecar accepts on `POST /v1/embeddings`, and the answer it returns. */
import { z } from 'zod';
import { userId } from './common.js';

const MAX_INPUTS = 2048;

export const embeddingsRequest = z.looseObject({
  model: z.string().min(1, 'model is required'),
  /** Text, a batch of texts, or pre-tokenized input (token ids), as OpenAI accepts. */
  input: z.union([
    z.string().min(1, 'input must not be empty'),
    z.array(z.string()).min(1, 'input must not be empty').max(MAX_INPUTS),
    z.array(z.number().int().min(0)).min(1, 'input must not be empty'),
    z
      .array(z.array(z.number().int().min(0)).min(1))
      .min(1, 'input must not be empty')
      .max(MAX_INPUTS),
  ]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().min(1).max(65_536).optional(),
  user: userId.optional(),
});
export type EmbeddingsRequest = z.infer<typeof embeddingsRequest>;

export interface EmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}
