/**
 * The leader's budget ledger: applies usage batches to ModelBudget status exactly once (optimistic concurrency,
 * one writer per budget), hands out allowances, and announces crossed alert thresholds.
 */
import type { ModelBudget, ModelBudgetStatus } from '../api/modelbudget.js';
import { TiermeshError } from '../errors.js';
import { GrantBook, type GrantPolicy } from './grants.js';
import { applyBatch, recordsFor, refreshBudget, type UsageBatch } from './ledger.js';
import type { AllowanceReply, AllowanceRequest } from './protocol.js';
import { TerminalError } from './reconcile-result.js';
import { sameStatus } from './route-status.js';

export interface BudgetStore {
  /** Budgets of a namespace as the informer last saw them (which budgets exist, not their ledger). */
  cached(namespace: string): ModelBudget[];
  /** The budget as stored now, for a read-modify-write. */
  get(namespace: string, name: string): Promise<ModelBudget | undefined>;
  /** Merge-patches status guarded by the object's resourceVersion; throws a conflict error when it moved. */
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
  now?: () => Date;
}

const MAX_CONFLICT_RETRIES = 8;

export class LedgerService {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly latest = new Map<string, ModelBudget>();
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
   * Forgets cached budgets and outstanding slices. Called on every leadership change: what another leader wrote
   * in between makes both stale (its slices are unknown here; they expire on the sidecars within one TTL).
   */
  reset(): void {
    this.latest.clear();
    this.book.clear();
  }

  /** Applies one batch to every budget of the namespace it concerns; answers only once each write is durable. */
  async report(namespace: string, batch: UsageBatch): Promise<{ applied: boolean }> {
    let applied = false;
    for (const cached of this.deps.store.cached(namespace)) {
      const name = cached.metadata.name;
      const result = await this.update(namespace, name, (b) => {
        const r = applyBatch(b, batch, this.now());
        return { status: r.status, crossed: r.crossed, applied: r.applied };
      });
      if (result?.applied) {
        applied = true;
        this.book.spent(
          `${namespace}/${name}`,
          batch.sidecarId,
          recordsFor(cached.spec, batch.records).costUSD,
        );
      }
    }
    return { applied };
  }

  /** Brings a budget's status up to date without usage (new window, changed limit, first sight). */
  async refresh(namespace: string, name: string): Promise<void> {
    try {
      await this.update(namespace, name, (b) => ({ ...refreshBudget(b, this.now()), applied: false }));
    } catch (e) {
      // A spec the ledger cannot evaluate (an unknown time zone) stays wrong until the object changes.
      if (e instanceof TiermeshError && e.code === 'TM_INVALID_CONFIG')
        throw new TerminalError(e.param ? `spec.${e.param}: ${e.message}` : e.message, { cause: e });
      throw e;
    }
  }

  async allowance(namespace: string, req: AllowanceRequest): Promise<AllowanceReply> {
    const key = `${namespace}/${req.budget}`;
    return this.locked(key, async () => {
      const b = this.latest.get(key) ?? (await this.deps.store.get(namespace, req.budget));
      if (!b)
        throw new TiermeshError('TM_NOT_FOUND', `no ModelBudget ${req.budget} in namespace ${namespace}`);
      const { status } = refreshBudget(b, this.now());
      if (status.windowStart !== b.status?.windowStart) this.book.reset(key);
      return this.book.grant(
        key,
        req.sidecarId,
        b.spec.limit.usd,
        status.spentUSD ?? 0,
        this.deps.sidecars(namespace),
        this.now().getTime(),
      );
    });
  }

  private async update(
    namespace: string,
    name: string,
    change: (b: ModelBudget) => { status: ModelBudgetStatus; crossed: number[]; applied: boolean },
  ): Promise<{ applied: boolean } | undefined> {
    if (!this.deps.isLeader()) throw new TiermeshError('TM_NOT_READY', 'not the leader', { retryAfter: 1 });
    const key = `${namespace}/${name}`;
    return this.locked(key, async () => {
      for (let attempt = 0; ; attempt++) {
        const b = await this.deps.store.get(namespace, name);
        if (!b) {
          this.latest.delete(key);
          this.book.reset(key);
          return undefined;
        }
        const r = change(b);
        // Slices handed out in the previous window are void in the new one.
        if (r.status.windowStart !== b.status?.windowStart) this.book.reset(key);
        if (sameStatus(b.status, r.status)) {
          this.latest.set(key, b);
          return { applied: r.applied };
        }
        try {
          const written = await this.deps.store.writeStatus(b, r.status);
          this.latest.set(key, { ...b, ...written, status: r.status });
        } catch (e) {
          if (this.deps.store.isConflict(e) && attempt < MAX_CONFLICT_RETRIES) continue;
          throw e;
        }
        for (const t of r.crossed) this.deps.events.threshold(b, t, r.status);
        this.deps.events.spend?.(namespace, name, r.status.spentUSD ?? 0);
        return { applied: r.applied };
      }
    });
  }

  private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}
