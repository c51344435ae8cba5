/**
 * Everything a sidecar needs from the operator, assembled: the config stream, the usage reporter and the
 * allowance client, sharing one identity (kept in the state dir) and one token file.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { AllowanceClient } from '../budget/allowance.js';
import { type UsageBatch, UsageReporter } from '../budget/reporter.js';
import type { UsageRecord } from '../budget/types.js';
import { ALLOWANCE_PATH, allowanceReply, USAGE_PATH } from '../operator/protocol.js';
import { type FailureClass, RetryLog } from '../telemetry/retry-log.js';
import { ConfigStream, loadLastKnownGood, type SnapshotTarget } from './config-stream.js';
import type { RoutingTally } from './routing-tally.js';

export interface OperatorLinkOptions {
  operator: string;
  tokenFile: string;
  stateDir?: string | undefined;
  logger?: Logger | undefined;
  /** PEM CA bundle to verify an https:// operator with (the system roots otherwise). */
  caFile?: string | undefined;
  /** The same bundle as text (the injector passes it in an env var); used when caFile is not given. */
  caPem?: string | undefined;
  /**
   * Dial this address instead of the URL's host, still verifying the certificate against the URL's host name
   * (like curl --connect-to): for debugging, and tests where the Service name does not resolve.
   */
  connectTo?: { host: string; port: number } | undefined;
  /** Defaults to the id saved in the state dir, else POD_NAME (or the host name) plus a random suffix. */
  sidecarId?: string;
  flushMs?: number;
  /** Per budget, most spent beyond the slices while the operator is unreachable (AllowanceClient). */
  localOverspendUSD?: number | undefined;
  /** Routing counts of this sidecar; drained onto each usage batch for the operator's ModelRoute.status.routing. */
  routingTally?: RoutingTally | undefined;
}

/** A stable id per state dir: usage sequence numbers are only meaningful together with the id they belong to. */
export function sidecarIdentity(stateDir: string | undefined): string {
  const fresh = `${(process.env['POD_NAME'] ?? hostname()).replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 180)}-${randomBytes(4).toString('hex')}`;
  if (!stateDir) return fresh;
  const file = join(stateDir, 'sidecar-id');
  try {
    const saved = readFileSync(file, 'utf8').trim();
    if (saved) return saved;
  } catch {
    // First start with this state dir.
  }
  // Owner-only, like everything in the state dir (its snapshot names baseURLs and key references).
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, fresh, { mode: 0o600 });
  return fresh;
}

/**
 * fetch that trusts `ca` (PEM text, or `{ file }`) for the operator's HTTPS certificate, optionally dialling
 * `connectTo` instead of the URL's host; the global fetch when neither is given. Over TLS it speaks HTTP/2 when the
 * operator does (the config stream and its ACKs on one connection), unless `http1` (the leader's requests, which
 * need connections the Service can move to another replica).
 */
export function operatorFetch(
  ca: string | { file: string } | undefined,
  connectTo?: { host: string; port: number },
  opts: { http1?: boolean } = {},
): typeof fetch {
  if (!ca && !connectTo) return fetch;
  const pem = typeof ca === 'object' ? readFileSync(ca.file, 'utf8') : ca;
  const base = resumingConnector(pem, opts.http1 ? { allowH2: false } : {});
  const agent = new Agent({
    connect: connectTo
      ? (o, cb) =>
          // servername keeps SNI and the certificate's host-name check on the name in the URL.
          base(
            {
              ...o,
              hostname: connectTo.host,
              port: String(connectTo.port),
              servername: o.servername || o.hostname,
            },
            cb,
          )
      : base,
  });
  return ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, { ...(init as object), dispatcher: agent } as Parameters<
      typeof undiciFetch
    >[1])) as unknown as typeof fetch;
}

/** Host names a sidecar keeps a TLS session for: its operator's, and room for a changed --operator URL. */
const MAX_KEPT_SESSIONS = 4;

/**
 * undici's connector with two changes for the operator link. The CA is parsed once into one secure context (given as
 * `ca`, Node builds a new context from the PEM for every connection). And the last TLS session per host name is kept,
 * so a new connection (an ACK's, or every stream's after an operator restart: the operator's session tickets are keyed
 * off its serving key, serving-tls.ts) resumes instead of a full handshake; undici's own cache holds sessions only
 * weakly, and a long-lived stream's session was gone after the next garbage collection.
 */
export function resumingConnector(
  pem: string | undefined,
  opts: { allowH2?: boolean } = {},
): buildConnector.connector {
  const secureContext = pem ? createSecureContext({ ca: pem }) : undefined;
  const sessions = new Map<string, Buffer>();
  const plain = buildConnector({ ...opts, ...(secureContext ? { secureContext } : {}) });
  return (o, cb) => {
    if (o.protocol !== 'https:') return plain(o, cb);
    const key = o.servername || o.hostname;
    const session = sessions.get(key);
    const connect = buildConnector({
      ...opts,
      ...(secureContext ? { secureContext } : {}),
      ...(session ? { session } : {}),
      maxCachedSessions: 0,
    });
    connect(o, (err, socket) => {
      // TLS 1.3 sends its session tickets after the handshake, so they arrive after this.
      socket?.on('session', (s: Buffer) => {
        sessions.delete(key);
        if (sessions.size >= MAX_KEPT_SESSIONS) sessions.delete(sessions.keys().next().value!);
        sessions.set(key, s);
      });
      if (err) cb(err, null);
      else cb(null, socket!);
    });
  };
}

async function post(
  http: typeof fetch,
  operator: string,
  tokenFile: string,
  path: string,
  body: unknown,
): Promise<unknown> {
  const token = (await readFile(tokenFile, 'utf8')).trim();
  const res = await http(new URL(path, operator), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new OperatorAnswer(res.status, path, text);
  return JSON.parse(text);
}

/** A non-200 answer from the operator, with its error code when the body is the usual error shape. */
export class OperatorAnswer extends Error {
  readonly code: string | undefined;
  constructor(
    readonly status: number,
    path: string,
    body: string,
  ) {
    super(`operator answered ${status} to ${path}: ${body.slice(0, 300)}`);
    let code: unknown;
    try {
      code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    } catch {
      // Not JSON (a proxy's error page): no code.
    }
    this.code = typeof code === 'string' ? code : undefined;
  }
}

/**
 * A replica that is not (or no longer, or not yet) the leader answers 503 TM_NOT_READY; after a leader change
 * every sidecar sees a few of those until the new leader's lease is taken, and rides them out by retrying.
 */
export const operatorFailureClass = (e: unknown): FailureClass =>
  e instanceof OperatorAnswer && e.status === 503 && e.code === 'TM_NOT_READY' ? 'expected' : 'unexpected';

/**
 * The log line for a budget entering (`on`) or leaving local mode. Entering it because no replica leads yet (a
 * leader change) is expected and rides out in seconds: info, like the failed request's own line; an operator that
 * cannot be reached or answers with another error is worth a warning.
 */
export function localModeLine(on: boolean, cause: unknown): { level: 'info' | 'warn'; msg: string } {
  if (!on) return { level: 'info', msg: 'operator answers again: back on its allowances' };
  return operatorFailureClass(cause) === 'expected'
    ? { level: 'info', msg: 'no operator leader yet: serving this budget on local knowledge' }
    : { level: 'warn', msg: 'operator unreachable: serving this budget on local knowledge' };
}

/** `call`, with its failures and its recovery told to `log` (which decides the level). */
async function logged<T>(log: RetryLog, call: () => Promise<T>, fields: Record<string, unknown>): Promise<T> {
  try {
    const r = await call();
    log.succeeded();
    return r;
  } catch (e) {
    log.failed(e, fields);
    throw e;
  }
}

export interface OperatorLink {
  readonly sidecarId: string;
  readonly allowance: AllowanceClient;
  readonly reporter: UsageReporter;
  /** Applies the saved snapshot (if any), then starts streaming into `store`. */
  attach(store: SnapshotTarget): void;
  /** Usage record sink for the chat pipeline. */
  report(u: UsageRecord): void;
  stop(): Promise<void>;
}

export function linkToOperator(opts: OperatorLinkOptions): OperatorLink {
  const sidecarId = opts.sidecarId ?? sidecarIdentity(opts.stateDir);
  const log = opts.logger;
  const ca = opts.caFile ? readFileSync(opts.caFile, 'utf8') : opts.caPem;
  // The config stream and its ACKs (HTTP/2 over TLS: one connection, to the replica holding the stream); usage and
  // allowances go to the leader, over HTTP/1.1 connections a follower can close to send the retry elsewhere.
  const http = operatorFetch(ca, opts.connectTo);
  const leaderHttp = operatorFetch(ca, opts.connectTo, { http1: true });
  const allowanceLog = new RetryLog(log, 'allowance request', operatorFailureClass);
  // Why the last allowance request per budget failed: local mode starts right after, and its line's level says
  // whether that was a leader change (expected) or an operator that cannot be reached.
  const lastFailure = new Map<string, unknown>();
  const allowance = new AllowanceClient({
    request: (budget, local, wantUSD) =>
      logged(
        allowanceLog,
        async () =>
          allowanceReply.parse(
            await post(leaderHttp, opts.operator, opts.tokenFile, ALLOWANCE_PATH, {
              sidecarId,
              budget,
              ...(local ? { local } : {}),
              ...(wantUSD !== undefined ? { wantUSD } : {}),
            }),
          ),
        { budget },
      ).then(
        (r) => {
          lastFailure.delete(budget);
          return r;
        },
        (e: unknown) => {
          lastFailure.set(budget, e);
          throw e;
        },
      ),
    ...(opts.localOverspendUSD !== undefined ? { localOverspendUSD: opts.localOverspendUSD } : {}),
    listener: {
      local: (budget, on) => {
        const line = localModeLine(on, lastFailure.get(budget));
        log?.[line.level]({ budget }, line.msg);
      },
    },
  });
  const usageLog = new RetryLog(log, 'usage report', operatorFailureClass);
  const reporter = new UsageReporter({
    sidecarId,
    stateDir: opts.stateDir,
    ...(opts.flushMs !== undefined ? { flushMs: opts.flushMs } : {}),
    ...(opts.routingTally
      ? {
          collectRouting: () =>
            opts.routingTally!.drain(sidecarId, Date.now()).map(({ sidecarId: _id, ...r }) => r),
        }
      : {}),
    send: async (batch: UsageBatch) => {
      await logged(usageLog, () => post(leaderHttp, opts.operator, opts.tokenFile, USAGE_PATH, batch), {
        seq: batch.seq,
      });
    },
  });
  let stream: ConfigStream | undefined;
  return {
    sidecarId,
    allowance,
    reporter,
    attach(store) {
      if (opts.stateDir) {
        const version = loadLastKnownGood(opts.stateDir, store);
        if (version) log?.info({ version }, 'serving the last known good config until the operator answers');
      }
      const budgets = store.current?.snapshot.budgets ?? [];
      if (budgets.length > 0) void allowance.prefetch(budgets.map((b) => b.name));
      const withPrefetch: SnapshotTarget = {
        get current() {
          return store.current;
        },
        apply(input) {
          const r = store.apply(input);
          const budgets = (input as { budgets?: Array<{ name: string }> }).budgets ?? [];
          if (r.ok) void allowance.prefetch(budgets.map((b) => b.name));
          return r;
        },
      };
      stream = new ConfigStream({
        operator: opts.operator,
        tokenFile: opts.tokenFile,
        sidecarId,
        store: withPrefetch,
        stateDir: opts.stateDir,
        logger: log,
        fetch: http,
      });
      stream.start();
    },
    report: ({ reservations: _local, ...u }) => reporter.add(u),
    async stop() {
      await stream?.stop();
      await reporter.close();
    },
  };
}
