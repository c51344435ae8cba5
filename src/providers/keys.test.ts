import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultKeyEnv, keySource, resolveKey } from './keys.js';

describe('resolveKey', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiermesh-keys-'));
  mkdirSync(join(dir, 'openai-creds'));
  writeFileSync(join(dir, 'openai-creds', 'api-key'), 'sk-from-secret\n');
  writeFileSync(join(dir, 'plain'), '  sk-from-file  ');
  writeFileSync(join(dir, 'empty'), '\n');
  const k = defaultKeyEnv({ TIERMESH_SECRETS_DIR: dir, MY_KEY: 'sk-from-env', BLANK: ' ' });

  it('reads env, files and mounted secrets, trimmed', () => {
    expect(resolveKey({ env: 'MY_KEY' }, k)).toEqual({ ok: true, key: 'sk-from-env' });
    expect(resolveKey({ file: join(dir, 'plain') }, k)).toEqual({ ok: true, key: 'sk-from-file' });
    expect(resolveKey({ secretKeyRef: { name: 'openai-creds', key: 'api-key' } }, k)).toEqual({
      ok: true,
      key: 'sk-from-secret',
    });
  });

  it('says why a key is missing without any key material', () => {
    expect(resolveKey({ env: 'NOPE' }, k)).toEqual({
      ok: false,
      why: 'environment variable NOPE is not set',
    });
    expect(resolveKey({ env: 'BLANK' }, k).ok).toBe(false);
    expect(resolveKey({ file: join(dir, 'empty') }, k)).toMatchObject({ ok: false });
    expect(resolveKey({ secretKeyRef: { name: 'missing', key: 'k' } }, k)).toEqual({
      ok: false,
      why: 'secret missing/k cannot be read (ENOENT)',
    });
    expect(resolveKey(undefined, k).ok).toBe(false);
  });

  it('defaults the secrets dir', () => {
    expect(defaultKeyEnv({}).secretsDir).toBe('/var/run/secrets/tiermesh');
  });

  it('caches for the TTL, then sees a key set later', () => {
    const env: Record<string, string | undefined> = {};
    let t = 0;
    const src = keySource({ env: 'LATE' }, defaultKeyEnv(env), 1000, () => t);
    expect(src().ok).toBe(false);
    env['LATE'] = 'sk-late';
    t = 999;
    expect(src().ok).toBe(false);
    t = 1000;
    expect(src()).toEqual({ ok: true, key: 'sk-late' });
  });
});
