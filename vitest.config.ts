import { defineConfig } from 'vitest/config';

// Three suites: pure unit tests beside the code, integration tests over real loopback sockets,
// and e2e tests against a real kube-apiserver + etcd started once per run by test/cluster.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'cmd/**/*.test.ts', 'scripts/**/*.test.ts', 'bench/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/cluster/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      // A real node (kubelet, containerd, CoreDNS) running the image built from the Dockerfile. `make test` runs it
      // on its own after the other projects (`make node-suite`), so a plain `vitest run` leaves it out.
      ...(process.env.TIERMESH_NODE_E2E === '1'
        ? [
            {
              test: {
                name: 'node',
                include: ['test/node/**/*.test.ts'],
                globalSetup: ['test/node/global-setup.ts'],
                testTimeout: 300_000,
                hookTimeout: 300_000,
                fileParallelism: false,
              },
            },
          ]
        : []),
      // The same chart journey on a kind cluster (Docker): scripts/e2e-kind.sh makes the cluster and the images.
      ...(process.env.TIERMESH_KIND_E2E === '1'
        ? [
            {
              test: {
                name: 'kind',
                include: ['test/kind/**/*.test.ts'],
                testTimeout: 600_000,
                hookTimeout: 900_000,
                fileParallelism: false,
              },
            },
          ]
        : []),
    ],
  },
});
