/** LiteLLM proxy (litellm[proxy] from PyPI in .cache/bench/venv, installed by scripts/bench-peers.sh). */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, launch, waitHttp } from '../lib/child.js';
import type { System } from './types.js';

/** Its config: one model, the fixture as an OpenAI-compatible api_base; no database, no auth, no callbacks. */
export function litellmConfig(upstreamBaseURL: string): string {
  return [
    'model_list:',
    '  - model_name: bench-model',
    '    litellm_params:',
    '      model: openai/bench-model',
    `      api_base: ${upstreamBaseURL}`,
    '      api_key: sk-bench',
    'litellm_settings:',
    '  telemetry: false',
    '  drop_params: true',
    '',
  ].join('\n');
}

export const litellm: System = {
  id: 'litellm',
  label: 'LiteLLM proxy',
  async start(ctx) {
    const venv = join(ctx.root, '.cache/bench/venv');
    const bin = join(venv, 'bin/litellm');
    if (!existsSync(bin)) throw new Error(`not installed (${bin} missing): run scripts/bench-peers.sh`);
    const version = execFileSync(
      join(venv, 'bin/python'),
      ['-c', 'import importlib.metadata as m; print(m.version("litellm"))'],
      {
        encoding: 'utf8',
      },
    ).trim();
    const config = join(ctx.workDir, 'litellm.yaml');
    writeFileSync(config, litellmConfig(ctx.upstreamBaseURL));
    const port = await freePort();
    const child = launch(
      bin,
      ['--config', config, '--host', '127.0.0.1', '--port', String(port), '--num_workers', '1'],
      {
        cpu: ctx.cpu,
        env: {
          // Use the cost map shipped in the package instead of fetching it, and send no telemetry.
          LITELLM_LOCAL_MODEL_COST_MAP: 'True',
          LITELLM_TELEMETRY: 'False',
          LITELLM_LOG: 'ERROR',
          PYTHONUNBUFFERED: '1',
        },
      },
    );
    try {
      await waitHttp(`http://127.0.0.1:${port}/health/liveliness`, child, 120_000);
      return {
        origin: `http://127.0.0.1:${port}`,
        path: '/v1/chat/completions',
        headers: { authorization: 'Bearer sk-bench' },
        model: 'bench-model',
        child,
        version: `litellm ${version}`,
        stop: () => child.stop(),
      };
    } catch (err) {
      await child.stop();
      throw err;
    }
  },
};
