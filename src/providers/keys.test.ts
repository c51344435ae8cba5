import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultKeyEnv, keySource, resolveKey, secretPath, tokenSource } from './keys.js';

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

  it('never reads outside <secrets dir>/<name>/, whatever the ref says', () => {
    // The sidecar's own ServiceAccount token sits beside the key mounts; a climbing key would send it upstream.
    mkdirSync(join(dir, 'token'));
    writeFileSync(join(dir, 'token', 'token'), 'eyJ-service-account-token');
    for (const secretKeyRef of [
      { name: 'openai-creds', key: '../token/token' },
      { name: 'openai-creds', key: '..' },
      { name: '..', key: 'token/token' },
      { name: 'token', key: '../token/token' },
      { name: 'token', key: 'token' },
      { name: 'openai-creds', key: 'a/b' },
      { name: 'openai-creds', key: `${dir}/token/token` },
    ]) {
      const r = resolveKey({ secretKeyRef }, k);
      expect(r).toEqual({
        ok: false,
        why: `secret ${secretKeyRef.name}/${secretKeyRef.key} is not a file inside the secrets directory`,
      });
    }
    expect(secretPath(dir, { name: 'openai-creds', key: 'api-key' })).toBe(
      join(dir, 'openai-creds', 'api-key'),
    );
    expect(secretPath(dir, { name: 'llm.openai', key: '.hidden' })).toBe(join(dir, 'llm.openai', '.hidden'));
  });

  it('never reads a ServiceAccount token through apiKey.file, and no file at all in a cluster', () => {
    mkdirSync(join(dir, 'token'), { recursive: true });
    writeFileSync(join(dir, 'token', 'token'), 'eyJ-service-account-token');
    // A symlink elsewhere that leads to the token is caught too.
    symlinkSync(join(dir, 'token', 'token'), join(dir, 'innocent-key'));
    for (const file of [
      join(dir, 'token', 'token'),
      join(dir, 'openai-creds', '..', 'token', 'token'),
      join(dir, 'innocent-key'),
    ])
      expect(resolveKey({ file }, k)).toEqual({
        ok: false,
        why: `file ${file} is a ServiceAccount token, not an API key`,
      });
    expect(resolveKey({ file: '/var/run/secrets/kubernetes.io/serviceaccount/token' }, k)).toMatchObject({
      ok: false,
      why: expect.stringContaining('is a ServiceAccount token'),
    });
    const cluster = { ...k, fileKeys: false };
    expect(resolveKey({ file: join(dir, 'plain') }, cluster)).toEqual({
      ok: false,
      why: `file ${join(dir, 'plain')}: apiKey.file is for standalone sidecars; in a cluster use secretKeyRef`,
    });
    expect(resolveKey({ secretKeyRef: { name: 'openai-creds', key: 'api-key' } }, cluster)).toMatchObject({
      ok: true,
    });
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

describe('tokenSource (bearer tokens a refresher rewrites)', () => {
  const jwt = (expSeconds: number) =>
    `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ exp: expSeconds })).toString('base64url')}.sig`;

  it('re-reads a rewritten file after checkMs, at once after invalidate(), and before a JWT expires', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tiermesh-token-'));
    const file = join(dir, 'token');
    let t = 0;
    let reads = 0;
    const env = defaultKeyEnv({});
    const k = {
      ...env,
      readFile: (p: string) => {
        reads++;
        return env.readFile(p);
      },
    };
    writeFileSync(file, 'token-1\n');
    const src = tokenSource({ file }, k, { checkMs: 1_000, skewMs: 60_000, now: () => t });
    expect(src()).toEqual({ ok: true, key: 'token-1' });
    writeFileSync(file, 'token-2');
    t = 500;
    expect(src()).toEqual({ ok: true, key: 'token-1' });
    t = 1_000;
    expect(src()).toEqual({ ok: true, key: 'token-2' });
    writeFileSync(file, 'token-3');
    src.invalidate();
    expect(src()).toEqual({ ok: true, key: 'token-3' });
    expect(reads).toBe(3);

    // A JWT near its expiry is looked up again on every call; once expired and not replaced, it is unavailable.
    const soon = jwt(100); // expires at t = 100 000 ms
    writeFileSync(file, soon);
    src.invalidate();
    t = 10_000;
    expect(src()).toEqual({ ok: true, key: soon });
    t = 50_000; // inside the skew window: re-read although checkMs has not passed since the last read
    const before = reads;
    expect(src()).toEqual({ ok: true, key: soon });
    expect(reads).toBe(before + 1);
    t = 100_000;
    const expired = src();
    expect(expired).toEqual({ ok: false, why: `the token from file ${file} has expired` });
    const fresh = jwt(1_000);
    writeFileSync(file, fresh);
    t = 100_001;
    expect(src()).toEqual({ ok: true, key: fresh });
  });
});
