/** `spec.shadow`: which requests also go to the shadow model, and the (non-streaming) body it gets. */
import type { ModelEntry, ModelRouteSpec } from '../api/modelroute.js';
import type { ChatCompletionRequest } from '../api/openai.js';

/**
 * The shadow model for this request, or undefined. `random` is uniform in [0, 1), drawn by the caller: the request
 * is shadowed when `random * 100 < percent`, so 0 never shadows and 100 always does.
 */
export function pickShadow(spec: ModelRouteSpec, random: number): ModelEntry | undefined {
  const s = spec.shadow;
  if (!s || !(random * 100 < s.percent)) return undefined;
  return spec.models.find((m) => m.name === s.model);
}

/** The client's request as a plain JSON call: streaming options are dropped (OpenAI refuses them without `stream`). */
export function shadowBody(request: ChatCompletionRequest): ChatCompletionRequest {
  const { stream: _s, stream_options: _o, ...rest } = request;
  return { ...rest, stream: false };
}
