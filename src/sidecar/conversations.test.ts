import { afterEach, describe, expect, it } from 'vitest';
import { compileManifests, parseManifests } from '../config/manifests.js';
import { BreakerBoard } from '../providers/breaker.js';
import { defaultKeyEnv } from '../providers/keys.js';
import { decide } from '../routing/decide.js';
import { Conversations } from './conversations.js';
import type { InboundRequest } from './inbound.js';
import { runtimeBuilder } from './runtime.js';

const yaml = (sticky: boolean) => `
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: r, namespace: t }
spec:
  providers: [{ name: sim, type: simulated }]
  models:
    - { name: small, targets: [{ provider: sim }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 8000 }
    - { name: big, targets: [{ provider: sim }], pricing: { inputPerMTok: 9, outputPerMTok: 9 }, contextWindow: 8000 }
  tiers: [{ name: cheap, models: [small] }, { name: premium, models: [big] }]
  stickiness: { enabled: ${sticky}, ttlSeconds: 10 }
`;
let board = new BreakerBoard();
afterEach(() => {
  board.shutdown();
  board = new BreakerBoard();
});
const runtime = (sticky: boolean) =>
  runtimeBuilder({ breakers: board, keyEnv: defaultKeyEnv({}) })(
    compileManifests(parseManifests(yaml(sticky))),
    undefined,
  );
const inbound = (session?: string) =>
  ({
    request: { model: 'auto', messages: [{ role: 'user', content: 'hello' }] },
    headers: { task: undefined, user: undefined, ...(session ? { session } : {}) },
  }) as unknown as InboundRequest;

describe('Conversations', () => {
  it('remembers where a conversation was served, per session, until its TTL', () => {
    const rt = runtime(true);
    const c = new Conversations();
    const first = c.lookup(rt, inbound('s1'), 0)!;
    expect(first.state).toBeUndefined();
    const d = decide({ snapshot: rt.snapshot, request: inbound().request });
    first.remember(d, 'premium', 'big', 0);
    expect(c.lookup(rt, inbound('s1'), 5_000)!.state).toEqual({ tierIndex: 1, model: 'big' });
    expect(c.lookup(rt, inbound('s2'), 5_000)!.state).toBeUndefined();
    expect(c.lookup(rt, inbound('s1'), 10_000)!.state).toBeUndefined();
  });

  it('costs nothing for routes without stickiness or unknown models', () => {
    const c = new Conversations();
    expect(c.lookup(runtime(false), inbound('s1'), 0)).toBeUndefined();
    const rt = runtime(true);
    expect(
      c.lookup(rt, { ...inbound('s1'), request: { model: 'nope', messages: [] } } as never, 0),
    ).toBeUndefined();
  });
});
