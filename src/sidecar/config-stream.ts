/**
 * The sidecar's end of the operator's config stream: holds an SSE connection, validates and applies each snapshot
 * through the config store, ACKs or NACKs it, and keeps the last good snapshot on disk so a restarted sidecar
 * serves while the operator is away. Reconnects with capped exponential backoff and jitter (the project's one
 * backoff, src/backoff.ts), sending the running version so an unchanged config is not resent.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { backoffDelay } from '../backoff.js';
import { jwtExpiry } from '../jwt.js';
import {
  ACK_PATH,
  type AckBody,
  STREAM_HEADER,
  STREAM_PATH,
  TICKET_EVENT,
  TICKET_HEADER,
} from '../operator/protocol.js';
import { SseParser } from '../providers/sse.js';
import { RetryLog } from '../telemetry/retry-log.js';
import type { ApplyResult } from './config-store.js';

export interface SnapshotTarget {
  apply(input: unknown): ApplyResult;
  readonly current: { snapshot: { version: string; budgets?: ReadonlyArray<{ name: string }> } } | undefined;
}

export interface ConfigStreamOptions {
  /** Operator base URL, e.g. http://tiermesh-operator.tiermesh-system:8443 */
  operator: string;
  /** Projected service-account token (audience tiermesh); re-read on every connect because the kubelet rotates it. */
  tokenFile: string;
  sidecarId: string;
  store: SnapshotTarget;
  stateDir?: string | undefined;
  logger?: Logger | undefined;
  baseBackoffMs?: number;
  /** Ceiling after the operator answered with an error (401, 403, 5xx): back off far, it is not coming back soon. */
  maxBackoffMs?: number;
  /**
   * Ceiling while the operator is unreachable or dropped the stream (a restart, a rollout): low, so that a fleet is
   * back within this long of the operator serving again, and jittered, so the fleet does not arrive at once.
   */
  reconnectMaxMs?: number;
  /** A stream silent for this long is presumed dead (the operator sends keep-alives every 15 s). */
  idleTimeoutMs?: number;
  /** HTTP client; `operatorFetch(caFile)` trusts the operator's CA. */
  fetch?: typeof fetch;
}

const SNAPSHOT_FILE = 'snapshot.json';

/** An ACK does not go out on a stream token this close to its expiry (clock skew between pod and operator). */
const TOKEN_EXPIRY_MARGIN_MS = 60_000;

/** A stream's own token still has more than the margin left (a token without `exp` never expires here). */
function usable(token: string | undefined): token is string {
  return (
    token !== undefined &&
    (jwtExpiry(token) ?? Number.POSITIVE_INFINITY) > Date.now() + TOKEN_EXPIRY_MARGIN_MS
  );
}

/** The operator answered the stream request with an error status (as opposed to not answering at all). */
class RefusedByOperator extends Error {}

/** Applies the snapshot saved by a previous run, if any. Returns its version. */
export function loadLastKnownGood(stateDir: string, store: SnapshotTarget): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(stateDir, SNAPSHOT_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const r = store.apply(JSON.parse(text));
    return r.ok ? r.version : undefined;
  } catch {
    return undefined;
  }
}

function saveLastKnownGood(stateDir: string, snapshot: unknown): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const tmp = join(stateDir, `${SNAPSHOT_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(snapshot), { mode: 0o600 });
  renameSync(tmp, join(stateDir, SNAPSHOT_FILE));
}

/** The ticket a `ticket` event carries; undefined for anything else. */
export function ticketOf(data: string): string | undefined {
  try {
    const t = (JSON.parse(data) as { ticket?: unknown }).ticket;
    return typeof t === 'string' && t.length > 0 && t.length <= 2048 ? t : undefined;
  } catch {
    return undefined;
  }
}

class StreamEnded extends Error {
  constructor() {
    super('operator closed the stream');
  }
}

export class ConfigStream {
  private stopped = false;
  private abort: AbortController | undefined;
  private attempt = 0;
  private loop: Promise<void> | undefined;
  /** The operator's handle for the open stream; ACKs name it so the operator need not re-authenticate them. */
  private stream: string | undefined;
  /** The token the open stream was authenticated with: its ACKs carry the same one, so they stay bound to it. */
  private streamToken: string | undefined;
  /**
   * The operator's latest resumption ticket (renewed with every keep-alive): presented on reconnect, it spares the
   * operator a TokenReview. Bound to the token, so it is as secret as the token; kept in memory only, never logged.
   */
  private ticket: string | undefined;
  /** Connected to the operator right now. */
  connected = false;

  /** A stream the operator ended (a restart, a rollout) is expected; failing to reach it is worth a warning. */
  private readonly failures: RetryLog;

  constructor(private readonly opts: ConfigStreamOptions) {
    this.failures = new RetryLog(opts.logger, 'config stream', (e) =>
      e instanceof StreamEnded ? 'expected' : 'unexpected',
    );
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    await this.loop;
  }

  private async token(): Promise<string> {
    return (await readFile(this.opts.tokenFile, 'utf8')).trim();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let refused = false;
      try {
        await this.connectOnce();
      } catch (e) {
        refused = e instanceof RefusedByOperator;
        if (this.stopped) break;
        // fetch says only "fetch failed"; the reason (refused, TLS, DNS) is in its cause.
        const cause = (e as { cause?: { message?: string; code?: string } })?.cause;
        this.failures.failed(e, {
          ...(cause ? { cause: cause.code ?? cause.message } : {}),
          attempt: this.attempt,
        });
      }
      this.connected = false;
      if (this.stopped) break;
      const delay = backoffDelay(
        ++this.attempt,
        {
          baseMs: this.opts.baseBackoffMs ?? 500,
          maxMs: refused ? (this.opts.maxBackoffMs ?? 30_000) : (this.opts.reconnectMaxMs ?? 1_500),
        },
        Math.random(),
      );
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private async connectOnce(): Promise<void> {
    const url = new URL(STREAM_PATH, this.opts.operator);
    url.searchParams.set('sidecar', this.opts.sidecarId);
    const running = this.opts.store.current?.snapshot.version;
    if (running) url.searchParams.set('version', running);
    this.abort = new AbortController();
    // A ticket is bound to the token its stream was opened with, not to the file's: the kubelet rotates the file
    // (at ~80% of the token's life, ~48 min for an hour), so a long-lived stream would resume with a new token and a
    // ticket for the old one, which the operator refuses (a TokenReview per sidecar in a reconnect storm). While that
    // token has life left the reconnect presents it with its ticket; after that, the file's token and no ticket.
    const ticket = this.ticket !== undefined && usable(this.streamToken) ? this.ticket : undefined;
    const token = ticket !== undefined && this.streamToken ? this.streamToken : await this.token();
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
    // An operator that cannot use it (another key, expired, revoked) authenticates the token instead.
    if (ticket !== undefined) headers[TICKET_HEADER] = ticket;
    const res = await (this.opts.fetch ?? fetch)(url, { headers, signal: this.abort.signal });
    if (res.status !== 200 || !res.body) {
      const text = await res.text().catch(() => '');
      // Refused with the stream's own token (deleted service account, revoked token): the next try goes with the
      // file's token, which the operator reviews afresh.
      this.ticket = undefined;
      this.streamToken = undefined;
      throw new RefusedByOperator(`operator answered ${res.status}: ${text.slice(0, 300)}`);
    }
    this.connected = true;
    this.stream = res.headers.get(STREAM_HEADER) ?? undefined;
    this.streamToken = token;
    this.failures.succeeded();
    this.opts.logger?.info({ operator: this.opts.operator, running }, 'config stream connected');
    const parser = new SseParser();
    const idleMs = this.opts.idleTimeoutMs ?? 45_000;
    let idle = setTimeout(() => this.abort?.abort(), idleMs);
    try {
      for await (const chunk of res.body) {
        clearTimeout(idle);
        idle = setTimeout(() => this.abort?.abort(), idleMs);
        for (const ev of parser.push(chunk as Uint8Array)) {
          this.attempt = 0;
          if (ev.event === 'snapshot') await this.onSnapshot(ev.data);
          else if (ev.event === TICKET_EVENT) this.ticket = ticketOf(ev.data) ?? this.ticket;
        }
      }
    } finally {
      clearTimeout(idle);
    }
    throw new StreamEnded();
  }

  private async onSnapshot(data: string): Promise<void> {
    let parsed: unknown;
    let result: ApplyResult;
    try {
      parsed = JSON.parse(data);
      result = this.opts.store.apply(parsed);
    } catch (e) {
      result = { ok: false, error: `unreadable snapshot: ${(e as Error).message}` };
    }
    const version = (parsed as { version?: unknown } | undefined)?.version;
    const ack: AckBody = {
      sidecarId: this.opts.sidecarId,
      version: typeof version === 'string' && version ? version.slice(0, 128) : 'unknown',
      ok: result.ok,
      ...(result.ok ? {} : { error: result.error.slice(0, 4096) }),
      ...(this.stream ? { stream: this.stream } : {}),
    };
    if (result.ok) {
      if (this.opts.stateDir) saveLastKnownGood(this.opts.stateDir, parsed);
      // A new version is logged once, as "config applied", by whoever owns the store (startSidecar); the
      // operator re-sends the running version on every reconnect, which is worth a debug line at most.
      if (!result.changed)
        this.opts.logger?.debug({ version: ack.version }, 'config re-sent: already running');
    } else {
      this.opts.logger?.warn(
        { version: ack.version, error: result.error },
        'config rejected; keeping the running one',
      );
    }
    await this.sendAck(ack);
  }

  private async sendAck(ack: AckBody): Promise<void> {
    try {
      // The stream's own token, not the file's (which the kubelet may have rotated since): the operator trusts an ACK
      // that names its stream and carries the token that opened it without a TokenReview. No file read per ACK either.
      // Near its expiry the file's (rotated) token goes instead: the operator then authenticates that one.
      const opened = this.streamToken;
      const token = opened && usable(opened) ? opened : await this.token();
      const res = await (this.opts.fetch ?? fetch)(new URL(ACK_PATH, this.opts.operator), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(ack),
      });
      await res.arrayBuffer();
    } catch (e) {
      // The operator learns our version on the next connect anyway.
      this.opts.logger?.warn({ err: String(e) }, 'config ACK failed');
    }
  }
}
