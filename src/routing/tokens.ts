/**
 * Fast prompt-token estimates, without a tokenizer: good enough to check context windows and estimate cost.
 *
 *   estimateTextTokens(text: string): number
 *   messageText(message: ChatMessage): string            all text parts of one message
 *   estimateMessageTokens(message: ChatMessage): number  one message's share of estimateRequestTokens
 *   estimateRequestTokens(req: ChatCompletionRequest): number   messages + tools/schema, with per-message overhead
 *   requestedMaxTokens(req: ChatCompletionRequest): number      max_completion_tokens ?? max_tokens ?? 0
 */
import type { ChatCompletionRequest, ChatMessage } from '../api/openai.js';

/** OpenAI's documented chat overhead: ~4 tokens of framing per message and 3 to prime the reply. */
const PER_MESSAGE_TOKENS = 4;
const REPLY_PRIMING_TOKENS = 3;

// Character classes, as small ints so the hot loop stays monomorphic.
const SPACE = 0;
const WORD = 1;
const OTHER = 2;
const PUNCT = 3;
const WIDE = 4;

function kindOf(c: number): number {
  if (c === 32 || c === 9 || c === 10 || c === 13) return SPACE;
  if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95) return WORD;
  if (c < 128) return PUNCT;
  // CJK ideographs, kana, hangul, fullwidth forms: BPE vocabularies spend about one token per character.
  if (
    (c >= 0x2e80 && c <= 0x9fff) ||
    (c >= 0xac00 && c <= 0xd7af) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xff00 && c <= 0xffef) ||
    (c >= 0x3000 && c <= 0x303f)
  )
    return WIDE;
  // Surrogates (emoji and rare scripts) cost more than a letter; count them as symbols.
  if (c >= 0xd800 && c <= 0xdfff) return PUNCT;
  return OTHER;
}

function runCost(kind: number, run: number): number {
  // Common words up to 7 letters are one token in GPT vocabularies; longer ones split every ~5 characters.
  if (kind === WORD) return run <= 7 ? 1 : 1 + Math.ceil((run - 7) / 5);
  if (kind === OTHER) return Math.ceil(run / 2.5);
  if (kind === PUNCT) return Math.ceil(run / 2);
  if (kind === WIDE) return run;
  // A run of spaces merges into the next token; only indentation-sized runs cost their own token.
  return run > 3 ? 1 : 0;
}

/**
 * One pass over the UTF-16 code units. ASCII words cost one token up to 7 letters (about chars/4 over prose,
 * spaces included), other alphabets ~1 per 2.5, wide scripts 1 per character, and symbol runs ~1 per 2
 * characters, which is why code, dense with brackets and operators, estimates higher than prose of the same length.
 */
export function estimateTextTokens(text: string): number {
  let tokens = 0;
  let run = 0;
  let kind = SPACE;
  for (let i = 0; i < text.length; i++) {
    const k = kindOf(text.charCodeAt(i));
    if (k !== kind) {
      if (run > 0) tokens += runCost(kind, run);
      kind = k;
      run = 0;
    }
    run++;
  }
  if (run > 0) tokens += runCost(kind, run);
  return tokens;
}

/** The text of a message: a string content, or every `text` part of an array content. */
export function messageText(message: ChatMessage): string {
  const c = message.content;
  if (typeof c === 'string') return c;
  if (!Array.isArray(c)) return '';
  let out = '';
  for (const part of c) {
    if (part.type === 'text' && typeof (part as { text?: unknown }).text === 'string') {
      out += out ? `\n${(part as { text: string }).text}` : (part as { text: string }).text;
    }
  }
  return out;
}

/** One message's share of the prompt: its text, name and tool calls, plus the per-message framing. */
export function estimateMessageTokens(m: ChatMessage): number {
  let tokens = PER_MESSAGE_TOKENS + estimateTextTokens(messageText(m));
  if (m.name) tokens += 1;
  if (m.tool_calls && m.tool_calls.length > 0) tokens += estimateTextTokens(JSON.stringify(m.tool_calls));
  return tokens;
}

/** Prompt tokens of a whole request: every message's text and tool calls, plus tools and a JSON schema if sent. */
export function estimateRequestTokens(req: ChatCompletionRequest): number {
  let tokens = REPLY_PRIMING_TOKENS;
  for (const m of req.messages) tokens += estimateMessageTokens(m);
  const tools = (req as { tools?: unknown }).tools;
  if (Array.isArray(tools) && tools.length > 0) tokens += estimateTextTokens(JSON.stringify(tools));
  const rf = req.response_format;
  if (rf?.type === 'json_schema' && rf.json_schema.schema)
    tokens += estimateTextTokens(JSON.stringify(rf.json_schema.schema));
  return tokens;
}

/** The completion budget the client asked for; 0 when it left it to the model. */
export function requestedMaxTokens(req: ChatCompletionRequest): number {
  return req.max_completion_tokens ?? req.max_tokens ?? 0;
}
