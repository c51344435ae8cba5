/**
 * The response cache (`spec.cache` of a route): exact match on the normalised internal request, scoped to the
 * namespace and route, so whichever inbound API a request came through (chat, Responses, Messages) the same
 * question finds the same answer. Pure parts: the key, the policy, the entry sizes, and the conversions that let a
 * stream replay from a whole answer and a whole answer be assembled from a stream. The shell (the pipeline's cache
 * stage) holds one ResponseCache per sidecar.
 *
 * What is cached: the whole internal answer (ChatCompletion) of a request that succeeded; never an error, never a
 * stream that broke or was abandoned. By default only requests with `temperature: 0` (or the opt-in header
 * `x-tiermesh-cache: on`) are looked up and stored: any other temperature asks for a fresh sample each time.
 * `cache-control: no-cache` skips the lookup (the fresh answer is stored); `no-store` skips both.
 */
import { createHash } from 'node:crypto';
import type { ResponseCacheSpec } from '../api/modelroute.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ThinkingBlock,
} from '../api/openai.js';
import { canonicalJson } from '../config/canonical.js';
import { ByteLru } from './lru.js';

/** Request header that opts a request with a temperature other than 0 into the cache. */
export const CACHE_OPT_IN_HEADER = 'x-tiermesh-cache';
/** Response header: `hit` or `miss` (absent when the cache did not apply). */
export const CACHE_RESULT_HEADER = 'x-tiermesh-cache';

/**
 * Fields that do not change what the model answers: how it is delivered (stream, stream_options), who asked (user,
 * metadata: the cache is shared by the route's callers, who all could have asked the same), and storage hints.
 */
const DELIVERY_ONLY = new Set(['stream', 'stream_options', 'user', 'metadata', 'store', 'service_tier']);

export interface CacheScope {
  namespace: string;
  route: string;
}

/**
 * The cache key: a SHA-256 of the canonical JSON of scope, the decided tier, model, messages and every answer-shaping
 * parameter. The tier is part of it because the same question is decided onto other tiers for other callers (a
 * priority class's tier window, a task's tier override, a conversation's sticky tier): a `pro` caller held to the
 * premium tier must not be served the cheap tier's answer a `free` caller got, nor the other way round.
 */
export function cacheKey(scope: CacheScope, tier: string, request: ChatCompletionRequest): string {
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(request)) if (!DELIVERY_ONLY.has(k) && v !== null) params[k] = v;
  const text = canonicalJson({ ns: scope.namespace, route: scope.route, tier, params });
  return createHash('sha256').update(text).digest('base64url');
}

export interface CacheDirectives {
  /** Look the request up. */
  lookup: boolean;
  /** Store a successful answer. */
  store: boolean;
}

const OFF: CacheDirectives = { lookup: false, store: false };

/** Whether the request may be served from / stored in the route's cache, from its spec, body and headers. */
export function cacheDirectives(
  spec: ResponseCacheSpec | undefined,
  request: ChatCompletionRequest,
  headers: { cacheControl?: string | undefined; optIn?: string | undefined },
): CacheDirectives {
  if (!spec?.enabled) return OFF;
  const optIn = headers.optIn?.trim().toLowerCase();
  if (optIn === 'off') return OFF;
  if (request.temperature !== 0 && optIn !== 'on') return OFF;
  const cc = (headers.cacheControl ?? '').toLowerCase();
  if (/(^|[\s,])no-store($|[\s,;=])/.test(cc)) return OFF;
  return { lookup: !/(^|[\s,])no-cache($|[\s,;=])/.test(cc), store: true };
}

/** One cached answer, and what it cost when it was produced (a hit saves that much). */
export interface CacheEntry {
  completion: ChatCompletion;
  /** The model registry entry that served it, for the headers and the savings metric. */
  model: string;
  provider: string;
  tier: string;
  costUSD: number;
  /** What the same tokens would have cost at the route's baselineModel (0 without one). */
  baselineUSD: number;
}

/** Memory an entry holds: its JSON size (UTF-16 strings in V8 are about that order) plus the key. */
export function entryBytes(key: string, entry: CacheEntry): number {
  return key.length + JSON.stringify(entry).length * 2;
}

export interface CacheStats {
  bytes: number;
  entries: number;
}

/** One bounded LRU per namespace+route, sized by that route's spec.cache.maxBytes. */
export class ResponseCache {
  private readonly routes = new Map<string, ByteLru<CacheEntry>>();

  private lru(scope: CacheScope, spec: ResponseCacheSpec): ByteLru<CacheEntry> {
    const id = `${scope.namespace}/${scope.route}`;
    let lru = this.routes.get(id);
    if (!lru) {
      lru = new ByteLru(spec.maxBytes);
      this.routes.set(id, lru);
    } else if (lru.limit !== spec.maxBytes) lru.resize(spec.maxBytes);
    return lru;
  }

  get(scope: CacheScope, spec: ResponseCacheSpec, key: string, now: number): CacheEntry | undefined {
    return this.lru(scope, spec).get(key, now);
  }

  /** Stores the answer unless it is larger than the route's whole bound; false when it was not stored. */
  put(scope: CacheScope, spec: ResponseCacheSpec, key: string, entry: CacheEntry, now: number): boolean {
    return this.lru(scope, spec).set(key, entry, entryBytes(key, entry), spec.ttlSeconds * 1000, now);
  }

  stats(scope: CacheScope): CacheStats {
    const lru = this.routes.get(`${scope.namespace}/${scope.route}`);
    return { bytes: lru?.bytes ?? 0, entries: lru?.size ?? 0 };
  }

  /**
   * Drops the caches of routes that no longer have one (removed, or cache disabled) and expired entries of the rest,
   * after a config change: memory is only ever held for routes that ask for it.
   */
  retain(live: (scope: CacheScope) => ResponseCacheSpec | undefined, now: number): void {
    for (const [id, lru] of this.routes) {
      const slash = id.indexOf('/');
      const spec = live({ namespace: id.slice(0, slash), route: id.slice(slash + 1) });
      if (!spec?.enabled) this.routes.delete(id);
      else {
        lru.resize(spec.maxBytes);
        lru.prune(now);
      }
    }
  }
}

type ToolCallDelta = {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
};

/**
 * A whole answer from the chunks of a stream that ended cleanly, so a stream miss can be stored. Undefined when the
 * chunks do not make a complete answer (no finish_reason on some choice): such a stream is never cached.
 */
export function completionFromChunks(chunks: readonly ChatCompletionChunk[]): ChatCompletion | undefined {
  const first = chunks[0];
  if (!first) return undefined;
  const choices = new Map<
    number,
    {
      content: string;
      refusal: string;
      reasoning: string;
      thinking: ThinkingBlock[];
      tools: Map<number, { id: string; name: string; arguments: string }>;
      finish: string | null;
    }
  >();
  let usage: ChatCompletion['usage'];
  for (const chunk of chunks) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      let acc = choices.get(c.index);
      if (!acc) {
        acc = { content: '', refusal: '', reasoning: '', thinking: [], tools: new Map(), finish: null };
        choices.set(c.index, acc);
      }
      if (typeof c.delta.content === 'string') acc.content += c.delta.content;
      const refusal = (c.delta as { refusal?: unknown }).refusal;
      if (typeof refusal === 'string') acc.refusal += refusal;
      // Reasoning is kept: a cached answer of Claude's must give back its signed thinking (api/openai.ts).
      if (typeof c.delta.reasoning_content === 'string') acc.reasoning += c.delta.reasoning_content;
      if (Array.isArray(c.delta.thinking_blocks)) acc.thinking.push(...c.delta.thinking_blocks);
      for (const raw of (c.delta.tool_calls ?? []) as ToolCallDelta[]) {
        let t = acc.tools.get(raw.index);
        if (!t) {
          t = { id: '', name: '', arguments: '' };
          acc.tools.set(raw.index, t);
        }
        if (raw.id) t.id = raw.id;
        if (raw.function?.name) t.name += raw.function.name;
        if (raw.function?.arguments) t.arguments += raw.function.arguments;
      }
      if (c.finish_reason) acc.finish = c.finish_reason;
    }
  }
  if (choices.size === 0 || [...choices.values()].some((c) => c.finish === null)) return undefined;
  return {
    id: first.id,
    object: 'chat.completion',
    created: first.created,
    model: first.model,
    choices: [...choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => {
        const tools = [...c.tools.entries()]
          .sort(([a], [b]) => a - b)
          .map(([, t]) => ({
            id: t.id,
            type: 'function' as const,
            function: { name: t.name, arguments: t.arguments },
          }));
        return {
          index,
          message: {
            role: 'assistant' as const,
            content: tools.length > 0 && c.content === '' ? null : c.content,
            ...(tools.length > 0 ? { tool_calls: tools } : {}),
            refusal: c.refusal === '' ? null : c.refusal,
            ...(c.reasoning !== '' ? { reasoning_content: c.reasoning } : {}),
            ...(c.thinking.length > 0 ? { thinking_blocks: c.thinking } : {}),
          },
          finish_reason: c.finish,
          logprobs: null,
        };
      }),
    ...(usage ? { usage } : {}),
  };
}

/**
 * A cached answer replayed as a stream, in the chunks an OpenAI upstream would send: per choice a role chunk, the
 * content, each tool call (id and name, then its arguments) and the finish reason; then the usage chunk with no
 * choices. Only delivery differs from a live stream: the whole text comes in one chunk.
 */
export function chunksFromCompletion(c: ChatCompletion): ChatCompletionChunk[] {
  const chunk = (choices: ChatCompletionChunk['choices']): ChatCompletionChunk => ({
    id: c.id,
    object: 'chat.completion.chunk',
    created: c.created,
    model: c.model,
    choices,
  });
  const out: ChatCompletionChunk[] = [];
  for (const choice of c.choices) {
    const at = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: string | null = null) =>
      chunk([{ index: choice.index, delta, finish_reason: finish, logprobs: null }]);
    out.push(at({ role: 'assistant', content: '' }));
    const m = choice.message;
    // Reasoning first, as a live stream has it: each block's text as a fragment, then the block whole.
    const blocks = m.thinking_blocks ?? [];
    for (const b of blocks) {
      if (b.type === 'thinking' && b.thinking !== '') out.push(at({ reasoning_content: b.thinking }));
      out.push(at({ thinking_blocks: [b] }));
    }
    if (blocks.length === 0 && typeof m.reasoning_content === 'string' && m.reasoning_content !== '')
      out.push(at({ reasoning_content: m.reasoning_content }));
    if (typeof m.content === 'string' && m.content !== '') out.push(at({ content: m.content }));
    if (m.refusal) out.push(at({ refusal: m.refusal } as never));
    for (const [index, raw] of (m.tool_calls ?? []).entries()) {
      const tc = raw as { id?: string; function?: { name?: string; arguments?: string } };
      out.push(
        at({
          tool_calls: [
            { index, id: tc.id, type: 'function', function: { name: tc.function?.name, arguments: '' } },
          ],
        }),
      );
      if (tc.function?.arguments)
        out.push(at({ tool_calls: [{ index, function: { arguments: tc.function.arguments } }] }));
    }
    out.push(at({}, choice.finish_reason ?? 'stop'));
  }
  if (c.usage) out.push({ ...chunk([]), usage: c.usage });
  return out;
}

/** What the cache stage decided for one request: nothing (the cache does not apply), or a key and maybe a hit. */
export interface CacheLookup {
  key: string;
  directives: CacheDirectives;
  hit: CacheEntry | undefined;
}

/**
 * The cache stage, run after decide (the route and the tier are known) and before gate: a hit is answered without
 * reserving or spending anything. Undefined when the route has no cache or the request may not use it.
 */
export function lookupCache(
  cache: ResponseCache,
  spec: ResponseCacheSpec | undefined,
  scope: CacheScope,
  tier: string,
  request: ChatCompletionRequest,
  headers: { cacheControl?: string | undefined; optIn?: string | undefined },
  now: number,
): CacheLookup | undefined {
  const directives = cacheDirectives(spec, request, headers);
  if (!spec || (!directives.lookup && !directives.store)) return undefined;
  const key = cacheKey(scope, tier, request);
  return { key, directives, hit: directives.lookup ? cache.get(scope, spec, key, now) : undefined };
}

/** What a hit saved: the answer's cost at the route's baselineModel when it has one (as all savings are), else its own cost. */
export function hitSavedUSD(entry: CacheEntry, hasBaseline: boolean): number {
  return hasBaseline ? entry.baselineUSD : entry.costUSD;
}
