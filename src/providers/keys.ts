/** Resolves a provider's API key from env, a file, or a mounted Secret; says why when it cannot, never what it is. */

import { readFileSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { KeyRef } from '../api/common.js';
import { jwtExpiry } from '../jwt.js';

export const DEFAULT_SECRETS_DIR = '/var/run/secrets/tiermesh';

export type KeyResolution = { ok: true; key: string } | { ok: false; why: string };

export interface KeyEnv {
  env: Readonly<Record<string, string | undefined>>;
  /** Where the injector mounts Secrets: `<dir>/<secret-name>/<key>`. */
  secretsDir: string;
  readFile: (path: string) => string;
  /**
   * Whether `apiKey.file` may be read: not in a cluster (a sidecar fed by the operator), where whoever may write a
   * ModelRoute could otherwise name any file of the sidecar's container, its own ServiceAccount token included, and
   * have it sent to a baseURL of their choosing. There keys come from mounted Secrets (`secretKeyRef`).
   */
  fileKeys?: boolean;
}

export function defaultKeyEnv(env: Readonly<Record<string, string | undefined>> = process.env): KeyEnv {
  return {
    env,
    secretsDir: env['TIERMESH_SECRETS_DIR'] || DEFAULT_SECRETS_DIR,
    readFile: (p) => readFileSync(p, 'utf8'),
  };
}

/** The injector mounts the sidecar's ServiceAccount token at `<dir>/token/`, so no key Secret is mounted there. */
export const TOKEN_SUBDIR = 'token';

const oneSegment = (s: string) => s !== '' && s !== '.' && s !== '..' && !/[/\\\0]/.test(s);

/**
 * The path a secretKeyRef is mounted at, `<dir>/<name>/<key>`, or undefined when name or key is not exactly one
 * path segment or the name is the token's directory. The schema already refuses such keys; this is the second lock,
 * because a ref that reaches the token (`../token/token`) would send the sidecar's own ServiceAccount token upstream
 * as the API key.
 */
export function secretPath(dir: string, ref: { name: string; key: string }): string | undefined {
  if (!oneSegment(ref.name) || !oneSegment(ref.key) || ref.name === TOKEN_SUBDIR) return undefined;
  const root = resolve(dir);
  const path = resolve(root, ref.name, ref.key);
  return dirname(dirname(path)) === root ? path : undefined;
}

/** Kubernetes' own ServiceAccount mount, and the token the injector mounts for the operator link. */
const KUBE_TOKEN_DIR = '/var/run/secrets/kubernetes.io';

function isTokenPath(secretsDir: string, path: string): boolean {
  let real = resolve(path);
  try {
    real = realpathSync(real);
  } catch {
    // Not there (yet): the lexical path is what is checked.
  }
  const inside = (dir: string) => real === dir || real.startsWith(`${dir}/`);
  return inside(resolve(secretsDir, TOKEN_SUBDIR)) || inside(KUBE_TOKEN_DIR);
}

/** One lookup. The `why` names the source (env var, path), which is configuration, never the key. */
export function resolveKey(ref: KeyRef | undefined, k: KeyEnv): KeyResolution {
  if (!ref) return { ok: false, why: 'no apiKey configured' };
  if (ref.env !== undefined) {
    const v = k.env[ref.env]?.trim();
    return v ? { ok: true, key: v } : { ok: false, why: `environment variable ${ref.env} is not set` };
  }
  if (ref.file === undefined && ref.secretKeyRef === undefined)
    return { ok: false, why: 'apiKey names no source' };
  const what = ref.secretKeyRef
    ? `secret ${ref.secretKeyRef.name}/${ref.secretKeyRef.key}`
    : `file ${ref.file}`;
  if (ref.file !== undefined && k.fileKeys === false)
    return {
      ok: false,
      why: `${what}: apiKey.file is for standalone sidecars; in a cluster use secretKeyRef`,
    };
  const path = ref.file ?? (ref.secretKeyRef ? secretPath(k.secretsDir, ref.secretKeyRef) : undefined);
  if (path === undefined) return { ok: false, why: `${what} is not a file inside the secrets directory` };
  // The second lock for files too: never a ServiceAccount token, whatever path leads there.
  if (ref.file !== undefined && isTokenPath(k.secretsDir, path))
    return { ok: false, why: `${what} is a ServiceAccount token, not an API key` };
  try {
    const v = k.readFile(path).trim();
    return v ? { ok: true, key: v } : { ok: false, why: `${what} is empty` };
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'read error';
    return { ok: false, why: `${what} cannot be read (${code})` };
  }
}

/**
 * A key source that re-reads at most every `ttlMs`: mounted Secrets are updated in place by the kubelet when
 * rotated, and an env var set after start (tests, standalone) is picked up too, without a file read per request.
 */
export function keySource(
  ref: KeyRef | undefined,
  k: KeyEnv,
  ttlMs = 10_000,
  now: () => number = Date.now,
): () => KeyResolution {
  let cached: KeyResolution | undefined;
  let at = 0;
  return () => {
    const t = now();
    if (!cached || t - at >= ttlMs) {
      cached = resolveKey(ref, k);
      at = t;
    }
    return cached;
  };
}

export interface TokenSource {
  /** The current token, or why there is none. Never throws. */
  (): KeyResolution;
  /** The upstream refused the token (401): look it up again on the next call instead of trusting the cache. */
  invalidate(): void;
}

/**
 * A bearer token that a refresher (workload identity, a token sidecar, the kubelet for a projected Secret) rewrites
 * in place. Looked up again every `checkMs`, at once after `invalidate()`, and whenever the cached token is a JWT
 * within `skewMs` of its expiry, so a rotated token is picked up before the old one is refused. A token that is
 * still expired after a fresh read is reported as unavailable, naming the source but never the token.
 */
export function tokenSource(
  ref: KeyRef | undefined,
  k: KeyEnv,
  opts: { checkMs?: number; skewMs?: number; now?: () => number } = {},
): TokenSource {
  const checkMs = opts.checkMs ?? 1_000;
  const skewMs = opts.skewMs ?? 60_000;
  const now = opts.now ?? Date.now;
  let cached: { res: KeyResolution; expiresAt: number | undefined; at: number } | undefined;
  const lookup = (t: number) => {
    const res = resolveKey(ref, k);
    cached = { res, expiresAt: res.ok ? jwtExpiry(res.key) : undefined, at: t };
  };
  const get = (() => {
    const t = now();
    const stale = (c: NonNullable<typeof cached>) =>
      t - c.at >= checkMs || (c.expiresAt !== undefined && c.expiresAt - skewMs <= t);
    if (!cached || stale(cached)) lookup(t);
    const c = cached!;
    if (c.res.ok && c.expiresAt !== undefined && c.expiresAt <= t)
      return { ok: false, why: `the token from ${sourceName(ref)} has expired` } as const;
    return c.res;
  }) as TokenSource;
  get.invalidate = () => {
    cached = undefined;
  };
  return get;
}

function sourceName(ref: KeyRef | undefined): string {
  if (ref?.env !== undefined) return `environment variable ${ref.env}`;
  if (ref?.secretKeyRef) return `secret ${ref.secretKeyRef.name}/${ref.secretKeyRef.key}`;
  return ref?.file !== undefined ? `file ${ref.file}` : 'no source';
}
