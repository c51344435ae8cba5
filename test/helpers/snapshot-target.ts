import type { SnapshotTarget } from '../../src/sidecar/config-stream.js';

/** A config store that takes every snapshot and records the versions it applied, in order (light sidecars in tests). */
export function recordingTarget(): SnapshotTarget & { versions: string[] } {
  const versions: string[] = [];
  return {
    versions,
    get current() {
      const v = versions.at(-1);
      return v ? { snapshot: { version: v } } : undefined;
    },
    apply(input) {
      const v = (input as { version: string }).version;
      versions.push(v);
      return { ok: true, version: v, changed: true };
    },
  };
}
