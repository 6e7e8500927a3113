import https from 'node:https';
import path from 'node:path';
import type { Certificates } from './certs.ts';
import { issuerDiscoveryReadable } from './issuer-discovery.ts';
import { ManagedProcess } from './process.ts';
import { assertPortFree, freePort } from './ports.ts';

export interface ApiServerOptions {
  binary: string;
  /** Holds the log and --cert-dir. */
  workDir: string;
  etcdUrl: string;
  certificates: Certificates;
  startTimeoutMs: number;
}

/**
 * kube-apiserver on a loopback secure port only, with the flags controller-runtime's envtest uses:
 * RBAC authorization, client-certificate authentication, ServiceAccount token signing keys
 * (so TokenRequest works, and the issuer's OIDC discovery document and JWKS are served) and the ServiceAccount admission plugin off (no controller-manager
 * creates `default` ServiceAccounts, so it would reject every Pod).
 */
export class ApiServer {
  private readonly options: ApiServerOptions;
  private process: ManagedProcess | undefined;
  private securePort = 0;

  constructor(options: ApiServerOptions) {
    this.options = options;
  }

  get url(): string {
    return `https://127.0.0.1:${this.securePort}`;
  }

  /** The `iss` of the ServiceAccount tokens it signs, exactly as in the tokens and the discovery document. */
  get serviceAccountIssuer(): string {
    return `${this.url}/`;
  }

  get port(): number {
    return this.securePort;
  }

  get managedProcess(): ManagedProcess | undefined {
    return this.process;
  }

  /** Picks a free port the first time; later starts (restarts) reuse it so clients keep working. */
  async start(): Promise<void> {
    if (this.securePort === 0) this.securePort = await freePort();
    await assertPortFree(this.securePort);
    this.process ??= new ManagedProcess({
      name: 'kube-apiserver',
      binary: this.options.binary,
      logPath: path.join(this.options.workDir, 'kube-apiserver.log'),
      args: this.args(),
    });
    await this.process.start();
    await this.process.waitUntilReady(() => this.ready(), {
      timeoutMs: this.options.startTimeoutMs,
      intervalMs: 200,
    });
  }

  /** Waits until /readyz answers 200 again (after etcd came back, say). */
  async waitUntilReady(): Promise<void> {
    if (this.process === undefined) throw new Error('kube-apiserver has not started');
    await this.process.waitUntilReady(() => this.ready(), { timeoutMs: this.options.startTimeoutMs, intervalMs: 200 });
  }

  /** Waits until an anonymous client can read the issuer's discovery document (after publishIssuerDiscovery()). */
  async waitUntilIssuerPublic(): Promise<void> {
    if (this.process === undefined) throw new Error('kube-apiserver has not started');
    await this.process.waitUntilReady(() => issuerDiscoveryReadable(this.url, this.options.certificates.caCertPem), {
      timeoutMs: this.options.startTimeoutMs,
      intervalMs: 50,
    });
  }

  async stop(): Promise<void> {
    await this.process?.stop();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  private args(): string[] {
    const certs = this.options.certificates;
    return [
      `--etcd-servers=${this.options.etcdUrl}`,
      `--cert-dir=${path.join(this.options.workDir, 'apiserver-certs')}`,
      '--advertise-address=127.0.0.1',
      // No controller-manager or nodes here, so nothing needs the `kubernetes` Service's endpoints; and
      // from 1.37 the endpoint reconciler refuses a loopback advertise address.
      '--endpoint-reconciler-type=none',
      '--bind-address=127.0.0.1',
      `--secure-port=${this.securePort}`,
      `--tls-cert-file=${certs.servingCertPath}`,
      `--tls-private-key-file=${certs.servingKeyPath}`,
      `--client-ca-file=${certs.caCertPath}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--allow-privileged=true',
      '--disable-admission-plugins=ServiceAccount',
      `--service-account-issuer=${this.serviceAccountIssuer}`,
      // Published at /.well-known/openid-configuration (jwks_uri) as a cluster does for IAM OIDC providers;
      // anonymous readers are let in by the binding that publishIssuerDiscovery() creates.
      `--service-account-jwks-uri=${this.url}/openid/v1/jwks`,
      `--service-account-key-file=${certs.serviceAccountPublicKeyPath}`,
      `--service-account-signing-key-file=${certs.serviceAccountSigningKeyPath}`,
      // /readyz then waits for the built-in watch caches, so the first LIST after a (re)start
      // is served instead of answered 429 "storage is (re)initializing".
      '--feature-gates=WatchCacheInitializationPostStartHook=true',
    ];
  }

  /** /readyz as the admin, so it is true only once RBAC bootstrap and every post-start hook are done. */
  private ready(): Promise<boolean> {
    const certs = this.options.certificates;
    return new Promise((resolve) => {
      const request = https.get(
        `${this.url}/readyz`,
        { ca: certs.caCertPem, cert: certs.adminCertPem, key: certs.adminKeyPem, timeout: 2000 },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode === 200));
        },
      );
      request.on('timeout', () => request.destroy());
      request.on('error', () => resolve(false));
    });
  }
}
