/** What the real test node needs from the machine and the caches, and where it finds the binaries and images. */
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { repoRoot } from './binaries.js';

/** Addresses, all from the benchmarking range 198.18.0.0/15, so nothing can collide with a real network. */
export const NODE_NET = {
  /** The host's end of the veth into the node's network namespace: kube-apiserver binds here. */
  hostIp: '198.18.255.1',
  /** The node's end: its InternalIP, where the kubelet serves. */
  nodeIp: '198.18.255.2',
  vethCidr: 30,
  podCidr: '198.18.0.0/24',
  podGateway: '198.18.0.1',
  serviceCidr: '198.19.0.0/24',
  /** The `kubernetes` Service (first address of the range). */
  apiServiceIp: '198.19.0.1',
  dnsServiceIp: '198.19.0.10',
} as const;

export const NODE_NAME = 'tiermesh-node';

export interface NodeImage {
  ref: string;
  archive: string;
}
/** What scripts/node-images.sh wrote to images.json. */
export interface NodeImages {
  pause: NodeImage;
  coredns: NodeImage;
  nodeBase: NodeImage;
  tiermesh: NodeImage;
  app: NodeImage;
}

export interface NodeBinaries {
  kubelet: string;
  kubeProxy: string;
  controllerManager: string;
  scheduler: string;
  kubectl: string;
  helm: string;
}

export const binDir = (): string => process.env.TIERMESH_CLUSTER_BIN_DIR ?? join(repoRoot, '.cache/bin');
export const imageDir = (): string =>
  process.env.TIERMESH_NODE_IMAGE_DIR ?? join(dirname(binDir()), 'node-images');

/** The newest `<name>-v*` in the bin cache (versions sort naturally), if any. */
function newest(name: string): string | undefined {
  const dir = binDir();
  if (!existsSync(dir)) return undefined;
  const found = readdirSync(dir)
    .filter((f) => f.startsWith(`${name}-v`) && !f.endsWith('.partial'))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .at(-1);
  return found && join(dir, found);
}

const HOST_TOOLS = [
  '/usr/bin/containerd',
  '/usr/bin/ctr',
  '/usr/bin/nsenter',
  '/usr/lib/cni/bridge',
  '/usr/lib/cni/host-local',
  '/usr/lib/cni/loopback',
];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && executable(join(d, tool)));
}

/**
 * Why this machine cannot run the real node, or undefined if it can. One sentence, naming the fix; the node
 * suite prints it as its single skip line.
 */
export function nodeSkipReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0)
    return 'needs root (it runs containerd and a kubelet and creates a network namespace)';
  const missing = [
    ...HOST_TOOLS.filter((t) => !executable(t)),
    ...['runc', 'iptables', 'ip'].filter((t) => !onPath(t)),
  ];
  if (missing.length > 0)
    return `missing ${missing.join(', ')}: run scripts/node-packages.sh (containerd, runc, CNI plugins, iptables)`;
  if (!nodeBinaries())
    return `node binaries missing in ${binDir()}: run scripts/node-bins.sh (or \`make test-node\`)`;
  if (!nodeImages())
    return `images missing in ${imageDir()}: run scripts/node-images.sh (or \`make test-node\`)`;
  return undefined;
}

export function nodeBinaries(): NodeBinaries | undefined {
  const b = {
    kubelet: newest('kubelet'),
    kubeProxy: newest('kube-proxy'),
    controllerManager: newest('kube-controller-manager'),
    scheduler: newest('kube-scheduler'),
    kubectl: newest('kubectl'),
    helm: newest('helm'),
  };
  return Object.values(b).every((p) => p && executable(p)) ? (b as NodeBinaries) : undefined;
}

export function nodeImages(): NodeImages | undefined {
  const file = join(imageDir(), 'images.json');
  if (!existsSync(file)) return undefined;
  const images = JSON.parse(readFileSync(file, 'utf8')) as NodeImages;
  return Object.values(images).every((i: NodeImage) => existsSync(i.archive)) ? images : undefined;
}
