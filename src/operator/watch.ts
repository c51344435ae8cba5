/**
 * Informers on ModelRoute and ModelBudget (cluster-wide, or per namespace when scoped). The client relists on
 * 410 Gone itself; on any other error the informer stops, so it is restarted here with capped backoff.
 */
import {
  type Informer,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/common.js';
import { type Kind, type Kube, PLURALS } from './kube.js';
import { backoffMs } from './queue.js';

export interface KindWatch {
  /** Objects of one namespace from the cache. */
  list(namespace: string): KubernetesObject[];
  /** Resolves once every informer has listed and started watching. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface WatchOptions {
  /** Watch only these namespaces; all when empty. */
  namespaces?: string[];
  onChange: (namespace: string) => void;
  onError?: (kind: Kind, e: unknown) => void;
  /** A list succeeded (at start and after each restart of a failed watch). */
  onListed?: (kind: Kind) => void;
}

export function watchKind(kube: Kube, kind: Kind, opts: WatchOptions): KindWatch {
  const plural = PLURALS[kind];
  const scopes = opts.namespaces?.length ? opts.namespaces : [undefined];
  const informers: Array<Informer<KubernetesObject> & ObjectCache<KubernetesObject>> = [];
  const synced: Array<Promise<void>> = [];
  let stopped = false;
  for (const ns of scopes) {
    const path = ns
      ? `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${plural}`
      : `/apis/${GROUP}/${VERSION}/${plural}`;
    let failures = 0;
    let markSynced: () => void = () => undefined;
    synced.push(new Promise<void>((resolve) => (markSynced = resolve)));
    const listFn = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const list = (
        ns
          ? await kube.custom.listNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace: ns,
              plural,
            })
          : await kube.list(kind)
      ) as KubernetesListObject<KubernetesObject>;
      // The cache is filled right after this returns; reconciles queued before then are debounced past it.
      queueMicrotask(markSynced);
      failures = 0;
      opts.onListed?.(kind);
      return list;
    };
    const informer = makeInformer(kube.kc, path, listFn);
    const changed = (obj: KubernetesObject) => {
      if (obj.metadata?.namespace) opts.onChange(obj.metadata.namespace);
    };
    informer.on('add', changed);
    informer.on('update', changed);
    informer.on('delete', changed);
    informer.on('error', (e: unknown) => {
      // Stopping aborts the watch, which the informer reports as an error: that is no failure to warn about.
      if (stopped) return;
      opts.onError?.(kind, e);
      failures++;
      setTimeout(
        () => {
          if (!stopped)
            informer.start().catch((err: unknown) => {
              if (!stopped) opts.onError?.(kind, err);
            });
        },
        backoffMs(failures, 500, 30_000),
      );
    });
    informers.push(informer);
  }
  return {
    list: (namespace) => informers.flatMap((i) => [...i.list(namespace)]),
    async start() {
      await Promise.all(informers.map((i) => i.start()));
      // start() also resolves when the first list failed (the error handler retries); wait for a real list.
      await Promise.all(synced);
    },
    async stop() {
      stopped = true;
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
