import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig, V1CustomResourceDefinition } from '@kubernetes/client-node';
import { ApiServer } from './apiserver.ts';
import { type Binaries, locateBinaries } from './binaries.ts';
import { type Certificates, generateCertificates } from './certs.ts';
import { installCrds, waitUntilServed } from './crds.ts';
import { trackTempDir, untrackTempDir } from './cleanup.ts';
import { Etcd } from './etcd.ts';
import { publishIssuerDiscovery } from './issuer-discovery.ts';
import { loadKubeConfig, writeKubeconfig } from './kubeconfig.ts';
import { type KubectlOptions, type KubectlResult, runKubectl } from './kubectl.ts';
import {
  requestServiceAccountToken,
  type ServiceAccountKubeConfig,
  type ServiceAccountTokenOptions,
  serviceAccountKubeConfig,
} from './service-account.ts';

export { apiErrorMessage, apiStatusCode, describeApiError } from './api-errors.ts';
export type { Binaries } from './binaries.ts';
export type { KubectlOptions, KubectlResult } from './kubectl.ts';
export { ISSUER_DISCOVERY_BINDING, OIDC_DISCOVERY_PATH, OIDC_JWKS_PATH } from './issuer-discovery.ts';
export type { ServiceAccountKubeConfig, ServiceAccountTokenOptions } from './service-account.ts';
export { celRuleFailure } from './cel-messages.ts';
export { minorOf, pinnedControlPlanes, selectedKubernetesVersion } from './versions.ts';

/** The repository's CRDs, installed by default at start. */
export const REPOSITORY_CRD_DIR = path.resolve(import.meta.dirname, '../../../crds');

export interface ControlPlaneOptions {
  /** Folders of CRD YAML installed once the apiserver is ready; defaults to the repository's crds/. */
  crdDirs?: string[];
  /** Per-process start deadline. */
  startTimeoutMs?: number;
  /** Leave the temp folder (logs, etcd data, certificates) in place after stop, for debugging. */
  keepTempDir?: boolean;
  /** Already located binaries; otherwise test/controlplane/build.sh is asked. */
  binaries?: Binaries;
}

/**
 * A bare control plane (etcd + kube-apiserver, no controller-manager or scheduler) for integration
 * tests, in the manner of controller-runtime's envtest. Start it with startControlPlane().
 */
export class ControlPlane {
  /** The admin kubeconfig (client certificate in group system:masters). */
  readonly kubeconfigPath: string;
  readonly binaries: Binaries;
  readonly tempDir: string;
  /** Milliseconds start() took: certificates, etcd, kube-apiserver ready, CRDs served (binaries already located). */
  startupMs = 0;
  private readonly etcd: Etcd;
  private readonly options: ControlPlaneOptions;
  private readonly startTimeoutMs: number;
  private apiServer: ApiServer | undefined;
  private certificates: Certificates | undefined;
  /** CRDs installed so far, by name; a restarted apiserver is ready only once they are served again. */
  private readonly crds = new Map<string, V1CustomResourceDefinition>();
  private stopped = false;

  constructor(binaries: Binaries, tempDir: string, options: ControlPlaneOptions) {
    this.binaries = binaries;
    this.tempDir = tempDir;
    this.options = options;
    this.kubeconfigPath = path.join(tempDir, 'admin.kubeconfig');
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.etcd = new Etcd({ binary: binaries.etcd, workDir: tempDir, startTimeoutMs: this.startTimeoutMs });
  }

  /** The apiserver's URL, e.g. https://127.0.0.1:40123. */
  get server(): string {
    return this.startedApiServer().url;
  }

  /**
   * The `iss` of its ServiceAccount tokens (`<server>/`). Its OIDC discovery document
   * (`<server>/.well-known/openid-configuration`) and JWKS are readable without credentials,
   * as on a cluster registered as an IAM OIDC provider.
   */
  get serviceAccountIssuer(): string {
    return this.startedApiServer().serviceAccountIssuer;
  }

  /** The CA that signed the apiserver's serving certificate (PEM). */
  get caCertPem(): string {
    if (this.certificates === undefined) throw new Error('the control plane has not started');
    return this.certificates.caCertPem;
  }

  async start(): Promise<void> {
    const started = Date.now();
    // allSettled, so a failure of one never leaves the other still starting while stop() runs.
    const [certificates, etcd] = await Promise.allSettled([
      generateCertificates(path.join(this.tempDir, 'pki')),
      this.etcd.start(),
    ]);
    if (certificates.status === 'rejected') throw certificates.reason;
    if (etcd.status === 'rejected') throw etcd.reason;
    this.certificates = certificates.value;
    this.apiServer = new ApiServer({
      binary: this.binaries.kubeApiserver,
      workDir: this.tempDir,
      etcdUrl: this.etcd.url,
      certificates: this.certificates,
      startTimeoutMs: this.startTimeoutMs,
    });
    await this.apiServer.start();
    await writeKubeconfig(this.kubeconfigPath, {
      name: 'ecr-operator-test-admin',
      server: this.server,
      caCertPem: this.certificates.caCertPem,
      credentials: { clientCertPem: this.certificates.adminCertPem, clientKeyPem: this.certificates.adminKeyPem },
    });
    // Publishing the issuer overlaps the CRDs, which take longer, so start-up time stays the same.
    await Promise.all([this.publishIssuer(), this.installCrdDirs()]);
    this.startupMs = Date.now() - started;
  }

  private async publishIssuer(): Promise<void> {
    await publishIssuerDiscovery(this.kubeConfig());
    await this.startedApiServer().waitUntilIssuerPublic();
  }

  private async installCrdDirs(): Promise<void> {
    for (const dir of this.options.crdDirs ?? [REPOSITORY_CRD_DIR]) await this.installCrds(dir);
  }

  /** A fresh admin KubeConfig (each call returns a new object, safe to mutate). */
  kubeConfig(): KubeConfig {
    return loadKubeConfig(this.kubeconfigPath);
  }

  /** Installs every CRD in the YAML files of `dir` and waits until each is Established and served. */
  async installCrds(dir: string): Promise<string[]> {
    const installed = await installCrds(this.kubeConfig(), dir);
    for (const crd of installed) this.crds.set(crd.metadata?.name ?? '', crd);
    return installed.map((crd) => crd.metadata?.name ?? '');
  }

  /** Runs the real kubectl, by default as the admin. */
  kubectl(args: string[], options: KubectlOptions = {}): Promise<KubectlResult> {
    return runKubectl(
      {
        binary: this.binaries.kubectl,
        defaultKubeconfig: this.kubeconfigPath,
        cacheDir: path.join(this.tempDir, 'kubectl-cache'),
      },
      args,
      options,
    );
  }

  /** A kubeconfig acting as ServiceAccount `namespace/name` (created if missing) through a TokenRequest token. */
  serviceAccountKubeConfig(
    namespace: string,
    name: string,
    options: { expirationSeconds?: number } = {},
  ): Promise<ServiceAccountKubeConfig> {
    return serviceAccountKubeConfig({
      admin: this.kubeConfig(),
      server: this.server,
      caCertPem: this.caCertPem,
      dir: this.tempDir,
      namespace,
      name,
      ...options,
    });
  }

  /**
   * A TokenRequest token for ServiceAccount `namespace/name` (created if missing), as the kubelet
   * projects one into a Pod: `audiences` (default: the apiserver's own) and `expirationSeconds`
   * (default 3600; the apiserver refuses less than 600).
   */
  serviceAccountToken(namespace: string, name: string, options: ServiceAccountTokenOptions = {}): Promise<string> {
    return requestServiceAccountToken(this.kubeConfig(), namespace, name, options);
  }

  /** Stops kube-apiserver and starts it again on the same port against the same etcd, for fault tests. */
  async restartApiServer(): Promise<void> {
    await this.startedApiServer().restart();
    await waitUntilServed(this.kubeConfig(), [...this.crds.values()]);
  }

  /** Stops kube-apiserver alone (clients then see connection errors); startApiServer() brings it back. */
  async stopApiServer(): Promise<void> {
    await this.startedApiServer().stop();
  }

  async startApiServer(): Promise<void> {
    await this.startedApiServer().start();
    await waitUntilServed(this.kubeConfig(), [...this.crds.values()]);
  }

  /**
   * Stops etcd and starts it again on the same ports with the same data, for fault tests; the apiserver
   * keeps running and reconnects. Resolves once etcd is healthy and the apiserver is ready again.
   */
  async restartEtcd(): Promise<void> {
    await this.etcd.stop();
    await this.etcd.start();
    await this.startedApiServer().waitUntilReady();
  }

  /** The apiserver's serving certificate and key (PEM; SAN 127.0.0.1, signed by caCertPem), for a test proxy standing in for it. */
  servingCertificate(): { certPem: string; keyPem: string } {
    if (this.certificates === undefined) throw new Error('the control plane has not started');
    return { certPem: readFileSync(this.certificates.servingCertPath, 'utf8'), keyPem: readFileSync(this.certificates.servingKeyPath, 'utf8') };
  }

  /** The pids of etcd and kube-apiserver while they run (for the benchmark's CPU and memory figures). */
  pids(): { etcd?: number; apiServer?: number } {
    const etcd = this.etcd.managedProcess?.pid;
    const apiServer = this.apiServer?.managedProcess?.pid;
    return { ...(etcd !== undefined ? { etcd } : {}), ...(apiServer !== undefined ? { apiServer } : {}) };
  }

  /** Throws, quoting its log, if etcd or kube-apiserver has died without being stopped. */
  assertRunning(): void {
    this.etcd.managedProcess?.assertRunning();
    this.apiServer?.managedProcess?.assertRunning();
  }

  private startedApiServer(): ApiServer {
    if (this.apiServer === undefined) throw new Error('the control plane has not started');
    return this.apiServer;
  }

  /** Stops kube-apiserver, then etcd, then removes the temp folder. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.apiServer?.stop();
    } finally {
      await this.etcd.stop();
      if (!this.options.keepTempDir) {
        await fs.rm(this.tempDir, { recursive: true, force: true });
        untrackTempDir(this.tempDir);
      }
    }
  }
}

/** Locates the binaries and starts etcd, kube-apiserver and the CRDs; stops what it started if any step fails. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binaries = options.binaries ?? (await locateBinaries());
  const tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecr-operator-controlplane-'));
  if (!options.keepTempDir) trackTempDir(tempDir);
  const controlPlane = new ControlPlane(binaries, tempDir, options);
  try {
    await controlPlane.start();
  } catch (error) {
    await controlPlane.stop().catch(() => {});
    throw error;
  }
  return controlPlane;
}
