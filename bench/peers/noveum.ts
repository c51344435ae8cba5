/**
 * The compiled peer: Noveum's AI Gateway, Rust (axum + hyper + reqwest), from the crates registry at a pinned version, built
 * into .cache/peers by bench/peers/install-compiled.sh. Reaches the fixture through its documented OPENAI_BASE_URL
 * override (the OpenAI SDK convention) with `x-provider: openai`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, launch, waitHttp } from '../lib/child.js';
import type { System } from './types.js';

export const NOVEUM_NAME = 'noveum-ai-gateway';
export const NOVEUM_VERSION = '2.0.1';

/** Its environment: bound to loopback, OpenAI traffic to the fixture, no platform (Nova Guard) bridge, no telemetry. */
export function noveumEnv(upstreamBaseURL: string, port: number): Record<string, string> {
  // It appends the request path (/v1/chat/completions) to the base, so the base is the fixture's origin.
  const origin = new URL(upstreamBaseURL).origin;
  return {
    HOST: '127.0.0.1',
    PORT: String(port),
    OPENAI_BASE_URL: origin,
    // Warnings and errors only, as the tiermesh sidecar runs here; its default (info) logs every request.
    RUST_LOG: 'warn',
    DEBUG_METRICS: 'false',
  };
}

export const noveum: System = {
  id: 'noveum',
  label: 'Noveum AI Gateway (Rust)',
  async start(ctx) {
    const root = join(ctx.root, '.cache/peers', NOVEUM_NAME);
    const bin = join(root, 'bin', NOVEUM_NAME);
    if (!existsSync(bin) || !existsSync(join(root, `.installed-${NOVEUM_VERSION}`)))
      throw new Error(`not built (${bin} missing): run bench/peers/install-compiled.sh`);
    const port = await freePort();
    // cwd: the scratch dir, so the `.env` file it loads at start-up (dotenvy) cannot be one of ours.
    const child = launch(bin, [], {
      cpu: ctx.cpu,
      cwd: ctx.workDir,
      env: noveumEnv(ctx.upstreamBaseURL, port),
    });
    try {
      await waitHttp(`http://127.0.0.1:${port}/health`, child, 30_000);
      return {
        origin: `http://127.0.0.1:${port}`,
        path: '/v1/chat/completions',
        headers: { authorization: 'Bearer sk-bench', 'x-provider': 'openai' },
        // A model its pricing catalog knows: with an unknown one it logs a warning per request. The fixture answers
        // every model alike.
        model: 'gpt-4o-mini',
        child,
        version: `${NOVEUM_NAME} ${NOVEUM_VERSION}`,
        stop: () => child.stop(),
      };
    } catch (err) {
      await child.stop();
      throw err;
    }
  },
};
