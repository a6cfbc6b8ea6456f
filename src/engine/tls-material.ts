// @peculiar/x509 resolves its parsers through tsyringe, which needs the Reflect metadata polyfill.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import type { TlsMaterial } from './docker-host.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

/**
 * The certificates of one nested engine: its own CA, a server certificate for dockerd and a
 * client certificate for whoever drives it. ECDSA P-256 keys take about a millisecond to make,
 * where the 4096-bit RSA keys of hand-written DinD scripts take seconds.
 */
export interface EngineCertificates {
  ca: string;
  server: { cert: string; key: string };
  client: TlsMaterial;
  notAfter: Date;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface CertificateRequest {
  /** DNS names the server certificate is valid for (engine name, network alias). */
  dnsNames: string[];
  ipAddresses?: string[];
  validDays?: number;
}

export async function makeEngineCertificates(req: CertificateRequest): Promise<EngineCertificates> {
  const notBefore = new Date(Date.now() - 60_000); // tolerate small clock skew between host and engine
  const notAfter = new Date(Date.now() + (req.validDays ?? 30) * 86_400_000);
  const [caKeys, serverKeys, clientKeys] = await Promise.all([newKeys(), newKeys(), newKeys()]);

  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=Nestor engine CA ${req.dnsNames[0] ?? ''}`.trim(),
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const sign = async (
    subject: string,
    publicKey: CryptoKey,
    usage: string,
    extra: x509.Extension[],
  ): Promise<x509.X509Certificate> =>
    x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject,
      issuer: ca.subject,
      notBefore,
      notAfter,
      publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([usage], false),
        ...extra,
      ],
    });

  const sanEntries: x509.JsonGeneralName[] = [
    ...req.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ...(req.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const serverCert = await sign(`CN=${req.dnsNames[0] ?? 'nestor-engine'}`, serverKeys.publicKey, x509.ExtendedKeyUsage.serverAuth, [
    new x509.SubjectAlternativeNameExtension(sanEntries),
  ]);
  const clientCert = await sign('CN=nestor-client', clientKeys.publicKey, x509.ExtendedKeyUsage.clientAuth, []);

  const caPem = ca.toString('pem');
  return {
    ca: caPem,
    server: { cert: serverCert.toString('pem'), key: await privateKeyPem(serverKeys.privateKey) },
    client: { ca: caPem, cert: clientCert.toString('pem'), key: await privateKeyPem(clientKeys.privateKey) },
    notAfter,
  };
}

function newKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const body = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  // Positive 16-byte serial: the leading nibble stays below 8 so DER does not read it as negative.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}
