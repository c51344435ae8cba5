/**
 * POST /v1/messages/count_tokens, the Anthropic SDK's `messages.countTokens`: agents (Claude Code among them) ask it
 * how much of the context window a conversation takes before they send it. The body is translated as a /v1/messages
 * call would be, and counted by the sidecar's own estimator (routing/tokens.ts), the figure it checks context windows
 * and budgets with. An estimate, said so in `x-tiermesh-token-count: estimate`: which model answers is decided per
 * request, and the sidecar carries no provider's tokenizer. A model the sidecar does not serve is a 404, as
 * /v1/messages answers it: a count for a model that cannot be called would mislead.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { anthropicCountTokensRequest } from '../../api/anthropic-messages.js';
import type { Snapshot } from '../../api/snapshot.js';
import { TiermeshError } from '../../errors.js';
import { sendError, sendJson } from '../../http/reply.js';
import { resolveRoute } from '../../routing/decide.js';
import { estimateRequestTokens } from '../../routing/tokens.js';
import { readJsonRequest } from '../inbound.js';
import { fromAnthropicRequest } from './anthropic-messages.js';

/** `snapshot`: the config in force, undefined until one is loaded. */
export function countTokensHandler(maxBodyBytes: number, snapshot: () => Snapshot | undefined) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const body = await readJsonRequest(req, maxBodyBytes, anthropicCountTokensRequest);
      const request = fromAnthropicRequest({ ...body, max_tokens: body.max_tokens ?? 1 });
      const current = snapshot();
      if (!current) throw new TiermeshError('TM_NOT_READY', 'no config loaded yet', { retryAfter: 1 });
      resolveRoute(current, request.model);
      sendJson(
        res,
        200,
        { input_tokens: estimateRequestTokens(request) },
        { 'x-tiermesh-token-count': 'estimate' },
      );
    } catch (e) {
      sendError(res, e, { dialect: 'anthropic' });
    }
  };
}
