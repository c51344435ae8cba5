import { describe, expect, it } from 'vitest';
import { embeddingsRequest } from '../../api/embeddings.js';
import type { Snapshot } from '../../api/snapshot.js';
import {
  base64Embedding,
  embeddingInputs,
  embeddingsResponse,
  fromGeminiEmbedResponse,
  simulatedEmbedding,
  toGeminiEmbedRequest,
} from '../../providers/embeddings.js';
import { embeddingCostUSD, resolveEmbeddingModel } from './embeddings.js';

const parse = (b: Record<string, unknown>) => embeddingsRequest.parse({ model: 'emb', ...b });

describe('embeddings', () => {
  it('reads every input form as one entry per vector', () => {
    expect(embeddingInputs(parse({ input: 'a' }))).toEqual(['a']);
    expect(embeddingInputs(parse({ input: ['a', 'b'] }))).toEqual(['a', 'b']);
    expect(embeddingInputs(parse({ input: [1, 2, 3] }))).toEqual([[1, 2, 3]]);
    expect(embeddingInputs(parse({ input: [[1], [2, 3]] }))).toEqual([[1], [2, 3]]);
    const bad = embeddingsRequest.safeParse({ model: 'emb', input: [] });
    expect(bad.success).toBe(false);
  });

  it('resolves only concrete registry models, naming the field otherwise', () => {
    const entry = {
      name: 'emb',
      targets: [{ provider: 'p' }],
      pricing: { inputPerMTok: 0.02, outputPerMTok: 0 },
      contextWindow: 8192,
    };
    const s = { routes: [{ name: 'default', spec: { models: [entry] } }] } as unknown as Snapshot;
    expect(resolveEmbeddingModel(s, 'emb')).toEqual({ route: 'default', entry });
    let err: { status?: number; param?: string } = {};
    try {
      resolveEmbeddingModel(s, 'auto');
    } catch (e) {
      err = e as typeof err;
    }
    expect(err).toMatchObject({ status: 404, param: 'model' });
    expect(embeddingCostUSD(entry as never, 1_000_000)).toBeCloseTo(0.02);
  });

  it('simulates unit vectors that depend on the text alone', () => {
    const a = simulatedEmbedding('hello', 64);
    expect(a).toHaveLength(64);
    expect(Math.hypot(...a)).toBeCloseTo(1, 6);
    expect(simulatedEmbedding('hello', 64)).toEqual(a);
    expect(simulatedEmbedding('hullo', 64)).not.toEqual(a);
  });

  it('answers floats or little-endian float32 base64, as asked', () => {
    const v = [0.5, -0.25];
    const r = embeddingsResponse(parse({ input: 'x', encoding_format: 'base64' }), 'emb', [v], 3);
    const b = Buffer.from(r.data[0]!.embedding as string, 'base64');
    expect([b.readFloatLE(0), b.readFloatLE(4)]).toEqual(v);
    expect(base64Embedding(v)).toBe(r.data[0]!.embedding);
    expect(embeddingsResponse(parse({ input: 'x' }), 'emb', [v], 3)).toEqual({
      object: 'list',
      data: [{ object: 'embedding', index: 0, embedding: v }],
      model: 'emb',
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
  });

  it('translates to Gemini batchEmbedContents and checks its answer', () => {
    expect(
      toGeminiEmbedRequest(parse({ input: ['a', 'b'], dimensions: 8 }), 'models/text-embedding-004'),
    ).toEqual({
      requests: [
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'a' }] }, outputDimensionality: 8 },
        { model: 'models/text-embedding-004', content: { parts: [{ text: 'b' }] }, outputDimensionality: 8 },
      ],
    });
    expect(() => toGeminiEmbedRequest(parse({ input: [1, 2] }), 'models/x')).toThrow(/input/);
    expect(fromGeminiEmbedResponse({ embeddings: [{ values: [1, 2] }] }, 1)).toEqual([[1, 2]]);
    expect(fromGeminiEmbedResponse({ embeddings: [{ values: [1, 2] }] }, 2)).toBeUndefined();
    expect(fromGeminiEmbedResponse({ embeddings: [{ values: ['x'] }] }, 1)).toBeUndefined();
  });
});
