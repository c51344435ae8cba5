/** Finds the kube-apiserver and etcd binaries built by scripts/cluster-bins.sh, named by the versions their go.mod files pin. */
import { access, constants, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The version of `module` a go.mod requires (single-line or block form). */
export function requiredVersion(goMod: string, module: string): string | undefined {
  for (const line of goMod.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'require') words.shift();
    if (words[0] === module && words[1]?.startsWith('v')) return words[1];
  }
  return undefined;
}

async function binary(envVar: string, name: string, goModDir: string, module: string): Promise<string> {
  const override = process.env[envVar];
  if (override) return override;
  const goMod = await readFile(join(repoRoot, 'test/cluster', goModDir, 'go.mod'), 'utf8');
  const version = requiredVersion(goMod, module);
  if (!version) throw new Error(`test/cluster/${goModDir}/go.mod does not require ${module}`);
  const dir = process.env.TIERMESH_CLUSTER_BIN_DIR ?? join(repoRoot, '.cache/bin');
  const path = join(dir, `${name}-${version}`);
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new Error(
      `${path} is missing: run \`make cluster-bins\` once (builds kube-apiserver and etcd, ~10 min)`,
    );
  }
  return path;
}

/** Paths of both binaries; TIERMESH_KUBE_APISERVER / TIERMESH_ETCD override them. */
export async function clusterBinaries(): Promise<{ apiserver: string; etcd: string }> {
  return {
    apiserver: await binary('TIERMESH_KUBE_APISERVER', 'kube-apiserver', 'apiserver', 'k8s.io/kubernetes'),
    etcd: await binary('TIERMESH_ETCD', 'etcd', 'etcd', 'go.etcd.io/etcd/server/v3'),
  };
}
