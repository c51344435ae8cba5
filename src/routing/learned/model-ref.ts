/**
 * Per-route learned models (`spec.classifier.modelRef`). A ref with a slash or ending in `.json` is a file path
 * (standalone); anything else names a ConfigMap whose `model.json` is mounted at `<model dir>/<name>/model.json`
 * (in-cluster; TIERMESH_MODEL_DIR, default /etc/tiermesh/models). Files are validated when a config version is
 * built: a missing, corrupt, oversized or mismatched model throws, so the version is refused and every route keeps
 * the model it had.
 *
 *   modelRefPath(ref, modelDir?): string
 *   new RouteModels().resolve(snapshot): Map<route, LearnedClassifier>   throws ModelFileError naming the route
 */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Snapshot } from '../../api/snapshot.js';
import { type LearnedClassifier, loadModelFile, ModelFileError } from './model.js';
import { DEFAULT_MODEL_DIR, isModelFileRef, MODEL_CONFIGMAP_KEY } from './model-ref-kind.js';

export { DEFAULT_MODEL_DIR } from './model-ref-kind.js';

export function modelRefPath(
  ref: string,
  modelDir = process.env['TIERMESH_MODEL_DIR'] || DEFAULT_MODEL_DIR,
): string {
  return isModelFileRef(ref) ? resolve(ref) : join(modelDir, ref, MODEL_CONFIGMAP_KEY);
}

/** Loads each route's referenced model once per file version (path, size, mtime), across config versions. */
export class RouteModels {
  private readonly cache = new Map<string, { stamp: string; model: LearnedClassifier }>();
  private current = new Map<string, LearnedClassifier>();

  /** The model of a route with a modelRef in the last committed version (undefined: the shipped model). */
  modelFor(route: string): LearnedClassifier | undefined {
    return this.current.get(route);
  }

  /** Loads every referenced model of `snapshot` (learned/hybrid routes only); throws on the first bad one. */
  resolve(snapshot: Snapshot): Map<string, LearnedClassifier> {
    const out = new Map<string, LearnedClassifier>();
    for (const r of snapshot.routes) {
      const ref = r.spec.classifier.modelRef;
      if (ref === undefined || r.spec.classifier.mode === 'rules') continue;
      const path = modelRefPath(ref);
      try {
        out.set(r.name, this.load(path));
      } catch (e) {
        if (!(e instanceof ModelFileError)) throw e;
        throw new ModelFileError(`route ${r.name}: modelRef "${ref}": ${e.message}`);
      }
    }
    return out;
  }

  /** Makes `models` the current set (call once the version using them is accepted). */
  commit(models: Map<string, LearnedClassifier>): void {
    this.current = models;
  }

  private load(path: string): LearnedClassifier {
    let stamp = '';
    try {
      const st = statSync(path);
      stamp = `${st.size}:${st.mtimeMs}`;
    } catch {
      // loadModelFile reports the unreadable file.
    }
    const hit = this.cache.get(path);
    if (hit && hit.stamp === stamp && stamp !== '') return hit.model;
    const model = loadModelFile(path);
    this.cache.set(path, { stamp, model });
    return model;
  }
}
