/** External Secrets Operator for the side-by-side bench: its build, its CRDs, its process and its workload. */
import { makeApiClient } from '../../../src/kube/clients.ts';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { openSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ControlPlane } from '../../support/controlplane/index.ts';
import type { EcrEmulator } from '../../support/ecr-emulator/index.ts';
import { REPOSITORY_ROOT } from '../../support/operator-process.ts';
import { ACCOUNT, type Fleet, REGION, SET_LABEL } from '../fleet.ts';
import { runPool } from '../pool.ts';
import { ACCESS_KEY_ID_KEY, ECR_TOKENS, EXTERNAL_SECRETS, ecrAuthorizationToken, esoArgs, externalSecret, SECRET_ACCESS_KEY_KEY } from './eso-manifests.ts';

const run = promisify(execFile);
const BUILD_SCRIPT = path.join(REPOSITORY_ROOT, 'test/bench/peers/eso-build.sh');
const VERSIONS_ENV = path.join(REPOSITORY_ROOT, 'test/controlplane/versions.env');
const MODULE = 'github.com/external-secrets/external-secrets';
/** Parallel creates while setting up (not timed). */
const SETUP_CONCURRENCY = 16;

export interface EsoBuild {
  binary: string;
  /** What was built: `v0.16.2 (Go module proxy)` or the source tree's folder. */
  version: string;
  /** The CRDs as ESO ships them (deploy/crds/bundle.yaml of the same tree). */
  crdBundle: string;
  /** Wall time of eso-build.sh in this run (a cached build takes well under a second). */
  buildMs: number;
}

async function pinnedEsoVersion(): Promise<string> {
  const text = await fs.readFile(VERSIONS_ENV, 'utf8');
  const version = /^ESO_VERSION=(\S+)$/m.exec(text)?.[1];
  if (!version) throw new Error(`${VERSIONS_ENV} names no ESO_VERSION`);
  return version;
}

/** Builds (or finds cached) ESO's controller with eso-build.sh and locates its CRD bundle. */
export async function buildEso(sourceDir: string | undefined): Promise<EsoBuild> {
  const started = Date.now();
  const env = { ...process.env, ...(sourceDir ? { ESO_SOURCE_DIR: sourceDir } : {}) };
  const child = spawn('bash', [BUILD_SCRIPT], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${BUILD_SCRIPT} failed (exit ${code}); see its controlplane: eso: lines above`);
  const binary = stdout.trim().split('\n').pop() ?? '';
  const buildMs = Date.now() - started;
  if (sourceDir) return { binary, version: `source tree ${sourceDir}`, crdBundle: path.join(sourceDir, 'deploy/crds/bundle.yaml'), buildMs };
  const version = await pinnedEsoVersion();
  const { stdout: json } = await run('go', ['mod', 'download', '-json', `${MODULE}@v${version}`], { env: { ...process.env, GOFLAGS: '-mod=mod' } });
  const dir = (JSON.parse(json) as { Dir?: string }).Dir;
  if (!dir) throw new Error(`go mod download gave no folder for ${MODULE}@v${version}`);
  return { binary, version: `v${version} (Go module proxy)`, crdBundle: path.join(dir, 'deploy/crds/bundle.yaml'), buildMs };
}

/** Installs ESO's CRD bundle (every kind its controller watches) and waits until each is served. */
export async function installEsoCrds(controlPlane: ControlPlane, bundle: string): Promise<string[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-eso-crds-'));
  try {
    await fs.copyFile(bundle, path.join(dir, 'bundle.yaml'));
    return await controlPlane.installCrds(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export interface EsoProcessOptions {
  binary: string;
  kubeconfigPath: string;
  metricsPort: number;
  concurrent: number;
  /** HTTPS_PROXY and SSL_CERT_FILE: how v0.16.2 reaches the emulator (see ecr-tls-proxy.ts). */
  proxyUrl: string;
  caPath: string;
  /** AWS_ECR_ENDPOINT, which newer ESO releases read (v0.16.2 ignores it). */
  ecrEndpoint: string;
  logPath: string;
}

/** The ESO controller as a child process; stop() ends it (also when the bench exits early). */
export class EsoProcess {
  readonly startedAtMs: number;
  readonly args: string[];
  readonly env: Record<string, string>;
  readonly logPath: string;
  private readonly child: ChildProcess;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private stopping = false;
  private readonly killOnExit: () => void;

  private constructor(options: EsoProcessOptions) {
    this.args = esoArgs({ metricsPort: options.metricsPort, concurrent: options.concurrent });
    // Only what the controller needs: no AWS credentials of the machine, no HOME config.
    this.env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      KUBECONFIG: options.kubeconfigPath,
      HTTPS_PROXY: options.proxyUrl,
      SSL_CERT_FILE: options.caPath,
      AWS_ECR_ENDPOINT: options.ecrEndpoint,
      AWS_EC2_METADATA_DISABLED: 'true',
      HOME: os.tmpdir(),
    };
    this.logPath = options.logPath;
    const log = openSync(options.logPath, 'a');
    this.startedAtMs = Date.now();
    this.child = spawn(options.binary, this.args, { env: this.env, stdio: ['ignore', log, log] });
    closeSync(log);
    this.child.on('exit', (code, signal) => {
      this.exit = { code, signal };
    });
    this.killOnExit = () => {
      if (this.exit === undefined && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
    };
    process.once('exit', this.killOnExit);
  }

  static async start(options: EsoProcessOptions): Promise<EsoProcess> {
    const eso = new EsoProcess(options);
    await sleep(200);
    eso.assertRunning();
    return eso;
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('ESO has no pid');
    return this.child.pid;
  }

  assertRunning(): void {
    if (this.exit !== undefined && !this.stopping) {
      throw new Error(`ESO exited (code ${this.exit.code}, signal ${this.exit.signal}); its log: ${this.logPath}`);
    }
  }

  commandLine(): string {
    return `external-secrets ${this.args.join(' ')}`;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    process.removeListener('exit', this.killOnExit);
    if (this.exit !== undefined) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timeout = sleep(10_000).then(() => 'timeout');
    if ((await Promise.race([exited.then(() => 'exited'), timeout])) === 'timeout') {
      this.child.kill('SIGKILL');
      await exited;
    }
  }
}

/**
 * The same workload as createFleet (fleet.ts) in ESO's idiom: namespaces `<set>-<i>`, pull secrets
 * `reg-<i>` round-robin over them, and per group of `perCredentials` pull secrets in a namespace one
 * credentials Secret `creds-<g>` (an access key of its own) with an ECRAuthorizationToken of the same name;
 * then one ExternalSecret per pull secret naming its group's generator.
 */
export async function createEsoFleet(
  kubeConfig: KubeConfig,
  emulator: EcrEmulator,
  shape: { set: string; registries: number; namespaces: number; perCredentials: number; refreshInterval: string },
): Promise<Fleet> {
  const core = makeApiClient(kubeConfig, CoreV1Api);
  const custom = makeApiClient(kubeConfig, CustomObjectsApi);
  const namespaceCount = Math.min(shape.namespaces, shape.registries);
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `${shape.set}-${i}`);
  const labels = { [SET_LABEL]: shape.set };
  await runPool(namespaces, SETUP_CONCURRENCY, async (name) => {
    await core.createNamespace({ body: { metadata: { name, labels } } });
  });
  const perNamespace = new Map<string, Fleet['registries']>(namespaces.map((ns) => [ns, []]));
  const registries: Fleet['registries'] = [];
  for (let i = 0; i < shape.registries; i++) {
    const namespace = namespaces[i % namespaceCount]!;
    const ref = { namespace, name: `reg-${i}` };
    perNamespace.get(namespace)!.push(ref);
    registries.push(ref);
  }
  const jobs: Array<{ namespace: string; name: string; members: Fleet['registries'] }> = [];
  for (const [namespace, refs] of perNamespace) {
    for (let g = 0; g * shape.perCredentials < refs.length; g++) {
      jobs.push({ namespace, name: `creds-${g}`, members: refs.slice(g * shape.perCredentials, (g + 1) * shape.perCredentials) });
    }
  }
  await runPool(jobs, SETUP_CONCURRENCY, async (job) => {
    const key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    await core.createNamespacedSecret({
      namespace: job.namespace,
      body: { metadata: { name: job.name, labels }, stringData: { [ACCESS_KEY_ID_KEY]: key.accessKeyId, [SECRET_ACCESS_KEY_KEY]: key.secretAccessKey } },
    });
    await custom.createNamespacedCustomObject({
      ...ECR_TOKENS,
      namespace: job.namespace,
      body: ecrAuthorizationToken({ namespace: job.namespace, name: job.name, region: REGION, labels }),
    });
    for (const member of job.members) {
      await custom.createNamespacedCustomObject({
        ...EXTERNAL_SECRETS,
        namespace: member.namespace,
        body: externalSecret({ namespace: member.namespace, name: member.name, generator: job.name, refreshInterval: shape.refreshInterval, labels }),
      });
    }
  });
  return { set: shape.set, namespaces, registries, credentialSets: jobs.length };
}
