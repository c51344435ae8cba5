import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileManifests, parseManifests } from '../../src/config/manifests.js';
import { litellmConfig } from './litellm.js';
import { noveumEnv } from './noveum.js';
import { tiermeshConfig } from './tiermesh.js';

describe('generated peer configs', () => {
  it('tiermesh: a valid standalone config whose only provider is the fixture', () => {
    const snapshot = compileManifests(parseManifests(tiermeshConfig('http://127.0.0.1:4321/v1')));
    const route = snapshot.routes[0]!;
    expect(snapshot.defaultRoute).toBe('default');
    expect(route.spec.providers).toEqual([
      expect.objectContaining({ type: 'openai-compatible', baseURL: 'http://127.0.0.1:4321/v1' }),
    ]);
    expect(route.spec.tiers.map((t) => t.models)).toEqual([['bench-model']]);
  });

  it('litellm: one openai/ model pointed at the fixture', () => {
    const cfg = parse(litellmConfig('http://127.0.0.1:4321/v1')) as {
      model_list: Array<{ model_name: string; litellm_params: Record<string, string> }>;
    };
    expect(cfg.model_list).toEqual([
      {
        model_name: 'bench-model',
        litellm_params: {
          model: 'openai/bench-model',
          api_base: 'http://127.0.0.1:4321/v1',
          api_key: 'sk-bench',
        },
      },
    ]);
  });

  it('noveum: loopback only, OpenAI traffic to the fixture origin (it appends /v1/... itself)', () => {
    expect(noveumEnv('http://127.0.0.1:4321/v1', 5555)).toEqual({
      HOST: '127.0.0.1',
      PORT: '5555',
      OPENAI_BASE_URL: 'http://127.0.0.1:4321',
      RUST_LOG: 'warn',
      DEBUG_METRICS: 'false',
    });
  });
});
