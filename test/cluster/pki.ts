/** Test PKI made with the openssl CLI: a CA, the apiserver serving cert, an admin client cert and a service-account key. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of every PEM file the control plane needs, all inside one directory. */
export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error('the openssl CLI is not on PATH; the e2e harness needs it to make test certificates');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

/** Signs a new EC key's certificate (`dir/name.crt`, `dir/name.key`) with the CA; `ext` lists the v3 extensions. */
async function issue(
  ca: { cert: string; key: string },
  dir: string,
  name: string,
  subject: string,
  ext: string[],
): Promise<void> {
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
  await openssl(['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`], dir);
  await writeFile(join(dir, `${name}.ext`), `${ext.join('\n')}\n`);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      // A random serial instead of a shared serial file, so parallel issuers cannot collide.
      '-set_serial',
      `0x${randomBytes(16).toString('hex')}`,
      '-days',
      '2',
      '-sha256',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
}

/**
 * Creates the PKI in `dir`. Short-lived (2 days): these certs exist only for one test run. `extraIps` are more
 * addresses the apiserver's serving certificate names (besides 127.0.0.1).
 */
export async function makePki(dir: string, extraIps: string[] = []): Promise<Pki> {
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  await openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-subj',
      '/CN=tiermesh-test-ca',
      '-days',
      '2',
      '-sha256',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
      '-out',
      'ca.crt',
    ],
    dir,
  );
  const ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  await issue(ca, dir, 'serving', '/CN=kube-apiserver', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${['127.0.0.1', ...extraIps].map((ip) => `IP:${ip}`).join(',')},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local`,
  ]);
  // O=system:masters is the group RBAC lets do everything, like a cluster admin's kubeconfig.
  await issue(ca, dir, 'admin', '/O=system:masters/CN=tiermesh-test-admin', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
  // RSA, because RS256 is what every service-account token consumer accepts.
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key'], dir);
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  const p = (f: string) => join(dir, f);
  return {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    servingCert: p('serving.crt'),
    servingKey: p('serving.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
  };
}

/** Hosts a loopback test server answers as: what a webhook `url` or a client may name. */
export const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost'];

/**
 * Issues a TLS serving certificate signed by the cluster CA into `dir` (e.g. for a webhook server the
 * apiserver calls at https://127.0.0.1:<port>). Returns the file paths.
 */
export async function issueServingCert(
  pki: Pick<Pki, 'caCert' | 'caKey'>,
  dir: string,
  name: string,
  hosts: string[] = LOOPBACK_HOSTS,
): Promise<{ certFile: string; keyFile: string }> {
  const san = hosts.map((h) => (/^[0-9.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  await issue({ cert: pki.caCert, key: pki.caKey }, dir, name, `/CN=${hosts[0] ?? name}`, [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=${san}`,
  ]);
  return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

/** A kubeconfig (admin user, real CA and client cert inlined) for the apiserver at `server`. */
export async function kubeconfigYaml(pki: Pki, server: string): Promise<string> {
  const b64 = async (f: string) => (await readFile(f)).toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '  - name: tiermesh-test',
    '    cluster:',
    `      server: ${server}`,
    `      certificate-authority-data: ${await b64(pki.caCert)}`,
    'users:',
    '  - name: tiermesh-test-admin',
    '    user:',
    `      client-certificate-data: ${await b64(pki.adminCert)}`,
    `      client-key-data: ${await b64(pki.adminKey)}`,
    'contexts:',
    '  - name: tiermesh-test',
    '    context: { cluster: tiermesh-test, user: tiermesh-test-admin }',
    'current-context: tiermesh-test',
    '',
  ].join('\n');
}
