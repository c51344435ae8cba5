/**
 * POST /v1/explain: how this sidecar would route a chat-completions body right now, as `tiermesh explain` prints it,
 * plus what only a running sidecar knows: the latency observations spec.slo (and a p95 hedge) select on, the queue
 * occupancy of spec.queue's limited targets, and the conversation's stickiness. The body and the routing headers
 * are read exactly as for /v1/chat/completions; no provider is called, no budget is touched, nothing is remembered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TiermeshError, toTiermeshError } from '../errors.js';
import { sendError, sendJson } from '../http/reply.js';
import { explainDecision } from '../routing/explain.js';
import type { LatencyBoard } from '../routing/latency.js';
import type { ConfigStore } from './config-store.js';
import type { Conversations } from './conversations.js';
import { openAIChatAdapter } from './inbound.js';
import type { TargetQueues } from './queues.js';
import { decideRoute } from './route.js';
import type { SidecarRuntime } from './runtime.js';

export interface ExplainDeps {
  store: ConfigStore<SidecarRuntime>;
  maxBodyBytes: number;
  conversations: Conversations;
  /** The route's observation board, when it has one (never created here). */
  latency: (route: string) => LatencyBoard | undefined;
  queues: TargetQueues;
  now: () => number;
  random: () => number;
}

export function explainHandler(deps: ExplainDeps) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const runtime = deps.store.current;
    if (!runtime) {
      sendError(res, new TiermeshError('TM_NOT_READY', 'no config loaded yet', { retryAfter: 1 }));
      return;
    }
    try {
      const { inbound } = await openAIChatAdapter.parse(req, deps.maxBodyBytes);
      const now = deps.now();
      // lookup only reads the conversation map: an explain neither starts nor extends a conversation.
      const conversation = deps.conversations.lookup(runtime, inbound, now);
      // readOnly: the learned scorer's window is left as it is, so the next real request is placed as if no
      // explain had been asked.
      const d = decideRoute(runtime, inbound, deps.random(), conversation?.state, { readOnly: true });
      const board = deps.latency(d.route);
      sendJson(
        res,
        200,
        explainDecision(d, {
          latency: board ? (key) => board.view(key, now) : undefined,
          queue: (provider, model) => deps.queues.view(d.route, provider, model),
        }),
      );
    } catch (e) {
      const err = toTiermeshError(e);
      // The rest of a body over the limit is never read: the connection cannot be reused.
      sendError(res, err, err.code === 'TM_BODY_TOO_LARGE' ? { headers: { connection: 'close' } } : {});
    }
  };
}
