/**
 * Context-window policy (`spec.context`): what happens to a prompt that fits no model of the chosen tier, or is over
 * the route's `maxInputTokens`.
 *
 *   promote           today's behaviour: the next costlier tier that fits (over maxInputTokens: 400)
 *   reject            400 naming the token counts
 *   truncate-oldest   drop the oldest non-system turns until the prompt fits; the answer says how many
 *
 *   truncateOldest(request, limitTokens): Truncation | undefined   undefined when even the last turn does not fit
 *   overRouteLimit(route, promptTokens, maxInputTokens): TiermeshError
 *   tierTooSmall(route, tier, promptTokens, maxTokens, largest, policy): TiermeshError
 *
 * Turns are dropped whole: an assistant message that called tools goes with the tool results that answer it, so the
 * upstream never sees a tool result without its call. System and developer messages always stay, and so does the
 * last turn (the question being asked).
 */
import type { ChatCompletionRequest, ChatMessage } from '../api/openai.js';
import { TiermeshError } from '../errors.js';
import { estimateMessageTokens, estimateRequestTokens } from './tokens.js';

export const TRUNCATED_HEADER = 'x-tiermesh-truncated';

export interface Truncation {
  request: ChatCompletionRequest;
  /** Messages removed. */
  dropped: number;
  promptTokensBefore: number;
  promptTokensAfter: number;
}

const kept = (m: ChatMessage) => m.role === 'system' || m.role === 'developer';

/** Start index of each droppable turn: a non-system message, with the tool results that follow a tool-calling one. */
function turns(messages: readonly ChatMessage[]): Array<{ start: number; end: number }> {
  const out: Array<{ start: number; end: number }> = [];
  let i = 0;
  while (i < messages.length) {
    if (kept(messages[i]!)) {
      i++;
      continue;
    }
    const start = i;
    i++;
    // Tool results belong to the call before them; orphans at the front (a call dropped earlier) go with it too.
    while (i < messages.length && (messages[i]!.role === 'tool' || messages[i]!.role === 'function')) i++;
    out.push({ start, end: i });
  }
  return out;
}

export function truncateOldest(req: ChatCompletionRequest, limitTokens: number): Truncation | undefined {
  const before = estimateRequestTokens(req);
  if (before <= limitTokens)
    return { request: req, dropped: 0, promptTokensBefore: before, promptTokensAfter: before };
  const ts = turns(req.messages);
  const drop = new Set<number>();
  let tokens = before;
  // Never the last turn: without the question there is nothing to answer.
  for (let t = 0; t < ts.length - 1 && tokens > limitTokens; t++) {
    for (let i = ts[t]!.start; i < ts[t]!.end; i++) {
      drop.add(i);
      tokens -= estimateMessageTokens(req.messages[i]!);
    }
  }
  if (tokens > limitTokens) return undefined;
  const messages = req.messages.filter((_, i) => !drop.has(i));
  const request = { ...req, messages };
  return {
    request,
    dropped: drop.size,
    promptTokensBefore: before,
    promptTokensAfter: estimateRequestTokens(request),
  };
}

export function overRouteLimit(route: string, promptTokens: number, maxInputTokens: number): TiermeshError {
  return new TiermeshError(
    'TM_CONTEXT_TOO_LONG',
    `about ${promptTokens} prompt tokens exceed route "${route}"'s maxInputTokens of ${maxInputTokens}`,
    { param: 'messages' },
  );
}

export function tierTooSmall(
  route: string,
  tier: string,
  promptTokens: number,
  maxTokens: number,
  largest: number,
  policy: 'promote' | 'reject' | 'truncate-oldest',
): TiermeshError {
  const why =
    policy === 'truncate-oldest'
      ? 'even with every older turn dropped'
      : `and the route's context policy is ${policy}`;
  return new TiermeshError(
    'TM_CONTEXT_TOO_LONG',
    `about ${promptTokens} prompt tokens plus ${maxTokens} completion tokens fit no model of tier "${tier}" of ` +
      `route "${route}" (largest context window: ${largest} tokens) ${why}`,
    { param: 'messages' },
  );
}
