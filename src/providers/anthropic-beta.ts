/**
 * The client's `anthropic-beta` header, carried from the inbound request to Anthropic upstreams.
 *
 * Only betas that keep the wire format the translation speaks are forwarded (FORWARDED): the sidecar builds its own
 * Anthropic request from the internal one and reads the answer back, so a beta that adds block or event types, or
 * asks for server-side features the request does not carry, would at best do nothing and at worst make the upstream
 * answer in a shape the translation does not read. Other betas are dropped (an answer without them is what a client
 * without them gets; Claude Code's interleaved-thinking or context-management ask for features the sidecar refuses or
 * ignores anyway). Any dated version of a listed family passes.
 *
 * The values ride on the internal request under a symbol key: copied by every spread of the request on its way to the
 * provider, never serialized (JSON.stringify skips symbol keys), so no OpenAI-wire or Gemini upstream sees them and
 * no request body can set them.
 */
import type { ChatCompletionRequest } from '../api/openai.js';

/**
 * Beta families forwarded: prompt caching (now GA; harmless), 1-hour cache TTLs, the 1M-token context window, longer
 * output, token-efficient tool use, and fine-grained tool streaming (tool input in smaller input_json_delta
 * fragments: the same events, which the stream translation passes on as argument fragments).
 */
const FORWARDED = [
  'prompt-caching',
  'extended-cache-ttl',
  'context-1m',
  'output-128k',
  'token-efficient-tools',
  'fine-grained-tool-streaming',
];

const BETA = new RegExp(`^(?:${FORWARDED.join('|')})-\\d{4}-\\d{2}-\\d{2}$`);

/** The header value(s) as the betas to forward, in order, without duplicates. */
export function forwardableBetas(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const out: string[] = [];
  for (const v of Array.isArray(header) ? header : [header])
    for (const raw of v.split(',')) {
      const beta = raw.trim();
      if (BETA.test(beta) && !out.includes(beta)) out.push(beta);
    }
  return out;
}

const BETAS = Symbol('tiermesh.anthropicBetas');

type WithBetas = ChatCompletionRequest & { [BETAS]?: readonly string[] };

/** Attaches the client's forwardable betas to the internal request (nothing when there are none). */
export function carryAnthropicBetas(
  request: ChatCompletionRequest,
  header: string | string[] | undefined,
): void {
  const betas = forwardableBetas(header);
  if (betas.length > 0) (request as WithBetas)[BETAS] = betas;
}

/** The betas a request carries for its Anthropic upstream. */
export function anthropicBetas(request: ChatCompletionRequest): readonly string[] {
  return (request as WithBetas)[BETAS] ?? [];
}

/**
 * The `anthropic-beta` header value for one call: the provider's configured one (`headers` in the ModelRoute) and the
 * client's, joined without duplicates; undefined when there are none.
 */
export function betaHeader(configured: string | undefined, client: readonly string[]): string | undefined {
  const all: string[] = [];
  for (const b of [...(configured ?? '').split(','), ...client]) {
    const v = b.trim();
    if (v !== '' && !all.includes(v)) all.push(v);
  }
  return all.length > 0 ? all.join(',') : undefined;
}
