/**
 * vitest globalSetup for the `node` project: a control plane whose apiserver a real node can reach, and that node
 * (test/cluster/node.ts). Where the machine cannot run it, says why in one line and lets every suite skip.
 */
import type { TestProject } from 'vitest/node';
import { type ControlPlane, startControlPlane } from '../cluster/controlplane.js';
import { createNodeNetwork, type NodeSetup, type RunningNode, startNode } from '../cluster/node.js';
import {
  NODE_NET,
  type NodeBinaries,
  type NodeImages,
  nodeBinaries,
  nodeImages,
  nodeSkipReason,
} from '../cluster/node-env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Why the node suites skip here; empty when the node runs. */
    nodeSkip: string;
    nodeKubeconfig: string;
    /** containerd's socket, for `ctr` (pids of containers, for RSS). */
    nodeContainerdSocket: string;
    nodeBinaries: NodeBinaries;
    nodeImages: NodeImages;
    /** Milliseconds from nothing to a Ready node with CoreDNS answering. */
    nodeReadyMs: number;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const skip = nodeSkipReason();
  if (skip) {
    console.log(`node e2e skipped: ${skip}`);
    project.provide('nodeSkip', skip);
    return undefined;
  }
  const bins = nodeBinaries() as NodeBinaries;
  const images = nodeImages() as NodeImages;
  const started = Date.now();
  let cp: ControlPlane | undefined;
  let net: NodeSetup | undefined;
  let node: RunningNode | undefined;
  const teardown = async () => {
    await node?.stop();
    await cp?.stop();
    await net?.undo();
  };
  try {
    // The veth must exist before the apiserver binds its host end.
    net = await createNodeNetwork();
    cp = await startControlPlane({
      address: NODE_NET.hostIp,
      extraCertIps: [NODE_NET.apiServiceIp],
      serviceClusterIpRange: NODE_NET.serviceCidr,
      kubeletClient: true,
    });
    node = await startNode(cp, net, bins, images);
  } catch (err) {
    await teardown();
    throw err;
  }
  project.provide('nodeSkip', '');
  project.provide('nodeKubeconfig', node.kubeconfigPath);
  project.provide('nodeContainerdSocket', node.containerdSocket);
  project.provide('nodeBinaries', bins);
  project.provide('nodeImages', images);
  project.provide('nodeReadyMs', node.readyMs);
  console.log(
    `test node ${node.name} Ready with CoreDNS in ${node.readyMs} ms (${Date.now() - started} ms with the control plane)`,
  );
  return teardown;
}
