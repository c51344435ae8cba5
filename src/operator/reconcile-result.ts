/**
 * What a reconcile tells the work queue beyond "done" or "failed, back off", in controller-runtime's terms:
 *
 *   ReconcileOutcome { requeueAfterMs? }   like reconcile.Result{RequeueAfter}: run this key again after that
 *                                          long even if nothing changes (a budget window that ends then)
 *   TerminalError                          like reconcile.TerminalError: retrying cannot help until the object
 *                                          changes, so the queue reports it once and does not back off and retry
 */
export interface ReconcileOutcome {
  requeueAfterMs?: number | undefined;
}

export class TerminalError extends Error {
  override readonly name = 'TerminalError';
}

/** The sooner of two optional delays. */
export function sooner(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
