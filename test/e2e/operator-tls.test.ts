/** The sidecar API over HTTPS: a sidecar given the operator's CA streams config; one without it never connects. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  applyYaml,
  freshNamespace,
  kubeconfigPath,
  serviceAccountToken,
  servingCert,
  waitFor,
} from '../cluster/fixtures.js';
import { routeConfig } from '../helpers/config.js';
import { freePort, killAll, startOperatorProc, startSidecarProc, waitForOutput } from './operator-procs.js';

let dir: string;
let ns: string;
let url: string;

beforeAll(async () => {
  ns = await freshNamespace('op-tls');
  const leaseNs = await freshNamespace('op-tls-lease');
  dir = mkdtempSync(join(tmpdir(), 'tm-op-tls-'));
  const { cert, key, ca } = await servingCert();
  writeFileSync(join(dir, 'tls.crt'), cert);
  writeFileSync(join(dir, 'tls.key'), key);
  writeFileSync(join(dir, 'ca.crt'), ca);
  writeFileSync(join(dir, 'token'), await serviceAccountToken(ns, 'app', 'tiermesh'));
  await applyYaml(
    routeConfig({
      namespace: ns,
      upstreams: [{ name: 'up', baseURL: 'http://127.0.0.1:9/v1' }],
      cheap: [{ name: 'tls-small', upstreams: ['up'] }],
      premium: [{ name: 'tls-big', upstreams: ['up'] }],
    }),
    ns,
  );
  const port = await freePort();
  await startOperatorProc({
    kubeconfig: kubeconfigPath(),
    port,
    leaseNamespace: leaseNs,
    extraArgs: ['--tls-cert-file', join(dir, 'tls.crt'), '--tls-key-file', join(dir, 'tls.key')],
  });
  url = `https://127.0.0.1:${port}`;
});

afterAll(async () => {
  await killAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a sidecar trusting the operator CA gets its config over HTTPS', async () => {
  const sidecar = await startSidecarProc({
    operator: url,
    tokenFile: join(dir, 'token'),
    stateDir: join(dir, 'a'),
    extraArgs: ['--operator-ca', join(dir, 'ca.crt')],
  });
  await waitFor(async () => {
    const res = await fetch(`${sidecar.url}/v1/models`);
    return (
      res.status === 200 &&
      ((await res.json()) as { data: Array<{ id: string }> }).data.some((m) => m.id === 'tls-small')
    );
  }, 30_000);
});

test('a sidecar without the CA refuses the certificate and stays unready', async () => {
  const sidecar = await startSidecarProc({
    operator: url,
    tokenFile: join(dir, 'token'),
    stateDir: join(dir, 'b'),
  });
  await waitForOutput(
    sidecar,
    /"cause":"[A-Z_]*(CERT|VERIFY|SELF_SIGNED)[A-Z_]*".*config stream lost/,
    30_000,
  );
  expect((await fetch(`${sidecar.url}/readyz`)).status).toBe(503);
});
