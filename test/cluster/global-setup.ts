/** vitest globalSetup for the e2e project: one real control plane per run, with the project's CRDs installed. */
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { repoRoot } from './binaries.js';
import { type ControlPlane, startControlPlane } from './controlplane.js';
import { installCrds } from './crds.js';
import { KUBECONFIG_ENV, loadKubeConfig } from './kube.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the admin kubeconfig of the run's control plane. */
    kubeconfig: string;
    /** Names of the CRDs installed from crds/. */
    crds: string[];
    /** The cluster CA (PEM file paths), for signing test servers' certificates. */
    caCert: string;
    caKey: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const cluster: ControlPlane = await startControlPlane();
  try {
    const crds = await installCrds(loadKubeConfig(cluster.kubeconfigPath), join(repoRoot, 'crds'));
    project.provide('kubeconfig', cluster.kubeconfigPath);
    project.provide('crds', crds);
    project.provide('caCert', cluster.pki.caCert);
    project.provide('caKey', cluster.pki.caKey);
    // Workers inherit the environment, so helpers work even outside vitest's inject().
    process.env[KUBECONFIG_ENV] = cluster.kubeconfigPath;
    console.log(
      `e2e control plane ${cluster.server} ready with ${crds.length} CRDs in ${Date.now() - started} ms`,
    );
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return async () => {
    delete process.env[KUBECONFIG_ENV];
    await cluster.stop();
  };
}
