/**
 * The sidecar's current config: a validated Snapshot plus everything derived from it, swapped in one assignment.
 * A request reads `current` once and keeps that runtime to the end, so a reload never changes a request mid-flight.
 * Standalone reloads and operator pushes both go through `apply`, which validates before anything changes.
 */
import { type Snapshot, snapshot as snapshotSchema } from '../api/snapshot.js';
import { routeProblems } from '../config/compile.js';
import { formatIssues } from '../config/issues.js';
import { routesForPod } from '../config/pod-selector.js';

export type ApplyResult = { ok: true; version: string; changed: boolean } | { ok: false; error: string };

export interface Versioned {
  readonly snapshot: Snapshot;
}

/**
 * `build` derives the runtime (adapters, classifiers, breakers, budget gate) and may carry state over from the
 * previous runtime (spent budget, breaker history). It throws to refuse a snapshot; nothing is swapped then.
 */
export class ConfigStore<R extends Versioned> {
  private runtime: R | undefined;
  private readonly listeners: Array<(r: R) => void> = [];

  /**
   * `podLabels`: the labels of the pod this sidecar serves (set by the injector). The operator pushes the whole
   * namespace; only the routes whose podSelector selects this pod are run. Absent: every route (standalone).
   */
  constructor(
    private readonly build: (s: Snapshot, previous: R | undefined) => R,
    private readonly podLabels?: Readonly<Record<string, string>>,
  ) {}

  get current(): R | undefined {
    return this.runtime;
  }

  get ready(): boolean {
    return this.runtime !== undefined;
  }

  onApplied(fn: (r: R) => void): void {
    this.listeners.push(fn);
  }

  /** Validates and applies a snapshot atomically. Re-applying the running version is a successful no-op. */
  apply(input: unknown): ApplyResult {
    const parsed = snapshotSchema.safeParse(input);
    if (!parsed.success)
      return { ok: false, error: `invalid snapshot: ${formatIssues(parsed.error).join('; ')}` };
    const pushed = parsed.data;
    if (this.runtime && this.runtime.snapshot.version === pushed.version)
      return { ok: true, version: pushed.version, changed: false };
    const snap = routesForPod(pushed, this.podLabels);
    const problems = snap.routes.flatMap((r) => routeProblems(r.spec).map((p) => `route ${r.name}: ${p}`));
    if (pushed.routes.length === 0) problems.push('snapshot has no routes');
    else if (snap.routes.length === 0)
      problems.push(
        `no route selects this pod: the podSelector of ${pushed.routes.map((r) => r.name).join(', ')} does not match its labels`,
      );
    if (snap.defaultRoute !== undefined && !snap.routes.some((r) => r.name === snap.defaultRoute))
      problems.push(`defaultRoute: "${snap.defaultRoute}" is not a route`);
    if (problems.length > 0) return { ok: false, error: problems.join('; ') };
    let next: R;
    try {
      next = this.build(snap, this.runtime);
    } catch (e) {
      return { ok: false, error: `cannot build runtime: ${(e as Error).message}` };
    }
    this.runtime = next;
    for (const fn of this.listeners) fn(next);
    return { ok: true, version: snap.version, changed: true };
  }
}
