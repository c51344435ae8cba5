/**
 * A real single-node cluster next to the test control plane: containerd + runc + the CNI bridge, a kubelet and
 * kube-proxy inside a network namespace this harness creates, kube-controller-manager and kube-scheduler, and
 * CoreDNS as a Deployment. Every address is from 198.18.0.0/15 (NODE_NET); the namespace has no route but its veth
 * to the host, so no packet of a pod can leave the machine. `stop()` puts the machine back as it was.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { type ControlPlane, freePort } from './controlplane.js';
import { applyObjects, loadKubeConfig } from './kube.js';
import { NODE_NAME, NODE_NET, type NodeBinaries, type NodeImages } from './node-env.js';
import { issueServingCert } from './pki.js';
import { logTail, type Managed, startProcess, stopProcess } from './process.js';

const exec = promisify(execFile);

async function sh(cmd: string, args: string[], opts: { ok?: boolean } = {}): Promise<string> {
  try {
    return (await exec(cmd, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    if (opts.ok) return '';
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Global (not per-netns) sysctls the kubelet rewrites; teardown writes the old values back. */
const GLOBAL_SYSCTLS = [
  'vm/overcommit_memory',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

export interface RunningNode {
  name: string;
  /** The netns the kubelet, kube-proxy, containerd and the pods' bridge live in. */
  netns: string;
  kubeconfigPath: string;
  images: NodeImages;
  /** containerd's socket (for `ctr`). */
  containerdSocket: string;
  dir: string;
  /** Milliseconds from the start of startNode until the Node was Ready and CoreDNS answered. */
  readyMs: number;
  stop(): Promise<void>;
}

export interface NodeSetup {
  /** The netns and veth exist; the control plane may bind NODE_NET.hostIp. */
  netns: string;
  undo(): Promise<void>;
}

/**
 * The network namespace and its veth to the host (host end NODE_NET.hostIp, node end NODE_NET.nodeIp), with
 * host routes to the pod and Service ranges through it. The host forwards nothing (its ip_forward is untouched),
 * and the namespace has no default route: pods reach the host's test servers and nothing else.
 */
export async function createNodeNetwork(): Promise<NodeSetup> {
  await removeStaleNetworks();
  const netns = `tiermesh-node-${process.pid}`;
  const host = vethName(process.pid);
  const peer = `tmn${process.pid % 100000}`;
  const inNs = (args: string[]) => sh('ip', ['-n', netns, ...args]);
  // `ip netns add` makes /run/netns a shared bind mount of itself the first time; undone if it was not there.
  const runNetnsExisted = existsSync('/run/netns');
  await sh('ip', ['netns', 'add', netns]);
  const undo = async () => {
    // Deleting the namespace takes its veth (and so the host routes through it), bridge, iptables and sysctls along.
    await sh('ip', ['netns', 'del', netns], { ok: true });
    await sh('ip', ['link', 'del', host], { ok: true });
    if (!runNetnsExisted && readdirSync('/run/netns').length === 0) {
      await sh('umount', ['/run/netns'], { ok: true });
      await rm('/run/netns', { recursive: true, force: true });
    }
  };
  try {
    await sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', netns]);
    await sh('ip', ['addr', 'add', `${NODE_NET.hostIp}/${NODE_NET.vethCidr}`, 'dev', host]);
    await sh('ip', ['link', 'set', host, 'up']);
    await inNs(['link', 'set', 'lo', 'up']);
    await inNs(['addr', 'add', `${NODE_NET.nodeIp}/${NODE_NET.vethCidr}`, 'dev', peer]);
    await inNs(['link', 'set', peer, 'up']);
    for (const cidr of [NODE_NET.podCidr, NODE_NET.serviceCidr])
      await sh('ip', ['route', 'add', cidr, 'via', NODE_NET.nodeIp, 'dev', host]);
    // The bridge exists before the first pod so Services have a route from the start; CNI adopts it.
    await inNs(['link', 'add', 'tmbr0', 'type', 'bridge']);
    await inNs(['addr', 'add', `${NODE_NET.podGateway}/24`, 'dev', 'tmbr0']);
    await inNs(['link', 'set', 'tmbr0', 'up']);
    await inNs(['route', 'add', NODE_NET.serviceCidr, 'dev', 'tmbr0', 'src', NODE_NET.podGateway]);
    // Forwarding only inside the namespace (pod <-> Service <-> host veth); the host's own setting is not touched.
    await sh('ip', ['netns', 'exec', netns, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  } catch (err) {
    await undo();
    throw err;
  }
  return { netns, undo };
}

const vethName = (pid: number) => `tmh${pid % 100000}`;

/** Namespaces (and their veths) of earlier runs whose test process is gone, e.g. after a SIGKILL. */
async function removeStaleNetworks(): Promise<void> {
  if (!existsSync('/run/netns')) return;
  for (const n of readdirSync('/run/netns')) {
    const pid = Number(/^tiermesh-node-(\d+)$/.exec(n)?.[1]);
    if (!pid || existsSync(`/proc/${pid}`)) continue;
    console.error(`node: removing ${n}, left by a test run that is gone`);
    await sh('ip', ['netns', 'del', n], { ok: true });
    await sh('ip', ['link', 'del', vethName(pid)], { ok: true });
  }
}

function readSysctls(): Map<string, string> {
  const m = new Map<string, string>();
  for (const k of GLOBAL_SYSCTLS) {
    try {
      m.set(k, readFileSync(`/proc/sys/${k}`, 'utf8').trim());
    } catch {
      // absent on this kernel
    }
  }
  return m;
}

function restoreSysctls(saved: Map<string, string>): void {
  for (const [k, v] of saved) {
    try {
      if (readFileSync(`/proc/sys/${k}`, 'utf8').trim() !== v) writeFileSync(`/proc/sys/${k}`, v);
    } catch (err) {
      console.error(`node teardown: could not restore ${k}=${v}: ${(err as Error).message}`);
    }
  }
}

/** Mount points under any of `dirs`, deepest first. */
function mountsUnder(dirs: string[]): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && dirs.some((d) => m === d || m.startsWith(`${d}/`)))
    .sort((a, b) => b.length - a.length);
}

/** The kubelet's `kubepods` cgroups in every v1 hierarchy (and the v2 one), removed leaf first. */
function removeKubepodsCgroups(): void {
  const root = '/sys/fs/cgroup';
  const candidates = [join(root, 'kubepods'), join(root, 'unified', 'kubepods')];
  if (existsSync(root)) for (const c of readdirSync(root)) candidates.push(join(root, c, 'kubepods'));
  const rmTree = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmTree(join(d, e.name));
    try {
      rmdirSync(d);
    } catch {
      // still has a process (reported by the caller's task check) or already gone
    }
  };
  for (const c of new Set(candidates)) if (existsSync(c) && statSync(c).isDirectory()) rmTree(c);
}

/** Pids of containerd-shim processes serving the containerd at `socket` (the shims it started). */
function shimPids(socket: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.includes('containerd-shim') && argv.includes(socket)) pids.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function yaml(o: unknown): string {
  return stringify(o, { lineWidth: 0 });
}

function containerdConfig(dir: string, images: NodeImages): string {
  return `version = 2
root = "${join(dir, 'containerd/root')}"
state = "${join(dir, 'containerd/state')}"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "${join(dir, 'containerd/containerd.sock')}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${images.pause.ref}"
  # The machine lacks CAP_SYS_RESOURCE: without this every sandbox fails ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${join(dir, 'cni')}"
`;
}

function cniConfig(dir: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'tiermesh-test',
    plugins: [
      {
        type: 'bridge',
        bridge: 'tmbr0',
        isGateway: true,
        // No masquerade: a pod's packets keep their 198.18/15 source and have nowhere to go but the host veth.
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: NODE_NET.podCidr, gateway: NODE_NET.podGateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: join(dir, 'cni-ipam'),
        },
      },
    ],
  });
}

function kubeletConfig(
  dir: string,
  port: number,
  socket: string,
  cert: { certFile: string; keyFile: string },
  caCert: string,
): string {
  return yaml({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // The host is cgroup v1 (hybrid); the kubelet refuses it unless told.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    containerRuntimeEndpoint: `unix://${socket}`,
    address: NODE_NET.nodeIp,
    port,
    readOnlyPort: 0,
    healthzPort: 0,
    tlsCertFile: cert.certFile,
    tlsPrivateKeyFile: cert.keyFile,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: caCert },
    },
    // Only the apiserver (admin client cert) reaches it, over the veth.
    authorization: { mode: 'AlwaysAllow' },
    clusterDomain: 'cluster.local',
    clusterDNS: [NODE_NET.dnsServiceIp],
    // No upstream resolver: cluster DNS answers cluster.local and nothing else.
    resolvConf: join(dir, 'resolv.conf'),
    failSwapOn: false,
    serializeImagePulls: false,
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '1%',
      'imagefs.available': '1%',
      'nodefs.inodesFree': '1%',
    },
    localStorageCapacityIsolation: false,
    shutdownGracePeriod: '0s',
    // The node is for tests: status and pod changes are picked up quickly.
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    fileCheckFrequency: '5s',
  });
}

function kubeProxyConfig(kubeconfig: string, healthzPort: number, metricsPort: number): string {
  return yaml({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    hostnameOverride: NODE_NAME,
    mode: 'iptables',
    clusterCIDR: NODE_NET.podCidr,
    bindAddress: NODE_NET.nodeIp,
    healthzBindAddress: `127.0.0.1:${healthzPort}`,
    metricsBindAddress: `127.0.0.1:${metricsPort}`,
    // Leave the machine-wide conntrack sysctls alone, and route_localnet off.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    iptables: { localhostNodePorts: false, syncPeriod: '5s', minSyncPeriod: '0s' },
    nodePortAddresses: [`${NODE_NET.nodeIp}/32`],
  });
}

/** CoreDNS as the cluster's kube-dns: cluster.local and reverse zones only, on an unprivileged port. */
function coreDnsObjects(image: string): unknown[] {
  const labels = { 'k8s-app': 'kube-dns' };
  const ns = 'kube-system';
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns' },
      rules: [
        {
          apiGroups: [''],
          resources: ['endpoints', 'services', 'pods', 'namespaces'],
          verbs: ['list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: ns }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'coredns', namespace: ns },
      data: {
        Corefile: [
          // Only these zones are served; any other name is REFUSED, nothing is forwarded.
          'cluster.local:1053 in-addr.arpa:1053 ip6.arpa:1053 {',
          '  errors',
          '  health :8080',
          '  ready :8181',
          '  kubernetes cluster.local in-addr.arpa ip6.arpa {',
          '    pods insecure',
          '  }',
          '  cache 5',
          '}',
          '',
        ].join('\n'),
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: 'coredns',
            dnsPolicy: 'Default',
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 },
            containers: [
              {
                name: 'coredns',
                image,
                imagePullPolicy: 'Never',
                args: ['-conf', '/etc/coredns/Corefile'],
                ports: [
                  { name: 'dns', containerPort: 1053, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 1053, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/ready', port: 8181 }, periodSeconds: 2 },
                livenessProbe: { httpGet: { path: '/health', port: 8080 }, periodSeconds: 10 },
                resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } },
                securityContext: {
                  readOnlyRootFilesystem: true,
                  allowPrivilegeEscalation: false,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [{ name: 'config', mountPath: '/etc/coredns' }],
              },
            ],
            volumes: [{ name: 'config', configMap: { name: 'coredns' } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'kube-dns', namespace: ns, labels },
      spec: {
        clusterIP: NODE_NET.dnsServiceIp,
        selector: labels,
        ports: [
          { name: 'dns', port: 53, targetPort: 1053, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, targetPort: 1053, protocol: 'TCP' },
        ],
      },
    },
  ];
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined | false>,
  procs: Managed[],
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = procs.find((p) => p.exited);
    if (dead)
      throw new Error(
        `${dead.name} exited (${JSON.stringify(dead.exited)}) before ${what}:\n${logTail(dead)}`,
      );
    const v = await check().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not within ${timeoutMs} ms. Logs:\n${procs.map((p) => `--- ${p.name}\n${logTail(p, 15)}`).join('\n')}`,
      );
    await sleep(250);
  }
}

/** Starts the node against `cp` (whose apiserver must bind NODE_NET.hostIp), inside `net`. */
export async function startNode(
  cp: ControlPlane,
  net: NodeSetup,
  bins: NodeBinaries,
  images: NodeImages,
): Promise<RunningNode> {
  const started = Date.now();
  const dir = join(cp.dir, 'node');
  for (const d of ['containerd', 'cni', 'kubelet', 'logs']) await mkdir(join(dir, d), { recursive: true });
  const socket = join(dir, 'containerd/containerd.sock');
  const sysctls = readSysctls();
  const runDirExisted = existsSync('/run/containerd');
  // libcni keeps each attachment's result under /var/lib/cni/results (removed on CNI DEL, the folder stays).
  const cniCacheExisted = existsSync('/var/lib/cni');
  const netnsBefore = new Set(existsSync('/run/netns') ? readdirSync('/run/netns') : []);
  const procs: Managed[] = [];
  const inNetns = (name: string, bin: string, args: string[]) => {
    const m = startProcess(
      name,
      'nsenter',
      [`--net=/run/netns/${net.netns}`, '--', bin, ...args],
      join(dir, 'logs', `${name}.log`),
    );
    procs.push(m);
    return m;
  };
  const onHost = (name: string, bin: string, args: string[]) => {
    const m = startProcess(name, bin, args, join(dir, 'logs', `${name}.log`));
    procs.push(m);
    return m;
  };
  const ctr = (args: string[]) => sh('ctr', ['--address', socket, '-n', 'k8s.io', ...args]);
  const kc: KubeConfig = loadKubeConfig(cp.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);

  const stop = async () => {
    const errors: string[] = [];
    const kcm = procs.find((p) => p.name === 'kube-controller-manager');
    const sched = procs.find((p) => p.name === 'kube-scheduler');
    // Controllers first, so nothing re-creates the pods being removed.
    if (kcm) await stopProcess(kcm);
    if (sched) await stopProcess(sched);
    const kubelet = procs.find((p) => p.name === 'kubelet');
    if (kubelet && !kubelet.exited) {
      try {
        const pods = await core.listPodForAllNamespaces();
        for (const p of pods.items)
          await core
            .deleteNamespacedPod({
              name: p.metadata?.name ?? '',
              namespace: p.metadata?.namespace ?? '',
              gracePeriodSeconds: 0,
            })
            .catch(() => undefined);
        // The kubelet tears each sandbox down (CNI DEL, netns, mounts) once its pod is gone.
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline) {
          const tasks = (await ctr(['tasks', 'ls', '-q']).catch(() => '')).trim();
          const left = await core
            .listPodForAllNamespaces()
            .then((l) => l.items.length)
            .catch(() => 0);
          if (!tasks && left === 0) break;
          await sleep(500);
        }
        const tasks = (await ctr(['tasks', 'ls', '-q']).catch(() => '')).trim();
        if (tasks) {
          errors.push(`containerd still had tasks after 60 s (killed): ${tasks.split('\n').join(', ')}`);
          for (const t of tasks.split('\n')) await ctr(['tasks', 'kill', '-s', 'SIGKILL', t]).catch(() => '');
          await sleep(1000);
          for (const t of tasks.split('\n')) await ctr(['tasks', 'delete', '-f', t]).catch(() => '');
        }
      } catch (err) {
        errors.push(`draining the node: ${(err as Error).message}`);
      }
    }
    for (const p of [...procs].reverse()) await stopProcess(p);
    // Shims of this containerd that outlived it (their tasks were killed above), by pid.
    for (const pid of shimPids(socket)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const m of mountsUnder([dir, '/run/containerd'])) await sh('umount', ['-l', m], { ok: true });
    if (existsSync('/run/netns'))
      for (const n of readdirSync('/run/netns'))
        if (!netnsBefore.has(n) && n.startsWith('cni-')) await sh('ip', ['netns', 'del', n], { ok: true });
    removeKubepodsCgroups();
    restoreSysctls(sysctls);
    if (!runDirExisted) await rm('/run/containerd', { recursive: true, force: true });
    if (!cniCacheExisted) await rm('/var/lib/cni', { recursive: true, force: true });
    await rm(dir, { recursive: true, force: true });
    if (errors.length > 0) console.error(`node teardown: ${errors.join('; ')}`);
  };

  try {
    // containerd, with its CNI config in place so the runtime reports NetworkReady at once.
    await writeFile(join(dir, 'cni/10-tiermesh.conflist'), cniConfig(dir));
    await writeFile(join(dir, 'containerd/config.toml'), containerdConfig(dir, images));
    const containerd = inNetns('containerd', '/usr/bin/containerd', [
      '--config',
      join(dir, 'containerd/config.toml'),
    ]);
    await waitFor('containerd answers', 30_000, async () => (await ctr(['version'])).includes('Server'), [
      containerd,
    ]);
    // What the node itself and plain test pods run; no pod ever needs a registry (none is reachable). The tiermesh
    // and app images are the user journey's to load (ClusterHandle.loadImages), as `kind load` does for kind.
    for (const image of [images.pause, images.coredns, images.nodeBase])
      await ctr(['images', 'import', image.archive]);

    const kubeletPort = await freePort();
    const cert = await issueServingCert(cp.pki, join(dir, 'kubelet'), 'kubelet', [
      NODE_NET.nodeIp,
      NODE_NAME,
    ]);
    await writeFile(join(dir, 'resolv.conf'), '# cluster DNS only: no upstream resolver\n');
    await writeFile(
      join(dir, 'kubelet/config.yaml'),
      kubeletConfig(dir, kubeletPort, socket, cert, cp.pki.caCert),
    );
    inNetns('kubelet', bins.kubelet, [
      `--config=${join(dir, 'kubelet/config.yaml')}`,
      `--kubeconfig=${cp.kubeconfigPath}`,
      `--root-dir=${join(dir, 'kubelet/root')}`,
      `--cert-dir=${join(dir, 'kubelet/pki')}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${NODE_NET.nodeIp}`,
      '--v=1',
    ]);
    await writeFile(
      join(dir, 'kube-proxy.yaml'),
      kubeProxyConfig(cp.kubeconfigPath, await freePort(), await freePort()),
    );
    inNetns('kube-proxy', bins.kubeProxy, [`--config=${join(dir, 'kube-proxy.yaml')}`]);
    onHost('kube-controller-manager', bins.controllerManager, [
      `--kubeconfig=${cp.kubeconfigPath}`,
      '--leader-elect=false',
      '--secure-port=0',
      `--root-ca-file=${cp.pki.caCert}`,
      `--service-account-private-key-file=${cp.pki.serviceAccountKey}`,
      `--service-cluster-ip-range=${NODE_NET.serviceCidr}`,
      '--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-route',
      '--concurrent-deployment-syncs=10',
    ]);
    onHost('kube-scheduler', bins.scheduler, [
      `--kubeconfig=${cp.kubeconfigPath}`,
      '--leader-elect=false',
      '--secure-port=0',
    ]);

    await waitFor(
      `node ${NODE_NAME} Ready`,
      90_000,
      async () => {
        const n = await core.readNode({ name: NODE_NAME });
        return n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      },
      procs,
    );
    await applyObjects(kc, coreDnsObjects(images.coredns.ref) as Parameters<typeof applyObjects>[1]);
    await waitFor(
      'CoreDNS Ready',
      120_000,
      async () => {
        const pods = await core.listNamespacedPod({
          namespace: 'kube-system',
          labelSelector: 'k8s-app=kube-dns',
        });
        return pods.items.some((p) =>
          p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
      },
      procs,
    );
    return {
      name: NODE_NAME,
      netns: net.netns,
      kubeconfigPath: cp.kubeconfigPath,
      images,
      containerdSocket: socket,
      dir,
      readyMs: Date.now() - started,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
