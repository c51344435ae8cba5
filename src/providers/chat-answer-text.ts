/**
 * An OpenAI chat answer that keeps the upstream's own text, so that one passed on unchanged is sent as those bytes
 * instead of serialized again (respond.ts). Only the chat path parses this way (openai.ts complete): an embeddings
 * answer, possibly megabytes of vectors, is parsed plainly and keeps no second copy.
 */
import { rateLimitHeaders } from './upstream-errors.js';

const SOURCE_TEXT = Symbol('tiermesh.sourceText');
const RATE_LIMITS = Symbol('tiermesh.rateLimits');

/**
 * The text a whole JSON answer was parsed from, when `value` is that parsed answer as it came. Kept on the object
 * under a non-enumerable symbol: JSON.stringify and spreads leave it out, so a copy made to change the answer does
 * not carry it, and an answer passed on unchanged can be sent as the upstream's own bytes instead of serialized
 * again (respond.ts). Parsed answers are never changed in place, and are frozen to keep it so (freezeAnswer).
 */
export function sourceText(value: object): string | undefined {
  return (value as { [SOURCE_TEXT]?: string })[SOURCE_TEXT];
}

/**
 * The upstream's rate-limit headers (x-ratelimit-*, anthropic-ratelimit-*) that came with this answer, when it is the
 * parsed answer as it came and they sent any. Kept as the text is: a copy (a cached answer) does not carry them.
 */
export function answerRateLimits(value: object): Record<string, string> | undefined {
  return (value as { [RATE_LIMITS]?: Record<string, string> })[RATE_LIMITS];
}

/** JSON.parse for a chat answer: the parsed answer, tagged with its text and rate limits, and frozen. */
export function parsedChatAnswer(
  text: string,
  headers?: Record<string, string | string[] | undefined>,
): unknown {
  const v: unknown = JSON.parse(text);
  if (typeof v === 'object' && v !== null) {
    Object.defineProperty(v, SOURCE_TEXT, { value: text });
    if (headers) withRateLimits(v, headers);
    freezeAnswer(v as { choices?: unknown; usage?: unknown });
  }
  return v;
}

/**
 * Tags `value` (a parsed answer, or a stream's first chunk) with the rate-limit headers of the response it came in,
 * for answerRateLimits; a response without any leaves it as it is.
 */
export function withRateLimits<T extends object>(
  value: T,
  headers: Record<string, string | string[] | undefined>,
): T {
  const limits = rateLimitHeaders((name) => {
    const h = headers[name];
    return Array.isArray(h) ? h[0] : h;
  });
  if (limits) Object.defineProperty(value, RATE_LIMITS, { value: limits });
  return value;
}

/**
 * What respond.ts would send as the upstream's text is frozen, so that a later change in place fails loudly (a
 * TypeError in strict code) instead of the client silently getting the text from before it: the answer itself, its
 * choices, each choice and message, and usage.
 */
function freezeAnswer(v: { choices?: unknown; usage?: unknown }): void {
  if (Array.isArray(v.choices)) {
    for (const c of v.choices as unknown[]) {
      if (typeof c !== 'object' || c === null) continue;
      const m = (c as { message?: unknown }).message;
      if (typeof m === 'object' && m !== null) Object.freeze(m);
      Object.freeze(c);
    }
    Object.freeze(v.choices);
  }
  if (typeof v.usage === 'object' && v.usage !== null) Object.freeze(v.usage);
  Object.freeze(v);
}
