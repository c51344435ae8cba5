/** Portkey's open-source AI gateway (@portkey-ai/gateway from npm, installed by scripts/bench-peers.sh). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, launch, waitHttp } from '../lib/child.js';
import type { System } from './types.js';

const LOOPBACK_ONLY = fileURLToPath(new URL('./loopback-only.ts', import.meta.url));

export const portkey: System = {
  id: 'portkey',
  label: 'Portkey gateway',
  async start(ctx) {
    const pkg = join(ctx.root, '.cache/bench/portkey/node_modules/@portkey-ai/gateway');
    const entry = join(pkg, 'build/start-server.js');
    if (!existsSync(entry)) throw new Error(`not installed (${entry} missing): run scripts/bench-peers.sh`);
    const version = (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string })
      .version;
    const port = await freePort();
    // It binds every interface by default; the preload keeps it on loopback. --headless: no UI, no log stream.
    const child = launch(
      process.execPath,
      ['--no-warnings', '--import', LOOPBACK_ONLY, entry, `--port=${port}`, '--headless'],
      { cpu: ctx.cpu, env: { NODE_ENV: 'production' } },
    );
    try {
      await waitHttp(`http://127.0.0.1:${port}/`, child, 30_000);
      return {
        origin: `http://127.0.0.1:${port}`,
        path: '/v1/chat/completions',
        // Its documented way to reach any OpenAI-compatible server: the openai provider with a custom host.
        headers: {
          authorization: 'Bearer sk-bench',
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': ctx.upstreamBaseURL,
        },
        model: 'bench-model',
        child,
        version: `@portkey-ai/gateway ${version}`,
        stop: () => child.stop(),
      };
    } catch (err) {
      await child.stop();
      throw err;
    }
  },
};
