/** The webhook's own CA and serving certificate: issued with WebCrypto (ECDSA P-256), checked and renewed before expiry. */
import 'reflect-metadata';
import { X509Certificate as NodeX509, randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Renew when less than this share of a certificate's lifetime is left, so a renewal has weeks to propagate. */
const RENEW_AT_REMAINING = 1 / 3;

export interface CertBundle {
  /** PEM of the current CA, followed by the previous CA while it is still valid, so clients trusting either keep working. */
  caBundle: string;
  caCert: string;
  caKey: string;
  tlsCert: string;
  tlsKey: string;
}

export interface CertRequest {
  dnsNames: string[];
  ipAddresses?: string[];
  now?: Date;
  caValidityDays?: number;
  servingValidityDays?: number;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] as number) & 0x7f; // positive INTEGER
  return b.toString('hex');
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function keyPem(key: CryptoKey): Promise<string> {
  return `${x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY').trim()}\n`;
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0];
  if (!der) throw new Error('no PEM block in private key');
  return webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

export async function generateCA(opts: { commonName: string; now?: Date; validityDays?: number }) {
  const now = opts.now ?? new Date();
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${opts.commonName}`,
    notBefore: new Date(now.getTime() - 5 * 60_000), // tolerate small clock skew between nodes
    notAfter: new Date(now.getTime() + (opts.validityDays ?? 3650) * DAY_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: `${cert.toString('pem').trim()}\n`, keyPem: await keyPem(keys.privateKey) };
}

export async function issueServingCert(ca: { certPem: string; keyPem: string }, req: CertRequest) {
  const now = req.now ?? new Date();
  const caCert = new x509.X509Certificate(ca.certPem);
  const keys = await newKeys();
  const names = [
    ...req.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...(req.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${req.dnsNames[0] ?? req.ipAddresses?.[0] ?? 'tiermesh-webhook'}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + (req.servingValidityDays ?? 365) * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: await importKey(ca.keyPem),
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { certPem: `${cert.toString('pem').trim()}\n`, keyPem: await keyPem(keys.privateKey) };
}

/** The certificates of a PEM bundle, in order. */
export function splitPem(bundle: string): string[] {
  return (
    bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((c) => `${c}\n`) ?? []
  );
}

function nearlyExpired(cert: NodeX509, now: Date): boolean {
  const from = new Date(cert.validFrom).getTime();
  const to = new Date(cert.validTo).getTime();
  return to - now.getTime() < (to - from) * RENEW_AT_REMAINING;
}

export type CertVerdict = { action: 'keep' } | { action: 'renew-serving' | 'renew-ca'; reason: string };

/**
 * What a stored bundle needs, judged at `now`: nothing, a new serving cert from the same CA (clients keep trusting
 * it), or a new CA (the caBundle must then be republished). Anything unreadable counts as needing a new CA.
 */
export function judgeBundle(b: Partial<CertBundle> | undefined, req: CertRequest): CertVerdict {
  const now = req.now ?? new Date();
  if (!b?.caCert || !b.caKey || !b.tlsCert || !b.tlsKey || !b.caBundle)
    return { action: 'renew-ca', reason: 'no certificates stored' };
  let ca: NodeX509;
  let tls: NodeX509;
  try {
    ca = new NodeX509(b.caCert);
    tls = new NodeX509(b.tlsCert);
  } catch {
    return { action: 'renew-ca', reason: 'stored certificates do not parse' };
  }
  if (nearlyExpired(ca, now)) return { action: 'renew-ca', reason: `CA expires ${ca.validTo}` };
  if (!b.caBundle.includes(b.caCert.trim()))
    return { action: 'renew-ca', reason: 'caBundle does not contain the CA' };
  if (!tls.checkIssued(ca) || !tls.verify(ca.publicKey))
    return { action: 'renew-serving', reason: 'serving cert not signed by the CA' };
  if (nearlyExpired(tls, now))
    return { action: 'renew-serving', reason: `serving cert expires ${tls.validTo}` };
  for (const name of req.dnsNames) {
    if (tls.checkHost(name, { wildcards: false }) !== name)
      return { action: 'renew-serving', reason: `serving cert lacks ${name}` };
  }
  for (const ip of req.ipAddresses ?? []) {
    if (!isIP(ip) || tls.checkIP(ip) === undefined)
      return { action: 'renew-serving', reason: `serving cert lacks ${ip}` };
  }
  return { action: 'keep' };
}

/** A bundle that satisfies `req`, reusing what is still good in `current` (a new CA keeps the old one in caBundle). */
export async function renewBundle(
  current: Partial<CertBundle> | undefined,
  req: CertRequest,
): Promise<CertBundle> {
  const verdict = judgeBundle(current, req);
  if (verdict.action === 'keep') return current as CertBundle;
  const now = req.now ?? new Date();
  let caCert = current?.caCert;
  let caKey = current?.caKey;
  let caBundle = current?.caBundle;
  if (verdict.action === 'renew-ca' || !caCert || !caKey || !caBundle) {
    const ca = await generateCA({ commonName: 'tiermesh-webhook-ca', now, validityDays: req.caValidityDays });
    const stillValid = splitPem(current?.caBundle ?? '').filter((pem) => {
      try {
        return new Date(new NodeX509(pem).validTo).getTime() > now.getTime();
      } catch {
        return false;
      }
    });
    caCert = ca.certPem;
    caKey = ca.keyPem;
    caBundle = [ca.certPem, ...stillValid.slice(0, 1)].join('');
  }
  const tls = await issueServingCert({ certPem: caCert, keyPem: caKey }, req);
  return { caBundle, caCert, caKey, tlsCert: tls.certPem, tlsKey: tls.keyPem };
}

/** Secret data keys: tls.crt/tls.key as cert-manager and kubernetes.io/tls name them, plus the CA and the published bundle. */
export const SECRET_KEYS = {
  caBundle: 'ca-bundle.crt',
  caCert: 'ca.crt',
  caKey: 'ca.key',
  tlsCert: 'tls.crt',
  tlsKey: 'tls.key',
} as const;

export function bundleToSecretData(b: CertBundle): Record<string, string> {
  return Object.fromEntries(
    Object.entries(SECRET_KEYS).map(([k, key]) => [
      key,
      Buffer.from(b[k as keyof CertBundle]).toString('base64'),
    ]),
  );
}

export function bundleFromSecretData(data: Record<string, string> | undefined): Partial<CertBundle> {
  const out: Partial<CertBundle> = {};
  for (const [k, key] of Object.entries(SECRET_KEYS)) {
    const v = data?.[key];
    if (v) out[k as keyof CertBundle] = Buffer.from(v, 'base64').toString('utf8');
  }
  return out;
}
