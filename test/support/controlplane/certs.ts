import { execFile } from 'node:child_process';
import { generateKeyPair, generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Certificates for one control plane, made with the `openssl` CLI: node:crypto makes keys but
 * cannot issue X.509 certificates, and openssl is on every Debian-based machine the project uses.
 * One CA signs the apiserver's serving certificate and the admin's client certificate
 * (the apiserver's --client-ca-file), as envtest does with its own tiny CA.
 */
export interface Certificates {
  caCertPath: string;
  caCertPem: string;
  servingCertPath: string;
  servingKeyPath: string;
  adminCertPem: string;
  adminKeyPem: string;
  /** Verifies ServiceAccount tokens (--service-account-key-file); RSA, so tokens are RS256 as on kubeadm and EKS clusters. */
  serviceAccountPublicKeyPath: string;
  /** Signs ServiceAccount tokens (--service-account-signing-key-file). */
  serviceAccountSigningKeyPath: string;
}

export const ADMIN_USER = 'ecr-operator-test-admin';
export const ADMIN_GROUP = 'system:masters';

const validityDays = '7';

export async function generateCertificates(dir: string): Promise<Certificates> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  // An RSA key takes a while to find; made on the thread pool while openssl issues the certificates.
  const serviceAccountKeys = newRsaKeyPair();
  // Awaited below; a rejection before then must not go unhandled.
  serviceAccountKeys.catch(() => {});
  await assertOpensslPresent();
  const file = (name: string) => path.join(dir, name);

  const ca = newKeyPair();
  await fs.writeFile(file('ca.key'), ca.privateKey, { mode: 0o600 });
  await fs.writeFile(
    file('ca.cnf'),
    opensslConfig('ecr-operator-test-ca', undefined, [
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
      'subjectKeyIdentifier = hash',
    ]),
  );
  await openssl(['req', '-x509', '-new', '-sha256', '-days', validityDays, '-key', file('ca.key'),
    '-config', file('ca.cnf'), '-extensions', 'ext', '-out', file('ca.crt')]);

  await Promise.all([
    issue(dir, 'apiserver', 'kube-apiserver', undefined, [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc',
      'authorityKeyIdentifier = keyid',
    ]),
    // The apiserver reads a client certificate's CN as the user name and each O as a group.
    issue(dir, 'admin', ADMIN_USER, ADMIN_GROUP, [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = clientAuth',
      'authorityKeyIdentifier = keyid',
    ]),
  ]);

  const serviceAccount = await serviceAccountKeys;
  await fs.writeFile(file('sa-signer.key'), serviceAccount.privateKey, { mode: 0o600 });
  await fs.writeFile(file('sa-signer.pub'), serviceAccount.publicKey);

  return {
    caCertPath: file('ca.crt'),
    caCertPem: await fs.readFile(file('ca.crt'), 'utf8'),
    servingCertPath: file('apiserver.crt'),
    servingKeyPath: file('apiserver.key'),
    adminCertPem: await fs.readFile(file('admin.crt'), 'utf8'),
    adminKeyPem: await fs.readFile(file('admin.key'), 'utf8'),
    serviceAccountPublicKeyPath: file('sa-signer.pub'),
    serviceAccountSigningKeyPath: file('sa-signer.key'),
  };
}

async function issue(
  dir: string,
  name: string,
  commonName: string,
  organization: string | undefined,
  extensions: string[],
): Promise<void> {
  const file = (suffix: string) => path.join(dir, `${name}.${suffix}`);
  const keys = newKeyPair();
  await fs.writeFile(file('key'), keys.privateKey, { mode: 0o600 });
  await fs.writeFile(file('cnf'), opensslConfig(commonName, organization, extensions));
  await openssl(['req', '-new', '-key', file('key'), '-config', file('cnf'), '-out', file('csr')]);
  await openssl(['x509', '-req', '-sha256', '-days', validityDays, '-in', file('csr'),
    '-CA', path.join(dir, 'ca.crt'), '-CAkey', path.join(dir, 'ca.key'),
    '-set_serial', `0x${randomBytes(16).toString('hex')}`,
    '-extfile', file('cnf'), '-extensions', 'ext', '-out', file('crt')]);
}

/** P-256 keys: quick to make, and accepted for TLS and client certificates. */
function newKeyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
}

/**
 * RSA-2048 for the ServiceAccount signer: real clusters (kubeadm's sa.key, EKS) sign with RS256, the
 * algorithm every OIDC relying party (STS included) must accept.
 */
function newRsaKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      {
        modulusLength: 2048,
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'pem' },
      },
      (error, publicKey, privateKey) => (error ? reject(error) : resolve({ privateKey, publicKey })),
    );
  });
}

/** A config file of our own, so the machine's openssl.cnf defaults cannot add or clash with extensions. */
function opensslConfig(commonName: string, organization: string | undefined, extensions: string[]): string {
  return [
    '[req]',
    'distinguished_name = dn',
    'prompt = no',
    '[dn]',
    ...(organization === undefined ? [] : [`O = ${organization}`]),
    `CN = ${commonName}`,
    '[ext]',
    ...extensions,
    '',
  ].join('\n');
}

async function assertOpensslPresent(): Promise<void> {
  try {
    await run('openssl', ['version']);
  } catch (error) {
    throw new Error('the openssl CLI is needed to make test certificates: install it (apt-get install openssl)', {
      cause: error,
    });
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    throw new Error(`openssl ${args[0]} failed: ${typeof stderr === 'string' ? stderr.trim() : String(error)}`, {
      cause: error,
    });
  }
}
