/**
 * `POST /v1/embeddings`, the sidecar's pure parts: routed by model name only (an embedding has no "difficulty" to
 * classify), and what one call costs (input tokens only). The wire side is src/providers/embeddings.ts; the stages
 * are src/sidecar/embeddings-path.ts.
 */
import type { ModelEntry } from '../../api/modelroute.js';
import type { Snapshot } from '../../api/snapshot.js';
import { costUSD } from '../../budget/cost.js';
import { TiermeshError } from '../../errors.js';

/** Embeddings are priced on input alone. */
export function embeddingCostUSD(model: ModelEntry, promptTokens: number): number {
  return costUSD(model.pricing, promptTokens, 0);
}

/**
 * The route and registry model a request names: `model` is a registry model of some route (explicit, no
 * classification). "auto" and route names are refused: embedding models are not interchangeable tiers, a vector
 * from one model means nothing next to one from another.
 */
export function resolveEmbeddingModel(s: Snapshot, model: string): { route: string; entry: ModelEntry } {
  for (const r of s.routes) {
    const entry = r.spec.models.find((m) => m.name === model);
    if (entry) return { route: r.name, entry };
  }
  throw new TiermeshError(
    'TM_MODEL_NOT_FOUND',
    `model: embeddings need a concrete model from a route's models list (not "auto" or a route name); "${model}" is not one`,
    { param: 'model', logMessage: 'model: not a registry model (embeddings need a concrete model)' },
  );
}
