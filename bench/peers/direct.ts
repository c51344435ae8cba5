/** The baseline: requests go straight to the fixture upstream, with no proxy in between. */
import type { System } from './types.js';

export const direct: System = {
  id: 'direct',
  label: 'direct (no proxy)',
  async start(ctx) {
    const url = new URL(ctx.upstreamBaseURL);
    return {
      origin: url.origin,
      path: `${url.pathname.replace(/\/$/, '')}/chat/completions`,
      headers: { authorization: 'Bearer sk-bench' },
      model: 'bench-model',
      version: '-',
      stop: async () => {},
    };
  },
};
