/**
 * The sidecar API over HTTPS: a sidecar given the operator's CA (file or env PEM) streams config; one without it never
 * connects. The operator's cert comes from files, or from the webhook's mounted cert with --tls-from-webhook.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import {
  freePort,
  killAll,
  spawnTiermesh,
  startOperatorProc,
  startSidecarProc,
  waitForOutput,
} from './operator-procs.js';

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
    /"cause":"[A-Z_]*(CERT|VERIFY|SELF_SIGNED)[A-Z_]*".*config stream failed/,
    30_000,
  );
  expect((await fetch(`${sidecar.url}/readyz`)).status).toBe(503);
});

test('--tls-from-webhook serves the webhook’s mounted cert; a sidecar given the CA as TIERMESH_OPERATOR_CA_PEM trusts it', async () => {
  const port = await freePort();
  const leaseNs = await freshNamespace('op-tls-wh-lease');
  // The mounted-Secret layout cert-manager writes: tls.crt, tls.key and ca.crt in one directory.
  await startOperatorProc({
    kubeconfig: kubeconfigPath(),
    port,
    leaseNamespace: leaseNs,
    extraArgs: [
      '--tls-from-webhook',
      '--webhook-listen',
      '127.0.0.1:0',
      '--webhook-cert-mode',
      'provided',
      '--webhook-cert-dir',
      dir,
      '--sidecar-image',
      'example/tiermesh:test',
    ],
  });
  const sidecar = spawnTiermesh(
    [
      'sidecar',
      '--operator',
      `https://127.0.0.1:${port}`,
      '--token-file',
      join(dir, 'token'),
      '--state-dir',
      join(dir, 'c'),
      '--listen',
      '127.0.0.1:0',
    ],
    { TIERMESH_OPERATOR_CA_PEM: readFileSync(join(dir, 'ca.crt'), 'utf8') },
  );
  const url = (await waitForOutput(sidecar, /listening on (http:\/\/\S+)\/v1/))[1];
  await waitFor(async () => {
    const res = await fetch(`${url}/v1/models`);
    return (
      res.status === 200 &&
      ((await res.json()) as { data: Array<{ id: string }> }).data.some((m) => m.id === 'tls-small')
    );
  }, 30_000);
});
