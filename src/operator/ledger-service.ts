/**
 * The leader's budget ledger: applies usage batches to ModelBudget status exactly once (optimistic concurrency,
 * one writer per budget), hands out allowances, announces crossed alert thresholds, and keeps the window's top
 * spenders (by the user ids the records carry) in status.topSpenders.
 */
import type { ModelBudget, ModelBudgetStatus } from '../api/modelbudget.js';
import { TopSpenders } from '../budget/top-spenders.js';
import type { UsageRecord } from '../budget/types.js';
import { TiermeshError } from '../errors.js';
import { GrantBook, type GrantPolicy } from './grants.js';
import {
  applyBatch,
  currentWindow,
  DEFAULT_REPORTER_RETENTION_MS,
  recordsFor,
  refreshBudget,
  roundUSD,
  type UsageBatch,
} from './ledger.js';
import { mergePatch } from './merge-patch.js';
import type { AllowanceReply, AllowanceRequest } from './protocol.js';
import { TerminalError } from './reconcile-result.js';
import { sameStatus } from './route-status.js';

export interface BudgetStore {
  /** Budgets of a namespace as the informer last saw them (which budgets exist, not their ledger). */
  cached(namespace: string): ModelBudget[];
  /** The budget as stored now, for a read-modify-write. */
  get(namespace: string, name: string): Promise<ModelBudget | undefined>;
  /**
   * Merge-patches status (a JSON merge patch: nulls remove keys) guarded by the object's resourceVersion; throws a
   * conflict error when it moved.
   */
  writeStatus(budget: ModelBudget, status: ModelBudgetStatus): Promise<ModelBudget>;
  isConflict(e: unknown): boolean;
}

export interface LedgerEvents {
  threshold(budget: ModelBudget, percent: number, status: ModelBudgetStatus): void;
  spend?(namespace: string, budget: string, spentUSD: number): void;
}

export interface LedgerDeps {
  store: BudgetStore;
  events: LedgerEvents;
  isLeader: () => boolean;
  /** Sidecars sharing a namespace's budgets, to size their slices. */
  sidecars: (namespace: string) => number;
  grants?: Partial<GrantPolicy>;
  /** Dedup entries of reporters idle this long are compacted (see `compactReporters`). */
  reporterRetentionMs?: number;
  now?: () => Date;
}

const MAX_CONFLICT_RETRIES = 8;
/** Counters per budget window in memory (anyone above 1/100 of the spend is tracked) and entries in status. */
const SPENDER_COUNTERS = 100;
const SPENDERS_SHOWN = 10;
/** The CRD's bound on a user id in status; longer ids are cut there, in the status only. */
const MAX_USER_CHARS = 253;
/** Sidecars per budget remembered in `localTold`; cleared when full, as a new leader starts. */
const MAX_LOCAL_TOLD = 10_000;

export class LedgerService {
  /** Changes waiting for the next write, per budget, and the budgets with a write in flight. */
  private readonly pending = new Map<string, PendingOp[]>();
  private readonly writing = new Set<string>();
  private readonly latest = new Map<string, ModelBudget>();
  /** Per budget, per sidecar: the local spend it last told for its current outage (see `newLocalSpend`). */
  private readonly localTold = new Map<string, Map<string, { sinceMs: number; spentUSD: number }>>();
  /** Per budget, the top-spenders summary of the window it is for; the status holds its first entries. */
  private readonly spenders = new Map<string, { windowStart: string | undefined; summary: TopSpenders }>();
  private readonly book: GrantBook;
  private readonly now: () => Date;

  constructor(private readonly deps: LedgerDeps) {
    this.book = new GrantBook({ capUSD: 1, minUSD: 0.001, ttlMs: 30_000, graceMs: 5_000, ...deps.grants });
    this.now = deps.now ?? (() => new Date());
  }

  isLeader(): boolean {
    return this.deps.isLeader();
  }

  /**
   * Forgets cached budgets and the in-memory slices. Called on every leadership change: what another leader wrote
   * in between makes both stale. The slices themselves are not lost: every grant is in `status.grants` before the
   * sidecar hears of it, and the next leader loads them from there before it grants anything.
   */
  reset(): void {
    this.localTold.clear();
    this.latest.clear();
    this.book.clear();
    this.spenders.clear();
  }

  /** Applies one batch to every budget of the namespace it concerns; answers only once each write is durable. */
  async report(namespace: string, batch: UsageBatch): Promise<{ applied: boolean }> {
    let applied = false;
    for (const cached of this.deps.store.cached(namespace)) {
      const name = cached.metadata.name;
      const key = `${namespace}/${name}`;
      const spentUSD = recordsFor(cached.spec, batch.records).costUSD;
      let result: Awaited<ReturnType<typeof this.update>>;
      try {
        result = await this.update(namespace, name, (b) => {
          const r = applyBatch(b, batch, this.now(), this.retention());
          // The spend moves from outstanding to spent in the same write that counts it.
          const grants = r.applied
            ? this.book.entriesAfterSpend(key, batch.sidecarId, spentUSD, this.ms())
            : undefined;
          const spenders =
            r.applied && batch.records.length > 0
              ? this.spendersAfter(key, b, r.status, batch.records)
              : undefined;
          return {
            status: {
              ...r.status,
              ...(grants ? { grants } : {}),
              ...(spenders ? { topSpenders: topOf(spenders.summary) } : {}),
            },
            crossed: r.crossed,
            applied: r.applied,
            commit: () => {
              if (r.applied) this.book.spent(key, batch.sidecarId, spentUSD);
              if (spenders) this.spenders.set(key, spenders);
            },
          };
        });
      } catch (e) {
        // A spec the ledger cannot evaluate (an unknown time zone) must not hold up the namespace's other budgets:
        // the batch would be refused, resent forever, and count against none of them. Its refresh reports the spec.
        if (e instanceof TiermeshError && e.code === 'TM_INVALID_CONFIG') continue;
        throw e;
      }
      if (result?.applied) applied = true;
    }
    return { applied };
  }

  /** Brings a budget's status up to date without usage (new window, changed limit, first sight). */
  async refresh(namespace: string, name: string): Promise<void> {
    const key = `${namespace}/${name}`;
    try {
      await this.update(
        namespace,
        name,
        (b) => {
          const r = refreshBudget(b, this.now(), this.retention());
          return { ...r, status: { ...r.status, grants: this.book.entries(key, this.ms()) }, applied: false };
        },
        // Runs after a spec change: read what is stored, never a copy cached before the change.
        { fresh: true },
      );
    } catch (e) {
      // A spec the ledger cannot evaluate (an unknown time zone) stays wrong until the object changes.
      if (e instanceof TiermeshError && e.code === 'TM_INVALID_CONFIG')
        throw new TerminalError(e.param ? `spec.${e.param}: ${e.message}` : e.message, { cause: e });
      throw e;
    }
  }

  /** A slice for one sidecar; it is durable in `status.grants` before the sidecar may spend it. */
  async allowance(namespace: string, req: AllowanceRequest): Promise<AllowanceReply> {
    let reply: AllowanceReply | undefined;
    const r = await this.update(namespace, req.budget, (b) => {
      const { status, crossed } = refreshBudget(b, this.now(), this.retention(), 'usage');
      const key = `${namespace}/${req.budget}`;
      const preview = this.book.preview(
        key,
        req.sidecarId,
        b.spec.limit.usd,
        status.spentUSD ?? 0,
        this.deps.sidecars(namespace),
        this.ms(),
        req.wantUSD ?? 0,
      );
      reply = preview.grant;
      const local = this.newLocalSpend(key, req);
      const spentLocally = local.usd;
      const writes = preview.grant.grantUSD > 0 || spentLocally > 0;
      return {
        status: writes
          ? {
              ...status,
              grants: preview.entries,
              ...(spentLocally > 0
                ? { localSpentUSD: roundUSD((status.localSpentUSD ?? 0) + spentLocally) }
                : {}),
            }
          : // Nothing granted, nothing to persist: no write unless the window or limit changed.
            (b.status ?? status),
        // A lowered limit may have crossed a threshold: marked fired in this write, so announced with it.
        crossed: writes ? crossed : [],
        applied: false,
        commit: () => {
          preview.commit();
          local.commit();
        },
      };
    });
    if (!r || !reply)
      throw new TiermeshError('TM_NOT_FOUND', `no ModelBudget ${req.budget} in namespace ${namespace}`);
    return reply;
  }

  /**
   * What of a sidecar's local spend is new: it reports what it spent since its outage began, again when the answer
   * to the call that told it was lost (it cannot know that was applied). Remembered per outage (`sinceMs`) once the
   * write holding it succeeds; a new leader starts without, so at most one resend after a failover counts twice.
   */
  private newLocalSpend(key: string, req: AllowanceRequest): { usd: number; commit: () => void } {
    if (!req.local || req.local.spentUSD <= 0) return { usd: 0, commit: () => undefined };
    const told = this.localTold.get(key)?.get(req.sidecarId);
    const before = told && told.sinceMs === req.local.sinceMs ? told.spentUSD : 0;
    const { sinceMs, spentUSD } = req.local;
    return {
      usd: Math.max(0, spentUSD - before),
      commit: () => {
        const m = this.localTold.get(key) ?? new Map<string, { sinceMs: number; spentUSD: number }>();
        this.localTold.set(key, m);
        if (m.size >= MAX_LOCAL_TOLD && !m.has(req.sidecarId)) m.clear();
        m.set(req.sidecarId, { sinceMs, spentUSD: Math.max(before, spentUSD) });
      },
    };
  }

  /**
   * The window's summary with these records added, as a copy (the write holding it may fail): the one in memory
   * when it is for this window, else continued from what the status says (a new leader, a restart).
   */
  private spendersAfter(
    key: string,
    b: ModelBudget,
    status: ModelBudgetStatus,
    records: UsageRecord[],
  ): { windowStart: string | undefined; summary: TopSpenders } {
    const held = this.spenders.get(key);
    const summary =
      held && held.windowStart === status.windowStart
        ? held.summary.clone()
        : TopSpenders.from(status.topSpenders ?? [], SPENDER_COUNTERS);
    for (const r of records)
      if (!b.spec.routeRef || r.route === b.spec.routeRef)
        summary.add(r.user?.slice(0, MAX_USER_CHARS), r.costUSD);
    return { windowStart: status.windowStart, summary };
  }

  private ms(): number {
    return this.now().getTime();
  }

  private retention(): number {
    return this.deps.reporterRetentionMs ?? DEFAULT_REPORTER_RETENTION_MS;
  }

  /**
   * Queues a change to one budget's status. Changes queued while a write is in flight are applied together, in
   * order, in the next write (group commit): one conditional status write per round trip however many sidecars
   * report or ask at once, instead of one each, which is what bounds a budget's throughput at 100 reporters.
   * Resolves once the write holding it is durable.
   */
  private update(
    namespace: string,
    name: string,
    change: (b: ModelBudget) => Change,
    opts: { fresh?: boolean } = {},
  ): Promise<{ applied: boolean } | undefined> {
    if (!this.deps.isLeader()) throw new TiermeshError('TM_NOT_READY', 'not the leader', { retryAfter: 1 });
    const key = `${namespace}/${name}`;
    return new Promise((resolve, reject) => {
      let q = this.pending.get(key);
      if (!q) {
        q = [];
        this.pending.set(key, q);
      }
      q.push({ change, fresh: opts.fresh === true, resolve, reject });
      if (!this.writing.has(key)) void this.drain(namespace, name, key);
    });
  }

  private async drain(namespace: string, name: string, key: string): Promise<void> {
    this.writing.add(key);
    try {
      for (;;) {
        const ops = this.pending.get(key)?.splice(0) ?? [];
        if (ops.length === 0) break;
        try {
          const results = await this.writeGroup(namespace, name, key, ops);
          for (const [i, op] of ops.entries()) op.resolve(results[i]);
        } catch (e) {
          for (const op of ops) op.reject(e);
        }
      }
    } finally {
      this.writing.delete(key);
      if (this.pending.get(key)?.length === 0) this.pending.delete(key);
    }
  }

  private async writeGroup(
    namespace: string,
    name: string,
    key: string,
    ops: PendingOp[],
  ): Promise<Array<{ applied: boolean } | undefined>> {
    const fresh = ops.some((o) => o.fresh);
    for (let attempt = 0; ; attempt++) {
      // The last copy we wrote is good for a first try: the write is conditional, a stale one conflicts.
      const cached = attempt === 0 && !fresh ? this.latest.get(key) : undefined;
      const b = cached ?? (await this.deps.store.get(namespace, name));
      if (!b) {
        this.latest.delete(key);
        this.spenders.delete(key);
        this.book.reset(key);
        return ops.map(() => undefined);
      }
      // Slices another writer persisted (the previous leader) count as outstanding here too; in a new window, those
      // still live (their sidecars spend them after the boundary) and nothing else.
      const window = currentWindow(b, this.now());
      if (window.windowStart !== b.status?.windowStart) this.book.reset(key);
      this.book.load(key, window.grants, this.ms());
      // Each change sees the ones before it (status and slices); all are undone if the write fails.
      const saved = this.book.snapshot(key);
      const savedSpenders = this.spenders.get(key);
      const savedLocal = this.localTold.get(key);
      if (savedLocal) this.localTold.set(key, new Map(savedLocal));
      let working = b;
      const results: Array<{ applied: boolean }> = [];
      const crossed: number[] = [];
      for (const op of ops) {
        const r = op.change(working);
        r.commit?.();
        working = { ...working, status: r.status };
        results.push({ applied: r.applied });
        crossed.push(...r.crossed);
      }
      const status = working.status ?? {};
      if (sameStatus(b.status, status)) {
        this.latest.set(key, b);
        return results;
      }
      try {
        // Removed map keys (retired reporters, spent slices) must go as nulls, or the merge keeps them.
        const written = await this.deps.store.writeStatus(
          b,
          mergePatch(b.status, status) as ModelBudgetStatus,
        );
        this.latest.set(key, { ...b, ...written, status });
      } catch (e) {
        this.book.restore(key, saved);
        if (savedSpenders) this.spenders.set(key, savedSpenders);
        else this.spenders.delete(key);
        if (savedLocal) this.localTold.set(key, savedLocal);
        else this.localTold.delete(key);
        this.latest.delete(key);
        if (this.deps.store.isConflict(e) && attempt < MAX_CONFLICT_RETRIES) continue;
        throw e;
      }
      for (const t of crossed) this.deps.events.threshold(b, t, status);
      this.deps.events.spend?.(namespace, name, status.spentUSD ?? 0);
      return results;
    }
  }
}

/** What status.topSpenders shows: the biggest entries, at the ledger's fixed precision. */
function topOf(summary: TopSpenders): NonNullable<ModelBudgetStatus['topSpenders']> {
  return summary
    .top(SPENDERS_SHOWN)
    .map((s) => ({ ...s, usd: roundUSD(s.usd), errorUSD: roundUSD(s.errorUSD) }));
}

interface Change {
  status: ModelBudgetStatus;
  crossed: number[];
  applied: boolean;
  /** In-memory effects of the change (slices booked); undone when the write holding it fails. */
  commit?: () => void;
}

interface PendingOp {
  change: (b: ModelBudget) => Change;
  fresh: boolean;
  resolve: (r: { applied: boolean } | undefined) => void;
  reject: (e: unknown) => void;
}
