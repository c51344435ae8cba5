import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Snapshot } from '../../api/snapshot.js';
import { compileManifests, parseManifests } from '../../config/manifests.js';
import { BreakerBoard } from '../../providers/breaker.js';
import { defaultKeyEnv } from '../../providers/keys.js';
import { ConfigStore } from '../../sidecar/config-store.js';
import { runtimeBuilder, type SidecarRuntime } from '../../sidecar/runtime.js';
import { STRUCTURAL } from './features.js';
import { ModelFileError } from './model.js';
import { modelRefPath, RouteModels } from './model-ref.js';
import { MODEL_FORMAT } from './weights-file.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-modelref-'));
/** A valid one-head model whose every prompt scores `bias`. */
const modelText = (bias: number) =>
  JSON.stringify({
    format: MODEL_FORMAT,
    hashBits: 16,
    structural: [...STRUCTURAL],
    heads: [{ name: 'own', dense: STRUCTURAL.map(() => 0), bias }],
    calibration: [0, 0.5, 1],
    training: {},
  });
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

const snapshot = (modelRef: string | undefined, version = 'v1'): Snapshot => ({
  ...compileManifests(
    parseManifests(`
apiVersion: tiermesh.dev/v1alpha1
kind: ModelRoute
metadata: { name: r, namespace: t }
spec:
  providers: [{ name: p, type: simulated }]
  models:
    - { name: small, targets: [{ provider: p, model: s }], pricing: { inputPerMTok: 1, outputPerMTok: 1 }, contextWindow: 1000 }
    - { name: big, targets: [{ provider: p, model: b }], pricing: { inputPerMTok: 9, outputPerMTok: 9 }, contextWindow: 1000 }
  tiers: [{ name: cheap, models: [small] }, { name: premium, models: [big] }]
  classifier:
    mode: learned
${modelRef ? `    modelRef: ${JSON.stringify(modelRef)}\n` : ''}`),
  ),
  version,
});

let board = new BreakerBoard();
afterEach(() => {
  board.shutdown();
  board = new BreakerBoard();
});

describe('modelRefPath', () => {
  it('a path stays a path; a bare name is a ConfigMap mounted under the model directory', () => {
    expect(modelRefPath('/models/a.json')).toBe('/models/a.json');
    expect(modelRefPath('team-model', '/etc/tiermesh/models')).toBe(
      '/etc/tiermesh/models/team-model/model.json',
    );
  });
});

describe('RouteModels', () => {
  it('loads each referenced model once per file version and names the route when one is refused', () => {
    const good = file('good.json', modelText(0.4));
    const models = new RouteModels();
    const a = models.resolve(snapshot(good)).get('r')!;
    expect(a.score('anything')).toBeCloseTo(0.4, 9);
    expect(models.resolve(snapshot(good)).get('r')).toBe(a);
    expect(models.resolve(snapshot(undefined)).size).toBe(0);
    const bad = file('bad.json', '{"format": "tiermesh-learned-v2", "heads": [');
    expect(() => models.resolve(snapshot(bad))).toThrow(ModelFileError);
    expect(() => models.resolve(snapshot(bad))).toThrow(
      /^route r: modelRef ".*bad\.json": model file .* is not valid JSON/,
    );
  });
});

describe('sidecar runtime with modelRef', () => {
  it('scores the route with its own model; a corrupt replacement is refused and the previous model keeps serving', () => {
    const store = new ConfigStore<SidecarRuntime>(
      runtimeBuilder({ breakers: board, keyEnv: defaultKeyEnv({}) }),
    );
    const high = file('high.json', modelText(0.9));
    expect(store.apply(snapshot(high, 'v1'))).toMatchObject({ ok: true });
    const rt = store.current!;
    // One-head model scoring 0.9 everywhere: its calibration puts 0.9 at the 90th percentile.
    expect(rt.learned!('hello', 'r')).toBeCloseTo(0.9, 6);
    const corrupt = file('corrupt.json', modelText(0.1).slice(0, 40));
    const r = store.apply(snapshot(corrupt, 'v2'));
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).toMatch(
      /cannot build runtime: route r: modelRef .*corrupt\.json.*not valid JSON/,
    );
    expect(store.current!.snapshot.version).toBe('v1');
    expect(store.current!.learned!('hello', 'r')).toBeCloseTo(0.9, 6);
    const oversized = file('big.json', ' '.repeat(9 * 1024 * 1024));
    expect(store.apply(snapshot(oversized, 'v3')).ok).toBe(false);
    expect(store.apply(snapshot(file('low.json', modelText(0.2)), 'v4')).ok).toBe(true);
    expect(store.current!.learned!('hello', 'r')).toBeCloseTo(0.2, 6);
  });
});
