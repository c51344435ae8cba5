/** The tiermesh sidecar, standalone on a generated config whose only provider is the fixture (openai-compatible). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, launch, waitHttp } from '../lib/child.js';
import type { System } from './types.js';

/** One route, one model, one tier: every request is classified and routed, and always lands on the fixture. */
export function tiermeshConfig(upstreamBaseURL: string): string {
  return `apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata:
  name: default
  namespace: bench
spec:
  providers:
    - name: fixture
      type: openai-compatible
      baseURL: ${upstreamBaseURL}
  models:
    - name: bench-model
      targets: [{ provider: fixture }]
      pricing: { inputPerMTok: 0.15, outputPerMTok: 0.6 }
      contextWindow: 128000
  tiers:
    - name: cheap
      models: [bench-model]
`;
}

export const tiermesh: System = {
  id: 'tiermesh',
  label: 'tiermesh sidecar',
  async start(ctx) {
    const bin = join(ctx.root, 'bin/tiermesh.js');
    if (!existsSync(join(ctx.root, 'dist/cmd/tiermesh.js'))) throw new Error('not built: run `make build`');
    const version = (JSON.parse(readFileSync(join(ctx.root, 'package.json'), 'utf8')) as { version: string })
      .version;
    const config = join(ctx.workDir, 'tiermesh.yaml');
    writeFileSync(config, tiermeshConfig(ctx.upstreamBaseURL));
    const port = await freePort();
    const child = launch(
      process.execPath,
      [bin, 'sidecar', '--config', config, '--listen', `127.0.0.1:${port}`],
      {
        cpu: ctx.cpu,
        env: { LOG_LEVEL: 'warn' },
      },
    );
    try {
      await waitHttp(`http://127.0.0.1:${port}/readyz`, child, 30_000);
      return {
        origin: `http://127.0.0.1:${port}`,
        path: '/v1/chat/completions',
        headers: {},
        // `auto` takes the whole routing path: classification, tier choice, cascade checks.
        model: 'auto',
        child,
        version: `tiermesh ${version}`,
        stop: () => child.stop(),
      };
    } catch (err) {
      await child.stop();
      throw err;
    }
  },
};
