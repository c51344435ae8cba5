import type { ExecutionObserver } from '../../src/sidecar/execute.js';

/** An execute-stage observer that hears nothing (in-process tests and benches of execute.ts); override what you count. */
export function silentObserver(over: Partial<ExecutionObserver> = {}): ExecutionObserver {
  return {
    fallback: () => {},
    escalate: () => {},
    promoted: () => {},
    promotionStopped: () => {},
    judged: () => {},
    strictRetried: () => {},
    hedge: () => {},
    sloSkipped: () => {},
    ...over,
  };
}
