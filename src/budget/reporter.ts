/**
 * Usage reporting from a sidecar to the operator, never dropping a record: each record is appended to a journal
 * in the state dir as it happens; a flush seals the journal into a numbered batch by an atomic rename; batches
 * are sent oldest first, one at a time, and resent with the same (sidecarId, seq) until the operator answers,
 * so the operator's dedup makes delivery exactly-once. Without a state dir the same happens in memory only.
 *
 * Routing counts (`collectRouting`) ride along on the batch a flush seals, and on an otherwise empty batch when
 * there were no usage records. They are monitoring figures, not money: kept in memory only, so a crash loses the
 * unsent ones (the usage records are still recovered from the journal).
 */
import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { backoffDelay } from '../backoff.js';
import type { RoutingReport } from '../operator/protocol.js';
import type { UsageRecord } from './types.js';

export interface UsageBatch {
  sidecarId: string;
  seq: number;
  records: UsageRecord[];
  /** Sent once by `close` after a full drain: the operator may forget this reporter (see operator/ledger.ts). */
  retire?: boolean;
  /** Routing counts since the previous batch, per route (ModelRoute.status.routing). */
  routing?: RoutingReport[];
}

export interface ReporterOptions {
  sidecarId: string;
  /** Delivers one batch; resolves once the operator has durably applied it. */
  send: (batch: UsageBatch) => Promise<void>;
  stateDir?: string | undefined;
  flushMs?: number;
  maxRecords?: number;
  /** Seal a batch before its records pass this many bytes of JSON (MAX_USAGE_BATCH_BYTES). */
  maxBatchBytes?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (e: unknown, attempt: number) => void;
  /** Drained at each flush; what it returns goes on the sealed batch. */
  collectRouting?: () => RoutingReport[];
}

/**
 * Records per batch stay below this many bytes: half the operator's body limit (MAX_BODY in src/operator/server.ts,
 * 8 MiB), room for the routing reports and framing. A batch the operator cannot take would be resent forever.
 */
export const MAX_USAGE_BATCH_BYTES = 4 * 1024 * 1024;

const JOURNAL = 'open.jsonl';
const SEQ = 'seq';
const batchFile = (seq: number) => `batch-${String(seq).padStart(12, '0')}.jsonl`;

function parseLines(text: string): UsageRecord[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as UsageRecord];
      } catch {
        // A line torn by a crash mid-append; everything before it is intact.
        return [];
      }
    });
}

export class UsageReporter {
  private open: UsageRecord[] = [];
  /** Bytes of the open records' journal lines. */
  private openBytes = 0;
  private readonly queue: UsageBatch[] = [];
  private seq = 0;
  private readonly dir: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private closed = false;
  private delivered = false;
  private wake: (() => void) | undefined;
  private readonly drainWaiters: Array<() => void> = [];

  constructor(private readonly opts: ReporterOptions) {
    this.dir = opts.stateDir ? join(opts.stateDir, 'usage') : undefined;
    if (this.dir) this.recover(this.dir);
    this.timer = setInterval(() => this.flush(), opts.flushMs ?? 1_000);
    this.timer.unref();
    if (this.queue.length > 0) void this.pump();
  }

  /** Batches and journal left by a previous run: all of it is still owed to the operator. */
  private recover(dir: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 }); // owner-only: usage names users and routes
    try {
      this.seq = Number(readFileSync(join(dir, SEQ), 'utf8')) || 0;
    } catch {
      this.seq = 0;
    }
    for (const f of readdirSync(dir).sort()) {
      const m = /^batch-(\d+)\.jsonl$/.exec(f);
      if (!m) continue;
      const seq = Number(m[1]);
      this.seq = Math.max(this.seq, seq);
      this.queue.push({
        sidecarId: this.opts.sidecarId,
        seq,
        records: parseLines(readFileSync(join(dir, f), 'utf8')),
      });
    }
    try {
      const journal = join(dir, JOURNAL);
      const text = readFileSync(journal, 'utf8');
      // A line torn by a crash mid-append is cut off: the next record would be appended onto its bytes, making one
      // unreadable line of both, and a second crash before the flush would lose that record too.
      const whole = text.slice(0, text.lastIndexOf('\n') + 1);
      if (whole.length < text.length) truncateSync(journal, Buffer.byteLength(whole));
      this.open = parseLines(whole);
    } catch {
      this.open = [];
    }
    if (this.open.length > 0) this.flush();
  }

  add(record: UsageRecord): void {
    const line = `${JSON.stringify(record)}\n`;
    const bytes = Buffer.byteLength(line);
    // Sealed before it gets too big for the operator to take: this record opens the next batch.
    if (this.open.length > 0 && this.openBytes + bytes > (this.opts.maxBatchBytes ?? MAX_USAGE_BATCH_BYTES))
      this.flush();
    if (this.dir) appendFileSync(join(this.dir, JOURNAL), line);
    this.open.push(record);
    this.openBytes += bytes;
    if (this.open.length >= (this.opts.maxRecords ?? 500)) this.flush();
  }

  /** Records not yet acknowledged by the operator. */
  pending(): number {
    return this.open.length + this.queue.reduce((n, b) => n + b.records.length, 0);
  }

  /** Seals the open records into the next batch and starts sending. */
  flush(): void {
    const routing = this.opts.collectRouting?.() ?? [];
    if (this.open.length === 0 && routing.length === 0) return;
    const seq = this.seq + 1;
    if (this.dir) {
      // The seq file first: a crash between the two steps only skips a number, never reuses one.
      writeFileSync(join(this.dir, `${SEQ}.tmp`), String(seq));
      renameSync(join(this.dir, `${SEQ}.tmp`), join(this.dir, SEQ));
      // A routing-only batch has no journal to seal; an empty file keeps the numbering on disk.
      if (this.open.length > 0) renameSync(join(this.dir, JOURNAL), join(this.dir, batchFile(seq)));
      else writeFileSync(join(this.dir, batchFile(seq)), '');
    }
    this.seq = seq;
    this.queue.push({
      sidecarId: this.opts.sidecarId,
      seq,
      records: this.open,
      ...(routing.length > 0 ? { routing } : {}),
    });
    this.open = [];
    this.openBytes = 0;
    void this.pump();
  }

  /** Flushes and resolves once everything is delivered (or `timeoutMs` passes; what is left stays on disk). */
  async drain(timeoutMs = 10_000): Promise<boolean> {
    this.flush();
    if (this.queue.length === 0) return true;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      new Promise<boolean>((r) => this.drainWaiters.push(() => r(true))),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return done;
  }

  /**
   * Drains, then, when everything was delivered, retires this reporter with one more (empty) batch so the
   * operator's dedup map does not keep an entry per pod forever. Its number is persisted first: a later start with
   * the same state dir numbers on after it. Best effort: unsent, the entry is compacted after the retention.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    const ok = await this.drain(timeoutMs);
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.wake?.();
    // Nothing delivered by this run: no entry of ours to retire (or a previous run already retired it).
    if (!ok || !this.delivered) return;
    const seq = this.seq + 1;
    if (this.dir) {
      writeFileSync(join(this.dir, `${SEQ}.tmp`), String(seq));
      renameSync(join(this.dir, `${SEQ}.tmp`), join(this.dir, SEQ));
    }
    this.seq = seq;
    await this.opts
      .send({ sidecarId: this.opts.sidecarId, seq, records: [], retire: true })
      .catch((e: unknown) => this.opts.onError?.(e, 0));
  }

  private async pump(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    let attempt = 0;
    while (this.queue.length > 0 && !this.closed) {
      const batch = this.queue[0]!;
      try {
        await this.opts.send(batch);
        this.delivered = true;
        attempt = 0;
        this.queue.shift();
        if (this.dir) rmSync(join(this.dir, batchFile(batch.seq)), { force: true });
      } catch (e) {
        this.opts.onError?.(e, attempt);
        const delay = backoffDelay(
          ++attempt,
          { baseMs: this.opts.baseBackoffMs ?? 200, maxMs: this.opts.maxBackoffMs ?? 10_000 },
          Math.random(),
        );
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
    this.sending = false;
    if (this.queue.length === 0) for (const w of this.drainWaiters.splice(0)) w();
  }
}
