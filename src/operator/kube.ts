/** The operator's few Kubernetes calls, behind plain functions: status patches, Events, TokenReview, Lease. */

import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import { createSecureContext } from 'node:tls';
import {
  ApiException,
  type Configuration,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  createConfiguration,
  type KubeConfig,
  PatchStrategy,
  type RequestContext,
  ServerConfiguration,
  setHeaderOptions,
  type V1Lease,
  type V1LeaseList,
  V1MicroTime,
} from '@kubernetes/client-node';
import { Agent as UndiciAgent } from 'undici';
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

/**
 * API clients like `kc.makeApiClient`, but sharing one pool of kept-alive connections: the generated client's
 * authentication builds a new undici Agent, i.e. a new TLS connection with client-certificate auth, for every
 * call, which under load (every status write, Lease renew and patch) costs more CPU than the call itself.
 */
function pooledClients(kc: KubeConfig): <T>(api: new (config: Configuration) => T) => T {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('kubeconfig has no current cluster');
  let pool: Promise<UndiciAgent> | undefined;
  const auth = {
    getName: () => 'kubeconfig (pooled connections)',
    async applySecurityAuthentication(context: RequestContext): Promise<void> {
      await kc.applySecurityAuthentication(context);
      if (!server.startsWith('https:')) return;
      pool ??= (async () => {
        const o: RequestOptions = {};
        await kc.applyToHTTPSOptions(o);
        return new UndiciAgent({
          connections: 32,
          keepAliveTimeout: 30_000,
          connect: {
            ...(o.ca ? { ca: o.ca } : {}),
            ...(o.cert ? { cert: o.cert } : {}),
            ...(o.key ? { key: o.key } : {}),
            ...(o.servername ? { servername: o.servername } : {}),
            ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
          },
        });
      })();
      context.setDispatcher(await pool);
    },
  };
  const config = createConfiguration({
    baseServer: new ServerConfiguration(server, {}),
    authMethods: { default: auth },
  });
  return (api) => new api(config);
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
  private readonly coordination: CoordinationV1Api;
  /** The TokenReview connection pool and request options, built once: see `reviewToken`. */
  private review: Promise<{ agent: HttpsAgent; url: URL; headers: Record<string, string> }> | undefined;
  private reviewAt = 0;

  constructor(
    readonly kc: KubeConfig,
    private readonly instance: string,
  ) {
    const make = pooledClients(kc);
    this.custom = make(CustomObjectsApi);
    this.core = make(CoreV1Api);
    this.coordination = make(CoordinationV1Api);
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

  /**
   * The authenticated username of a token issued for `audience`, or undefined when the apiserver rejects it.
   * Over a kept-alive connection pool of its own: the generated client's agent closes its socket after every call,
   * so each TokenReview paid a TLS handshake with client-certificate auth, which is what made a reconnect storm of
   * 1,000 sidecars (1,000 TokenReviews) take seconds of operator CPU.
   */
  async reviewToken(token: string, audience: string): Promise<string | undefined> {
    const { agent, url, headers } = await this.reviewSetup();
    const body = JSON.stringify({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token, audiences: [audience] },
    });
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method: 'POST',
          agent,
          headers: {
            ...headers,
            'content-type': 'application/json',
            accept: 'application/json',
            'content-length': Buffer.byteLength(body),
          },
          timeout: 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('TokenReview timed out')));
      req.on('error', reject);
      req.end(body);
    });
    if (status !== 201 && status !== 200)
      throw new Error(`TokenReview answered ${status}: ${text.slice(0, 200)}`);
    const review = JSON.parse(text) as {
      status?: { authenticated?: boolean; audiences?: string[]; user?: { username?: string } };
    };
    if (!review.status?.authenticated) return undefined;
    if (review.status.audiences && !review.status.audiences.includes(audience)) return undefined;
    return review.status.user?.username;
  }

  /**
   * What every TokenReview needs, made once rather than per review (a reconnect storm is 1,000 of them): the pool,
   * whose TLS credentials sit in one SecureContext instead of PEM options, because an https Agent names its pools by
   * concatenating every PEM option and did that for each request; and the kubeconfig's auth headers, refreshed every
   * 10 s so a rotated operator token (the kubelet's projected file) is picked up.
   */
  private reviewSetup(): Promise<{ agent: HttpsAgent; url: URL; headers: Record<string, string> }> {
    if (this.review && Date.now() - this.reviewAt < 10_000) return this.review;
    const previous = this.review;
    this.reviewAt = Date.now();
    this.review = (async () => {
      const opts: RequestOptions = {};
      await this.kc.applyToHTTPSOptions(opts);
      const server = this.kc.getCurrentCluster()?.server;
      if (!server) throw new Error('kubeconfig has no current cluster');
      const agent =
        (await previous?.catch(() => undefined))?.agent ??
        new HttpsAgent({
          keepAlive: true,
          maxSockets: 32,
          secureContext: createSecureContext({
            ...(opts.ca ? { ca: opts.ca } : {}),
            ...(opts.cert ? { cert: opts.cert } : {}),
            ...(opts.key ? { key: opts.key } : {}),
          }),
          ...(opts.servername ? { servername: opts.servername } : {}),
          ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
        });
      return {
        agent,
        url: new URL('/apis/authentication.k8s.io/v1/tokenreviews', server),
        headers: { ...(opts.headers as Record<string, string> | undefined) },
      };
    })();
    // A failed setup (an unreadable kubeconfig credential) is retried by the next review, not cached.
    this.review.catch(() => {
      this.reviewAt = 0;
    });
    return this.review;
  }

  async readLease(namespace: string, name: string): Promise<V1Lease | undefined> {
    try {
      return await this.coordination.readNamespacedLease({ namespace, name });
    } catch (e) {
      if (apiCode(e) === 404) return undefined;
      throw e;
    }
  }

  /**
   * Merge-patches annotations of the Lease (null removes one). Unconditional: each replica owns its own key, so
   * concurrent patches of different keys never conflict.
   */
  async patchLeaseAnnotations(
    namespace: string,
    name: string,
    annotations: Record<string, string | null>,
  ): Promise<void> {
    await this.coordination.patchNamespacedLease(
      { namespace, name, body: { metadata: { annotations } }, fieldManager: 'tiermesh-operator' },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  /** The Lease as a one-item list, for a watch on just it (RBAC: list/watch limited to its name). */
  async listLease(namespace: string, name: string): Promise<V1LeaseList> {
    return this.coordination.listNamespacedLease({ namespace, fieldSelector: `metadata.name=${name}` });
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
