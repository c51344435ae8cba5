import { describe, expect, it } from 'vitest';
import type { ChatCompletionRequest, ChatMessage } from '../api/openai.js';
import type { Snapshot } from '../api/snapshot.js';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { isTiermeshError, type TiermeshError } from '../errors.js';
import { truncateOldest } from './context.js';
import { decide } from './decide.js';
import { explainDecision } from './explain.js';
import { estimateRequestTokens } from './tokens.js';

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');
const turn = (role: ChatMessage['role'], n: number): ChatMessage => ({ role, content: words(n) });

function routes(policy: string, maxInputTokens?: number): Snapshot {
  return compileManifests(
    parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: default }
spec:
  providers: [{ name: sim, type: simulated }]
  models:
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 0.1, outputPerMTok: 0.1 }, contextWindow: 1000 }
    - { name: big, targets: [{ provider: sim }], pricing: { inputPerMTok: 5, outputPerMTok: 5 }, contextWindow: 100000 }
  tiers:
    - { name: cheap, models: [small] }
    - { name: premium, models: [big] }
  context: { policy: ${policy}${maxInputTokens ? `, maxInputTokens: ${maxInputTokens}` : ''} }
`),
  );
}

function thrown(f: () => unknown): TiermeshError {
  try {
    f();
  } catch (e) {
    if (isTiermeshError(e)) return e;
    throw e;
  }
  throw new Error('did not throw');
}

/** A long chat: system prompt, six 300-token turns, a short question. About 1,900 tokens. */
const longChat: ChatCompletionRequest = {
  model: 'auto',
  messages: [
    { role: 'system', content: 'be brief' },
    turn('user', 300),
    turn('assistant', 300),
    turn('user', 300),
    turn('assistant', 300),
    turn('user', 300),
    turn('assistant', 300),
    { role: 'user', content: 'hi, thanks!' },
  ],
};

describe('truncateOldest', () => {
  it('returns the request untouched when it fits', () => {
    const t = truncateOldest(longChat, 100_000)!;
    expect(t.dropped).toBe(0);
    expect(t.request).toBe(longChat);
  });

  it('drops the oldest non-system turns until the estimate fits, keeping system and the last turn', () => {
    const t = truncateOldest(longChat, 700)!;
    expect(t.promptTokensAfter).toBeLessThanOrEqual(700);
    expect(t.promptTokensAfter).toBe(estimateRequestTokens(t.request));
    expect(t.promptTokensBefore).toBe(estimateRequestTokens(longChat));
    expect(t.request.messages[0]).toEqual({ role: 'system', content: 'be brief' });
    expect(t.request.messages.at(-1)).toEqual({ role: 'user', content: 'hi, thanks!' });
    // The newest turns survive: what was dropped is a prefix of the conversation.
    expect(t.request.messages.slice(1)).toEqual(longChat.messages.slice(1 + t.dropped));
    // 6 turns of ~304 tokens over a ~1,850-token prompt: four must go to get under 700, and no more.
    expect(t.dropped).toBe(4);
  });

  it('drops a tool call together with its results, never leaving a result without its call', () => {
    const req: ChatCompletionRequest = {
      model: 'auto',
      messages: [
        turn('user', 200),
        { role: 'assistant', content: null, tool_calls: [{ id: 'a', type: 'function' }] },
        { role: 'tool', tool_call_id: 'a', content: words(300) },
        { role: 'tool', tool_call_id: 'a', content: words(10) },
        turn('assistant', 50),
        { role: 'user', content: 'and now?' },
      ],
    };
    const t = truncateOldest(req, 200)!;
    expect(t.request.messages.map((m) => m.role)).toEqual(['assistant', 'user']);
    expect(t.dropped).toBe(4);
  });

  it('gives up when even the last turn alone does not fit', () => {
    expect(truncateOldest({ model: 'auto', messages: [turn('user', 50), turn('user', 500)] }, 100)).toBe(
      undefined,
    );
  });
});

describe('decide with a context policy', () => {
  it('promote (default): a prompt too long for the cheap tier goes to premium', () => {
    const d = decide({ snapshot: routes('promote'), request: longChat });
    expect(d.tierName).toBe('premium');
    expect(d.contextBumped).toBe(true);
    expect(d.truncation).toBeUndefined();
  });

  it('reject: a 400 naming the prompt and completion tokens and the largest window of the tier', () => {
    const e = thrown(() => decide({ snapshot: routes('reject'), request: { ...longChat, max_tokens: 50 } }));
    const tokens = estimateRequestTokens(longChat);
    expect(e.code).toBe('TM_CONTEXT_TOO_LONG');
    expect(e.status).toBe(400);
    expect(e.message).toBe(
      `about ${tokens} prompt tokens plus 50 completion tokens fit no model of tier "cheap" of route "default" ` +
        "(largest context window: 1000 tokens) and the route's context policy is reject",
    );
  });

  it('truncate-oldest: stays on the cheap tier with the oldest turns dropped, and says so', () => {
    const d = decide({ snapshot: routes('truncate-oldest'), request: { ...longChat, max_tokens: 100 } });
    expect(d.tierName).toBe('cheap');
    expect(d.truncation).toBeDefined();
    const t = d.truncation!;
    expect(t.promptTokensAfter).toBeLessThanOrEqual(1000 - 100);
    expect(d.estimatedPromptTokens).toBe(t.promptTokensAfter);
    expect(t.request.messages.at(-1)).toEqual(longChat.messages.at(-1));
    expect(explainDecision(d).truncation).toEqual({
      droppedMessages: t.dropped,
      promptTokensBefore: estimateRequestTokens(longChat),
      promptTokensAfter: t.promptTokensAfter,
    });
  });

  it('maxInputTokens: over the route limit is a 400 under promote and reject, truncated under truncate-oldest', () => {
    const tokens = estimateRequestTokens(longChat);
    for (const policy of ['promote', 'reject']) {
      const e = thrown(() => decide({ snapshot: routes(policy, 800), request: longChat }));
      expect(e.message).toBe(`about ${tokens} prompt tokens exceed route "default"'s maxInputTokens of 800`);
      expect(e.param).toBe('messages');
    }
    const d = decide({ snapshot: routes('truncate-oldest', 800), request: longChat });
    expect(d.truncation!.promptTokensAfter).toBeLessThanOrEqual(800);
  });

  it('truncate-oldest answers 400 when the last turn alone is too long', () => {
    const e = thrown(() =>
      decide({
        snapshot: routes('truncate-oldest', 100),
        request: { model: 'auto', messages: [turn('user', 500)] },
      }),
    );
    expect(e.code).toBe('TM_CONTEXT_TOO_LONG');
  });

  it('truncates for an explicitly requested model too', () => {
    const d = decide({ snapshot: routes('truncate-oldest'), request: { ...longChat, model: 'small' } });
    expect(d.models.map((m) => m.name)).toEqual(['small']);
    expect(d.truncation!.promptTokensAfter).toBeLessThanOrEqual(1000);
  });
});
