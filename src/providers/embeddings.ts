/**
 * Embeddings on the provider side, pure: the inputs of a request as one entry per vector, their token estimate, the
 * deterministic vectors of the `simulated` provider, the OpenAI `base64` encoding and answer shape, and the Gemini
 * batchEmbedContents translation.
 */
import { createHash } from 'node:crypto';
import type { EmbeddingsRequest, EmbeddingsResponse } from '../api/embeddings.js';
import { TiermeshError } from '../errors.js';
import { estimateTextTokens } from '../routing/tokens.js';

/** The inputs as a list: one entry per vector the answer must hold. */
export function embeddingInputs(req: EmbeddingsRequest): Array<string | number[]> {
  const input = req.input;
  if (typeof input === 'string') return [input];
  if (input.length > 0 && typeof input[0] === 'number') return [input as number[]];
  return input as Array<string | number[]>;
}

/** Tokens of the inputs when the upstream does not count them: token ids count one each. */
export function estimateEmbeddingTokens(req: EmbeddingsRequest): number {
  let n = 0;
  for (const i of embeddingInputs(req)) n += typeof i === 'string' ? estimateTextTokens(i) : i.length;
  return n;
}

/**
 * A unit vector derived from the text alone, so equal inputs give equal vectors across calls and restarts: what the
 * simulated provider answers. Not semantic; clearly a stand-in, as its chat answers are.
 */
export function simulatedEmbedding(input: string | number[], dimensions = 256): number[] {
  const seed = typeof input === 'string' ? input : input.join(',');
  const out: number[] = [];
  let block = 0;
  while (out.length < dimensions) {
    const h = createHash('sha256').update(seed).update(String(block++)).digest();
    for (let i = 0; i + 1 < h.length && out.length < dimensions; i += 2)
      out.push(h.readUInt16BE(i) / 32_768 - 1);
  }
  const norm = Math.sqrt(out.reduce((a, v) => a + v * v, 0)) || 1;
  return out.map((v) => v / norm);
}

/** The OpenAI `base64` encoding: little-endian float32s. */
export function base64Embedding(v: number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  for (const [i, x] of v.entries()) buf.writeFloatLE(x, i * 4);
  return buf.toString('base64');
}

/** The answer for the vectors, in the encoding the client asked for. */
export function embeddingsResponse(
  req: EmbeddingsRequest,
  model: string,
  vectors: number[][],
  promptTokens: number,
): EmbeddingsResponse {
  const b64 = req.encoding_format === 'base64';
  return {
    object: 'list',
    data: vectors.map((v, index) => ({
      object: 'embedding',
      index,
      embedding: b64 ? base64Embedding(v) : v,
    })),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
  };
}

/** Gemini `batchEmbedContents`: one request per input; token-id input cannot be carried (a 400 naming `input`). */
export function toGeminiEmbedRequest(req: EmbeddingsRequest, modelPath: string): { requests: unknown[] } {
  return {
    requests: embeddingInputs(req).map((i) => {
      if (typeof i !== 'string')
        throw new TiermeshError('TM_INVALID_REQUEST', 'input: token ids cannot be sent to a Gemini model', {
          param: 'input',
        });
      return {
        model: modelPath,
        content: { parts: [{ text: i }] },
        ...(req.dimensions ? { outputDimensionality: req.dimensions } : {}),
      };
    }),
  };
}

/** Gemini's `{ embeddings: [{ values }] }` as vectors, checked: a count that does not match the inputs is refused. */
export function fromGeminiEmbedResponse(json: unknown, expected: number): number[][] | undefined {
  const e = (json as { embeddings?: Array<{ values?: unknown }> } | null)?.embeddings;
  if (!Array.isArray(e) || e.length !== expected) return undefined;
  const out: number[][] = [];
  for (const item of e) {
    if (!Array.isArray(item?.values) || !item.values.every((x) => typeof x === 'number')) return undefined;
    out.push(item.values as number[]);
  }
  return out;
}
