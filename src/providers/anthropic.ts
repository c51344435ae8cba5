/** Adapter for the Anthropic Messages API: OpenAI requests translated in, Anthropic answers translated back out. */
import type { Provider } from '../api/modelroute.js';
import type { ChatCompletion, ChatCompletionChunk } from '../api/openai.js';
import { anthropicBetas, betaHeader } from './anthropic-beta.js';
import {
  AnthropicStreamTranslator,
  fromAnthropicMessage,
  isAnthropicMessage,
  toAnthropicRequest,
  untranslatable,
} from './anthropic-translate.js';
import { withRateLimits } from './chat-answer-text.js';
import { FirstOutput } from './first-output.js';
import { postUpstream, readJson, readSse } from './http.js';
import type { KeyResolution } from './keys.js';
import { beforeSending, type ProviderAdapter, ProviderError, type UpstreamCall } from './types.js';

export const ANTHROPIC_BASE_URL = 'https://api.anthropic.com';
export const ANTHROPIC_VERSION = '2023-06-01';

export function createAnthropicAdapter(p: Provider, key: () => KeyResolution): ProviderAdapter {
  // Accept both the SDK style base ("https://api.anthropic.com") and one that already ends in /v1.
  const base = (p.baseURL ?? ANTHROPIC_BASE_URL).replace(/\/+$/, '');
  const url = base.endsWith('/v1') ? `${base}/messages` : `${base}/v1/messages`;
  const name = p.name;

  /** Declines what the translation cannot carry; `unavailable` so failover moves on without blaming the upstream. */
  function translatable(body: UpstreamCall['body']): void {
    const why = untranslatable(body);
    if (why) throw new ProviderError('unavailable', `provider "${name}": ${why}`);
  }

  /** The configured headers' anthropic-beta (any case), merged with the client's forwardable betas. */
  const configured = Object.entries(p.headers ?? {}).find(([k]) => k.toLowerCase() === 'anthropic-beta');
  const others = Object.fromEntries(
    Object.entries(p.headers ?? {}).filter(([k]) => k.toLowerCase() !== 'anthropic-beta'),
  );

  function auth(body: UpstreamCall['body']): { headers: Record<string, string>; secret: string } {
    const k = key();
    if (!k.ok) throw new ProviderError('unavailable', `provider "${name}" has no API key: ${k.why}`);
    const beta = betaHeader(configured?.[1], anthropicBetas(body));
    return {
      headers: {
        'anthropic-version': ANTHROPIC_VERSION,
        ...others,
        ...(beta ? { 'anthropic-beta': beta } : {}),
        'x-api-key': k.key,
      },
      secret: k.key,
    };
  }

  return {
    name,
    type: p.type,
    unavailable() {
      const k = key();
      return k.ok ? undefined : `provider "${name}" has no API key: ${k.why}`;
    },
    async complete(call: UpstreamCall): Promise<ChatCompletion> {
      translatable(call.body);
      const { headers, secret } = auth(call.body);
      const body = beforeSending('translating to Anthropic', () =>
        toAnthropicRequest({ ...call.body, stream: false }),
      );
      const open = await postUpstream(
        { provider: name, vendor: 'anthropic', url, headers, body, secrets: [secret] },
        call,
      );
      const json = await readJson(open, name);
      if (!isAnthropicMessage(json))
        throw new ProviderError('bad_response', `provider "${name}": answer is not a message`);
      // Anthropic's anthropic-ratelimit-* headers come along with the answer (answerRateLimits).
      return withRateLimits(fromAnthropicMessage(json), open.headers);
    },
    async *stream(call: UpstreamCall): AsyncGenerator<ChatCompletionChunk> {
      translatable(call.body);
      const { headers, secret } = auth(call.body);
      const body = beforeSending('translating to Anthropic', () =>
        toAnthropicRequest({ ...call.body, stream: true }),
      );
      const open = await postUpstream(
        { provider: name, vendor: 'anthropic', url, headers, body, secrets: [secret] },
        call,
      );
      const t = new AnthropicStreamTranslator(name, call.body.model);
      // The first-byte deadline is about useful output: neither a ping nor message_start's role chunk disarms it.
      const gate = new FirstOutput(open.firstByte, open.headers);
      for await (const ev of readSse(open, name)) {
        let data: unknown;
        try {
          data = JSON.parse(ev.data);
        } catch {
          throw new ProviderError('bad_response', `provider "${name}": stream event is not valid JSON`);
        }
        for (const chunk of t.onEvent(ev.event, data)) yield* gate.take(chunk);
        if (t.done) {
          open.whole = true;
          yield* gate.rest();
          return;
        }
      }
      throw new ProviderError('stream_broken', `provider "${name}": stream ended without message_stop`);
    },
  };
}
