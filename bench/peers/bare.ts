/** The floor: a bare node:http pass-through proxy (bare-proxy-server.ts) in its own process. */
import { fileURLToPath } from 'node:url';
import { launch, waitListening } from '../lib/child.js';
import type { System } from './types.js';

const SERVER = fileURLToPath(new URL('./bare-proxy-server.ts', import.meta.url));

export const bare: System = {
  id: 'bare',
  label: 'bare node:http proxy',
  async start(ctx) {
    const upstream = new URL(ctx.upstreamBaseURL);
    const child = launch(process.execPath, ['--no-warnings', SERVER, '--upstream', upstream.origin], {
      cpu: ctx.cpu,
    });
    try {
      const port = await waitListening(child, 15_000);
      return {
        origin: `http://127.0.0.1:${port}`,
        path: `${upstream.pathname.replace(/\/$/, '')}/chat/completions`,
        headers: { authorization: 'Bearer sk-bench' },
        model: 'bench-model',
        child,
        version: `node ${process.version}`,
        stop: () => child.stop(),
      };
    } catch (err) {
      await child.stop();
      throw err;
    }
  },
};
