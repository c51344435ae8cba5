/**
 * Per-model request adaptation (`models[].request`), applied after routing to the body one target is sent:
 * providers disagree on parameters (reasoning models refuse `temperature`, some cap output lower than the client
 * asks), so the route says once per model what to default, cap, drop or prefix, and routing stays model-agnostic.
 */
import type { ModelEntry, ProviderType, RequestAdaptation } from '../api/modelroute.js';
import type { ChatCompletionRequest } from '../api/openai.js';

/**
 * OpenAI's reasoning families: o1, o3, o4-mini, ... (`o<digit>`) and gpt-5 (gpt-5, gpt-5-mini, gpt-5.1, ...). They
 * refuse `max_tokens` (400 "use max_completion_tokens instead"); every current OpenAI chat model takes
 * `max_completion_tokens`, so a wrong guess on the other side costs nothing. A vendor prefix (`openai/o3`) is
 * ignored. The same rule as LiteLLM's o-series and gpt-5 configs.
 */
const OPENAI_REASONING = /^(?:o\d+|gpt-5)(?:$|[-._:])/;

export function isOpenAIReasoningModel(id: string): boolean {
  return OPENAI_REASONING.test(id.slice(id.lastIndexOf('/') + 1).toLowerCase());
}

/**
 * The OpenAI models served only on the Responses API (POST /v1/responses refuses nothing; /v1/chat/completions
 * answers them with 404 "This model is only supported in v1/responses"): the codex and pro variants and
 * codex-mini-latest, dated snapshots included. A vendor prefix (`openai/o3-pro`) is ignored.
 */
const OPENAI_RESPONSES_ONLY = /^(?:gpt-5(?:\.\d+)?-(?:codex|pro)|o\d+-pro|codex-mini)(?:$|[-._:])/;

export function isOpenAIResponsesOnlyModel(id: string): boolean {
  return OPENAI_RESPONSES_ONLY.test(id.slice(id.lastIndexOf('/') + 1).toLowerCase());
}

/**
 * The adaptation one target is sent with: its entry's own, plus `maxTokensParam: max_completion_tokens` for an
 * OpenAI reasoning model on an openai or azure-openai provider, unless the entry says which parameter itself. The
 * upstream model id or the entry's name may tell the family: an Azure deployment can be named anything, and the
 * entry's name is then the only model name in the config. A Responses-only OpenAI model on an openai provider is
 * called on the Responses API unless the entry says `api` itself. Computed once per target and config version.
 */
export function targetAdaptation(
  providerType: ProviderType,
  entry: Pick<ModelEntry, 'name' | 'request'>,
  upstreamModel: string,
): RequestAdaptation | undefined {
  const a =
    providerType === 'openai' && entry.request?.api === undefined && isOpenAIResponsesOnlyModel(upstreamModel)
      ? { ...entry.request, api: 'responses' as const }
      : entry.request;
  if (a?.maxTokensParam !== undefined) return a;
  if (providerType !== 'openai' && providerType !== 'azure-openai') return a;
  if (!isOpenAIReasoningModel(upstreamModel) && !isOpenAIReasoningModel(entry.name)) return a;
  return { ...a, maxTokensParam: 'max_completion_tokens' };
}

type Message = ChatCompletionRequest['messages'][number];

/** The body as this model should get it; the input is never mutated, and without an adaptation it is returned as is. */
export function adaptRequest(
  body: ChatCompletionRequest,
  a: RequestAdaptation | undefined,
): ChatCompletionRequest {
  if (!a) return body;
  const out: Record<string, unknown> = { ...body };
  for (const [k, v] of Object.entries(a.defaults ?? {})) {
    if (v !== undefined && (out[k] === undefined || out[k] === null)) out[k] = v;
  }
  if (a.maxTokensCap !== undefined) {
    for (const k of ['max_tokens', 'max_completion_tokens'] as const) {
      const v = out[k];
      if (typeof v === 'number' && v > a.maxTokensCap) out[k] = a.maxTokensCap;
    }
    // A client that set no limit gets the cap: the model's own default may be above it.
    if (out['max_tokens'] == null && out['max_completion_tokens'] == null)
      out[a.maxTokensParam ?? 'max_tokens'] = a.maxTokensCap;
  }
  if (a.maxTokensParam) {
    // One limit, under the name this model takes; a client that sent both keeps the one the model takes.
    const other = a.maxTokensParam === 'max_tokens' ? 'max_completion_tokens' : 'max_tokens';
    if (other in out) {
      if (out[a.maxTokensParam] == null) out[a.maxTokensParam] = out[other];
      delete out[other];
    }
  }
  for (const k of a.drop ?? []) delete out[k];
  if (a.systemPrefix) out['messages'] = withSystemPrefix(body.messages, a.systemPrefix);
  return out as ChatCompletionRequest;
}

function withSystemPrefix(messages: Message[], prefix: string): Message[] {
  const i = messages.findIndex((m) => m.role === 'system' || m.role === 'developer');
  if (i < 0) return [{ role: 'system', content: prefix } as Message, ...messages];
  const m = messages[i]!;
  const content =
    typeof m.content === 'string'
      ? `${prefix}\n\n${m.content}`
      : Array.isArray(m.content)
        ? [{ type: 'text', text: prefix }, ...m.content]
        : prefix;
  const copy = messages.slice();
  copy[i] = { ...m, content } as Message;
  return copy;
}

/** What an adaptation does, in words, for `tiermesh explain`. */
export function describeAdaptation(a: RequestAdaptation | undefined): string[] {
  if (!a) return [];
  const out: string[] = [];
  if (a.systemPrefix) out.push(`system prefix (${a.systemPrefix.length} chars)`);
  for (const [k, v] of Object.entries(a.defaults ?? {})) if (v !== undefined) out.push(`default ${k}=${v}`);
  if (a.maxTokensCap !== undefined) out.push(`cap max_tokens at ${a.maxTokensCap}`);
  if (a.maxTokensParam) out.push(`send the output limit as ${a.maxTokensParam}`);
  if (a.api === 'responses') out.push('call the Responses API');
  for (const k of a.drop ?? []) out.push(`drop ${k}`);
  return out;
}
