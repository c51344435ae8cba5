/** Starts and stops a real etcd + kube-apiserver on loopback for e2e tests (like controller-runtime's envtest, no Docker). */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterBinaries } from './binaries.js';
import { kubeconfigYaml, makePki, type Pki } from './pki.js';
import { logTail, type Managed, startProcess, stopProcess } from './process.js';

/** A running control plane. Everything it writes lives in `dir`, which `stop()` removes. */
export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Admin kubeconfig (client cert in system:masters, real CA). */
  kubeconfigPath: string;
  /** Temp dir holding PKI, etcd data, kubeconfig and the process logs (etcd.log, kube-apiserver.log). */
  dir: string;
  pki: Pki;
  /** The issuer written into service-account tokens. */
  serviceAccountIssuer: string;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** How long to wait for etcd and /readyz together. */
  startTimeoutMs?: number;
  /** Keep `dir` after stop, for debugging (also TIERMESH_KEEP_CLUSTER=1). */
  keepDir?: boolean;
  /** Extra kube-apiserver flags, e.g. `--feature-gates=...`. */
  apiserverArgs?: string[];
  /**
   * The address kube-apiserver binds, advertises (the `kubernetes` Service's endpoint) and carries in its
   * certificate; default 127.0.0.1. A real node's pods need a non-loopback one (test/cluster/node.ts).
   */
  address?: string;
  /**
   * Let the apiserver call kubelets (logs, exec, port-forward) with the admin client cert, verifying their serving
   * certificates against the cluster CA.
   */
  kubeletClient?: boolean;
  /** More IPs for the serving certificate, e.g. the `kubernetes` Service's ClusterIP that pods dial. */
  extraCertIps?: string[];
  /** --service-cluster-ip-range; default 10.0.0.0/24 (no Service traffic leaves the apiserver without a node). */
  serviceClusterIpRange?: string;
}

export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** A port the kernel just handed out on 127.0.0.1; another process may still take it, so callers retry on bind errors. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const address = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port from the kernel');
  return address.port;
}

class StartupError extends Error {
  constructor(
    message: string,
    readonly portClash: boolean,
  ) {
    super(message);
  }
}

function failure(m: Managed, why: string): StartupError {
  const tail = logTail(m);
  const message = `${m.name} ${why}. Last lines of ${m.logFile}:\n${tail}`;
  return new StartupError(message, /address already in use/i.test(tail));
}

/** GET over https with the admin client cert; resolves to the status code and body, or undefined if unreachable. */
function adminGet(url: string, pki: Pki): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
        timeout: 5_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

async function etcdHealthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    return res.ok && ((await res.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

/** Polls `check` until it is true; throws the process's log tail if the process dies or time runs out. */
async function waitUntil(
  m: Managed,
  what: string,
  deadline: number,
  check: () => Promise<boolean>,
): Promise<void> {
  while (!(await check())) {
    if (m.exited)
      throw failure(m, `exited (code ${m.exited.code}, signal ${m.exited.signal}) before ${what}`);
    if (Date.now() > deadline) throw failure(m, `did not become ${what} in time`);
    await sleep(200);
  }
}

async function startOnce(dir: string, pki: Pki, options: ControlPlaneOptions): Promise<ControlPlane> {
  const bins = await clusterBinaries();
  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
  const [clientPort, peerPort, securePort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = startProcess(
    'etcd',
    bins.etcd,
    [
      `--data-dir=${join(dir, `etcd-${clientPort}`)}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      // Test data is thrown away; fsync only costs time.
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    join(dir, 'etcd.log'),
  );
  let apiserver: Managed | undefined;
  const stopBoth = async () => {
    if (apiserver) await stopProcess(apiserver);
    await stopProcess(etcd);
  };
  try {
    await waitUntil(etcd, 'healthy', deadline, () => etcdHealthy(etcdUrl));
    const address = options.address ?? '127.0.0.1';
    const server = `https://${address}:${securePort}`;
    apiserver = startProcess(
      'kube-apiserver',
      bins.apiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${address}`,
        `--advertise-address=${address}`,
        `--secure-port=${securePort}`,
        `--cert-dir=${join(dir, 'apiserver-certs')}`,
        `--tls-cert-file=${pki.servingCert}`,
        `--tls-private-key-file=${pki.servingKey}`,
        `--client-ca-file=${pki.caCert}`,
        '--authorization-mode=RBAC',
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        `--service-cluster-ip-range=${options.serviceClusterIpRange ?? '10.0.0.0/24'}`,
        '--allow-privileged=true',
        ...(options.kubeletClient
          ? [
              `--kubelet-client-certificate=${pki.adminCert}`,
              `--kubelet-client-key=${pki.adminKey}`,
              `--kubelet-certificate-authority=${pki.caCert}`,
              '--kubelet-preferred-address-types=InternalIP',
            ]
          : []),
        ...(options.apiserverArgs ?? []),
      ],
      join(dir, 'kube-apiserver.log'),
    );
    const api = apiserver;
    await waitUntil(
      api,
      'ready (/readyz)',
      deadline,
      async () => (await adminGet(`${server}/readyz`, pki))?.status === 200,
    );
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, await kubeconfigYaml(pki, server), { mode: 0o600 });
    const keep = options.keepDir || process.env.TIERMESH_KEEP_CLUSTER === '1';
    return {
      server,
      kubeconfigPath,
      dir,
      pki,
      serviceAccountIssuer: SERVICE_ACCOUNT_ISSUER,
      async stop() {
        await stopBoth();
        if (keep) console.log(`control plane files kept in ${dir}`);
        else await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopBoth();
    throw err;
  }
}

/** Starts etcd and kube-apiserver on free loopback ports and waits until /readyz answers 200. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const dir = await mkdtemp(join(tmpdir(), 'tiermesh-cluster-'));
  try {
    const pki = await makePki(dir, [
      ...(options.address ? [options.address] : []),
      ...(options.extraCertIps ?? []),
    ]);
    // Free ports can be taken by a parallel test between probe and bind; such a clash is retried.
    for (let attempt = 1; ; attempt++) {
      try {
        return await startOnce(dir, pki, options);
      } catch (err) {
        if (!(err instanceof StartupError && err.portClash && attempt < 3)) throw err;
      }
    }
  } catch (err) {
    if (err instanceof Error) console.error(`control plane failed to start: ${err.message}`);
    if (!options.keepDir && process.env.TIERMESH_KEEP_CLUSTER !== '1')
      await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
