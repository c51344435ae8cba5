/** The operator's few Kubernetes calls, behind plain functions: status patches, Events, TokenReview, Lease. */
import {
  ApiException,
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Lease,
  V1MicroTime,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '../api/common.js';

export const PLURALS = { ModelRoute: 'modelroutes', ModelBudget: 'modelbudgets' } as const;
export type Kind = keyof typeof PLURALS;

export interface ObjectRef {
  kind: Kind;
  metadata: {
    name: string;
    namespace?: string | undefined;
    uid?: string | undefined;
    resourceVersion?: string | undefined;
  };
}

export function apiCode(e: unknown): number | undefined {
  return e instanceof ApiException ? e.code : undefined;
}

/** An API error in one short line ("HTTP 429: storage is (re)initializing"), not the client's header dump. */
export function apiErrorMessage(e: unknown): string {
  if (!(e instanceof ApiException)) return e instanceof Error ? e.message : String(e);
  let detail: unknown;
  try {
    const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
    detail = body?.message ?? body?.reason;
  } catch {
    // A body that is not a Status object: the code alone.
  }
  return `HTTP ${e.code}${typeof detail === 'string' && detail ? `: ${detail}` : ''}`;
}

/**
 * The apiserver asking to come back later (429: flow control, or a resource's storage still initializing right
 * after its CRD was installed) is a retry the client is meant to make, not a fault.
 */
export const apiFailureClass = (e: unknown): 'expected' | 'unexpected' =>
  apiCode(e) === 429 ? 'expected' : 'unexpected';

export class Kube {
  readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly auth: AuthenticationV1Api;
  private readonly coordination: CoordinationV1Api;

  constructor(
    readonly kc: KubeConfig,
    private readonly instance: string,
  ) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.auth = kc.makeApiClient(AuthenticationV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
  }

  async get(kind: Kind, namespace: string, name: string): Promise<unknown | undefined> {
    try {
      return await this.custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURALS[kind],
        name,
      });
    } catch (e) {
      if (apiCode(e) === 404) return undefined;
      throw e;
    }
  }

  async list(kind: Kind): Promise<{ items: unknown[]; metadata?: { resourceVersion?: string } }> {
    return this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURALS[kind] });
  }

  /**
   * Merge-patches the status subresource. With `resourceVersion` the write is conditional (409 when the object
   * moved), which is what keeps the budget ledger exact under concurrent writers.
   */
  async patchStatus(ref: ObjectRef, status: unknown, resourceVersion?: string): Promise<unknown> {
    const body: Record<string, unknown> = { status };
    if (resourceVersion) body['metadata'] = { resourceVersion };
    return this.custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: ref.metadata.namespace ?? 'default',
        plural: PLURALS[ref.kind],
        name: ref.metadata.name,
        body,
        fieldManager: 'tiermesh-operator',
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** A core/v1 Event on the object; failures are swallowed by callers (Events are best effort). */
  async event(ref: ObjectRef, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date();
    const namespace = ref.metadata.namespace ?? 'default';
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${ref.metadata.name}.`, namespace },
        involvedObject: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: ref.kind,
          name: ref.metadata.name,
          namespace,
          ...(ref.metadata.uid ? { uid: ref.metadata.uid } : {}),
        },
        type,
        reason,
        message: message.slice(0, 1024),
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: 'tiermesh-operator' },
        reportingComponent: 'tiermesh.dev/operator',
        reportingInstance: this.instance,
      },
    });
  }

  /** The authenticated username of a token issued for `audience`, or undefined when the apiserver rejects it. */
  async reviewToken(token: string, audience: string): Promise<string | undefined> {
    const review = await this.auth.createTokenReview({ body: { spec: { token, audiences: [audience] } } });
    if (!review.status?.authenticated) return undefined;
    if (review.status.audiences && !review.status.audiences.includes(audience)) return undefined;
    return review.status.user?.username;
  }

  async readLease(namespace: string, name: string): Promise<V1Lease | undefined> {
    try {
      return await this.coordination.readNamespacedLease({ namespace, name });
    } catch (e) {
      if (apiCode(e) === 404) return undefined;
      throw e;
    }
  }

  async writeLease(namespace: string, name: string, lease: V1Lease, create: boolean): Promise<V1Lease> {
    return create
      ? this.coordination.createNamespacedLease({ namespace, body: lease })
      : this.coordination.replaceNamespacedLease({ namespace, name, body: lease });
  }
}

export function microTime(d: Date): V1MicroTime {
  return new V1MicroTime(d.getTime());
}
