import { describe, expect, it } from 'vitest';
import type { Snapshot } from '../api/snapshot.js';
import { findModel, legacyCompletionsMessage } from './models.js';

const snapshot = {
  version: 'v1',
  namespace: 'ns',
  routes: [{ name: 'default', spec: { models: [{ name: 'small', targets: [{ provider: 'sim' }] }] } }],
  budgets: [],
} as unknown as Snapshot;

describe('findModel', () => {
  it('finds auto, route names and registry models, and nothing else', () => {
    expect(findModel(snapshot, 'auto')).toEqual({
      id: 'auto',
      object: 'model',
      created: 0,
      owned_by: 'tiermesh',
    });
    expect(findModel(snapshot, 'default')?.owned_by).toBe('tiermesh');
    expect(findModel(snapshot, 'small')?.owned_by).toBe('sim');
    expect(findModel(snapshot, 'gpt-9')).toBeUndefined();
  });

  it('names the supported endpoints when refusing legacy completions', () => {
    expect(legacyCompletionsMessage()).toContain('POST /v1/chat/completions');
    expect(legacyCompletionsMessage()).toContain('POST /v1/responses');
  });
});
