import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, type V1Container, type V1Deployment, type V1Lease } from '@kubernetes/client-node';
import { loadAll } from 'js-yaml';
import { expect } from 'chai';
import type { EcrRegistry } from '../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, IMAGE_IMPORT } from '../../src/api/group.ts';
import type { ImageImport } from '../../src/api/image-import.ts';
import { parseDuration } from '../../src/runtime/duration.ts';
import { type AccessKey, EcrEmulator, type PushedImage } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { adminClients, getRegistry, pullSecretPassword, readSecret, readyCondition } from '../support/fixtures.ts';
import { type ImageLayout, sharedImageLayout } from '../support/dockerfile.ts';
import { forbiddenLines, killAllOperatorProcesses, type OperatorProcess, startOperatorProcess } from './support/operator-process.ts';
import { samplesOf, scrape } from './support/prometheus.ts';
import {
  containerEnv,
  deployedOperator,
  installShippedManifests,
  kubectlOk,
  LEASE_NAME,
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  REPOSITORY_ROOT,
  readSamples,
  type SamplesInfo,
  withFlags,
  writeSamplesOverlay,
} from './support/shipped-install.ts';

/** Short-lived tokens, so the handovers below happen while a token is close to being due. */
const TOKEN_LIFETIME_SECONDS = 60;
const SERVICE_ACCOUNT_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SERVICE_ACCOUNT}`;

interface ReadinessAnswer {
  atMs: number;
  status: number;
  body: string;
}

/** One reading of the pull secret during a handover: how long its token had left, by the emulator's record. */
interface TokenSample {
  atMs: number;
  remainingMs?: number;
  problem?: string;
}

describe('the operator installed from deploy/, started as its container would be', function () {
  this.timeout(120_000);
  let layout: ImageLayout;
  let emulator: EcrEmulator;
  let samples: SamplesInfo;
  let key: AccessKey;
  let image: PushedImage;
  let container: V1Container;
  let serviceAccountKubeconfig: string;
  let namespace: string;
  let tempDir: string;
  let overlayDir: string;
  let installOutput: Awaited<ReturnType<typeof installShippedManifests>>;
  const replicas: OperatorProcess[] = [];
  const readiness = new Map<string, ReadinessAnswer[]>();
  const figures: string[] = [];

  before(async function () {
    this.timeout(300_000);
    const startedMs = Date.now();
    layout = await sharedImageLayout(REPOSITORY_ROOT);
    figures.push(`image layout from the Dockerfile: ${Date.now() - startedMs} ms (${layout.runTimings.map((r) => `${r.command}: ${r.ms} ms`).join('; ')})`);
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecr-operator-e2e-'));
    emulator = await EcrEmulator.start({ tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS });
    // The emulator gets exactly what the samples ask for: their account, region, repository and tags.
    samples = await readSamples();
    const { accountId, region } = samples;
    key = emulator.addAccessKey({ accountId, region });
    emulator.createRepository({ accountId, region, name: samples.imageImport.spec.repository });
    image = emulator.pushImage({ accountId, region, repository: samples.imageImport.spec.repository, tags: samples.imageImport.spec.tags ?? ['latest'] });

    installOutput = await installShippedManifests();
    container = (await deployedOperator()).container;
    serviceAccountKubeconfig = (await testEnv().serviceAccountKubeConfig(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT)).path;
    namespace = await createTestNamespace('samples');
    overlayDir = await writeSamplesOverlay(path.join(tempDir, 'samples-overlay'), samples, {
      namespace,
      accessKeyId: key.accessKeyId,
      secretAccessKey: key.secretAccessKey,
      endpoint: emulator.url,
    });
  });

  afterEach(async () => {
    // Any refused request fails the run, whichever test it happened in: a permission is missing.
    // The operator logs most refusals; some (ServiceAccount updates) surface only in status conditions.
    for (const replica of replicas) {
      const lines = forbiddenLines(replica);
      if (lines.length > 0) throw new Error(`${replica.name} was refused by the API server:\n${lines.join('\n')}`);
    }
    const registry = await registryOrUndefined();
    const imported = registry ? await readImport() : undefined;
    for (const condition of [...(registry?.status?.conditions ?? []), ...(imported?.status?.conditions ?? [])]) {
      if (/forbidden|\b403\b/i.test(condition.message ?? '')) throw new Error(`condition ${condition.type} reports a refusal: ${condition.message}`);
    }
  });

  after(async function () {
    this.timeout(90_000);
    try {
      // Uninstall the samples while a leader still runs, so it releases its finalizer and the next
      // suite's operator finds nothing of ours left; then stop replicas cleanly so the Lease is free.
      const leader = replicas.find((r) => !r.exitStatus());
      if (leader && overlayDir) {
        await testEnv().kubectl(['delete', '-k', overlayDir, '--wait=false', '--ignore-not-found']);
        await eventually(async () => expect(await registryOrUndefined()).to.equal(undefined), { timeoutMs: 20_000, message: 'the sample EcrRegistry is finalized' }).catch(
          (error: Error) => figures.push(`cleanup: ${error.message}`),
        );
      }
      await Promise.all(replicas.map((r) => r.stop(10_000)));
    } finally {
      await killAllOperatorProcesses();
      await emulator?.stop();
      await layout?.remove();
      if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
      if (namespace) await deleteTestNamespace(namespace);
      if (figures.length > 0) process.stderr.write(`      figures:\n${figures.map((f) => `        ${f}`).join('\n')}\n`);
    }
  });

  /** A replica named like a Deployment's pod, with the Deployment's flags and env, as the ServiceAccount. */
  async function startReplica(name: string): Promise<OperatorProcess> {
    const args = withFlags(container.args ?? [], {
      // Two replicas share this host: loopback and any free port (main.ts logs the ports it bound).
      'metrics-bind-address': '127.0.0.1:0',
      'health-probe-bind-address': '127.0.0.1:0',
      // Outside a pod there is no mounted token: the same ServiceAccount's token, from a TokenRequest.
      kubeconfig: serviceAccountKubeconfig,
      // The ECR stand-in that the sample registry names as its endpoint.
      'allowed-endpoints': emulator.url,
    });
    const replica = await startOperatorProcess({ name, layout, args, env: containerEnv(container, name) });
    replicas.push(replica);
    return replica;
  }

  /** Polls /readyz until it answers 200, keeping every answer. */
  async function recordReadiness(replica: OperatorProcess, timeoutMs = 30_000): Promise<ReadinessAnswer[]> {
    const answers: ReadinessAnswer[] = [];
    readiness.set(replica.name, answers);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const response = await fetch(`${replica.healthUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      answers.push({ atMs: Date.now(), status: response.status, body: (await response.text()).trim() });
      if (response.status === 200) return answers;
      await sleep(10);
    }
    throw new Error(`${replica.name} was not ready within ${timeoutMs} ms: ${JSON.stringify(answers.slice(-3))}`);
  }

  const leases = () => testEnv().kubeConfig().makeApiClient(CoordinationV1Api);

  async function readLease(): Promise<V1Lease> {
    return leases().readNamespacedLease({ namespace: OPERATOR_NAMESPACE, name: LEASE_NAME });
  }

  /** Polls the Lease until `replica` holds it; returns when that was first seen. */
  async function waitForHolder(replica: OperatorProcess, timeoutMs: number, intervalMs = 50): Promise<number> {
    return eventually(
      async () => {
        const holder = (await readLease()).spec?.holderIdentity ?? '';
        expect(holder, 'Lease holder').to.match(new RegExp(`^${replica.name}_`));
        return Date.now();
      },
      { timeoutMs, intervalMs, message: `${replica.name} holds the Lease` },
    );
  }

  async function registryOrUndefined(): Promise<EcrRegistry | undefined> {
    try {
      return await getRegistry(namespace, samples.registry.metadata.name!);
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  }

  async function readImport(): Promise<ImageImport> {
    const importPath = { group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, namespace, name: samples.imageImport.metadata.name! };
    return (await adminClients().custom.getNamespacedCustomObject(importPath)) as ImageImport;
  }

  /** The sample pull secret's current token, as the emulator knows it. */
  async function currentToken() {
    const registry = await getRegistry(namespace, samples.registry.metadata.name!);
    const secret = await readSecret(namespace, registry.status?.pullSecretName ?? '');
    if (!secret) throw new Error('the pull secret does not exist');
    const info = emulator.tokenInfo(pullSecretPassword(secret, samples.host));
    if (!info) throw new Error('the pull secret holds a token the emulator never issued');
    return info;
  }

  /** Reads the pull secret every 250 ms until stopped; every reading must hold a token that has not expired. */
  function sampleTokenValidity(): { stop(): Promise<TokenSample[]> } {
    const readings: TokenSample[] = [];
    let running = true;
    const loop = (async () => {
      while (running) {
        const atMs = Date.now();
        try {
          const token = await currentToken();
          readings.push({ atMs, remainingMs: token.expiresAt.getTime() - Date.now(), ...(token.expired ? { problem: 'expired' } : {}) });
        } catch (error) {
          readings.push({ atMs, problem: (error as Error).message });
        }
        await sleep(250);
      }
    })();
    return {
      async stop() {
        running = false;
        await loop;
        return readings;
      },
    };
  }

  /** Resident memory from /proc and the V8 heap from the process's own metrics, for sizing the Deployment's resources. */
  async function memoryFigure(replica: OperatorProcess): Promise<string> {
    const memory = replica.memoryKiB();
    const metrics = await scrape(replica.metricsUrl);
    const mib = (name: string) => ((samplesOf(metrics, name)[0]?.value ?? Number.NaN) / 2 ** 20).toFixed(0);
    return (
      `RSS ${((memory?.rss ?? Number.NaN) / 1024).toFixed(0)} MiB (peak ${((memory?.peak ?? Number.NaN) / 1024).toFixed(0)} MiB), ` +
      `V8 heap used ${mib('nodejs_heap_size_used_bytes')} of ${mib('nodejs_heap_size_total_bytes')} MiB, external ${mib('nodejs_external_memory_bytes')} MiB, CPU ${replica.cpuMs()} ms`
    );
  }

  function leaseTimings() {
    const flag = (name: string, fallback: string) => {
      const arg = (container.args ?? []).find((a) => a.startsWith(`--${name}=`));
      return parseDuration(arg ? arg.slice(name.length + 3) : fallback)!;
    };
    return { leaseDurationMs: flag('lease-duration', '15s'), retryPeriodMs: flag('retry-period', '2s') };
  }

  it('installs with kubectl apply -k deploy/ cleanly, and runs the image as an unprivileged ServiceAccount', async () => {
    // Any warning, such as a Pod Security "restricted" violation of the pod template, is a defect.
    expect(installOutput.deploy.stderr, 'kubectl apply -k deploy/ warnings').to.equal('');
    expect(installOutput.deploy.stdout).to.match(/deployment\.apps\/ecr-pullsecrets-operator (created|configured|unchanged)/);
    // The check above is not vacuous: the namespace's Pod Security labels do warn about a weaker pod.
    const rendered = loadAll((await kubectlOk(['kustomize', path.join(REPOSITORY_ROOT, 'deploy')])).stdout) as V1Deployment[];
    const weakened = rendered.find((object) => object.kind === 'Deployment')!;
    delete weakened.spec!.template.spec!.containers[0]!.securityContext;
    const weaker = await testEnv().kubectl(['apply', '--dry-run=server', '-f', '-'], { stdin: JSON.stringify(weakened) });
    expect(weaker.stderr).to.match(/would violate PodSecurity "restricted:latest"/);

    // The image layout runs on the Node.js major version the Dockerfile pins, as a non-root user
    // that the Deployment's securityContext names too.
    expect(layout.nodeVersion.split('.')[0]).to.equal(process.versions.node.split('.')[0]);
    // The bundle alone: the operator below runs with no node_modules, sources or dev tools in the image.
    expect(await fs.readdir(layout.appDir)).to.deep.equal(['operator.mjs']);
    expect(layout.entrypoint.at(-1)).to.equal('operator.mjs');
    const { pod, container: deployed } = await deployedOperator();
    expect(layout.user?.split(':')[0]).to.not.be.oneOf([undefined, '0', 'root']);
    expect(String(pod.securityContext?.runAsUser)).to.equal(layout.user?.split(':')[0]);
    expect(deployed.securityContext).to.deep.include({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });

    // The operator's kubeconfig is the ServiceAccount's TokenRequest token: RBAC applies, admin rights do not.
    const whoami = await kubectlOk(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { kubeconfig: serviceAccountKubeconfig });
    expect(whoami.stdout).to.equal(SERVICE_ACCOUNT_USER);
    const canI = async (...args: string[]) => (await testEnv().kubectl(['auth', 'can-i', ...args], { kubeconfig: serviceAccountKubeconfig })).stdout.trim();
    expect(await canI('list', 'secrets', '--all-namespaces')).to.equal('yes');
    expect(await canI('delete', 'namespaces')).to.equal('no');
    expect(await canI('create', 'ecrregistries.ecr.pullsecrets.io', '-n', namespace)).to.equal('no');
    expect(await canI('update', `leases/${LEASE_NAME}`, '-n', OPERATOR_NAMESPACE)).to.equal('yes');
    expect(await canI('update', 'leases/someone-elses', '-n', OPERATOR_NAMESPACE)).to.equal('no');
  });

  it('converges the samples under the shipped RBAC: a pull secret the registry accepts, the ServiceAccount bound, the image imported', async () => {
    const first = await startReplica('ecr-pullsecrets-operator-0');
    const firstReadiness = await recordReadiness(first);
    await waitForHolder(first, 20_000);
    figures.push(`replica 0: /readyz 200 ${firstReadiness.at(-1)!.atMs - first.startedAtMs} ms after start`);
    const second = await startReplica('ecr-pullsecrets-operator-1');
    const secondReadiness = await recordReadiness(second);
    expect(secondReadiness.at(-1)!.body).to.match(/standby, leader is ecr-pullsecrets-operator-0_/);

    const appliedMs = Date.now();
    await kubectlOk(['apply', '-k', overlayDir]);
    const registry = await eventually(
      async () => {
        const current = await getRegistry(namespace, samples.registry.metadata.name!);
        expect(readyCondition(current), 'EcrRegistry Ready').to.include({ status: 'True', reason: 'PullSecretReady' });
        return current;
      },
      { timeoutMs: 30_000, message: 'the sample EcrRegistry is Ready' },
    );
    const registryReadyMs = Date.now() - appliedMs;
    const imported = await eventually(
      async () => {
        const current = await readImport();
        expect(readyCondition(current), 'ImageImport Ready').to.include({ status: 'True' });
        return current;
      },
      { timeoutMs: 30_000, message: 'the sample ImageImport is Ready' },
    );
    figures.push(`samples applied → EcrRegistry Ready in ${registryReadyMs} ms, ImageImport Ready in ${Date.now() - appliedMs} ms`);

    const token = await currentToken();
    expect(token.accessKeyId, 'token minted with the sample Secret').to.equal(key.accessKeyId);
    expect(token.expired).to.equal(false);
    const secret = (await readSecret(namespace, registry.status!.pullSecretName!))!;
    expect(secret.type).to.equal('kubernetes.io/dockerconfigjson');
    const login = Buffer.from(`AWS:${pullSecretPassword(secret, samples.host)}`).toString('base64');
    const v2 = await fetch(`${emulator.registryUrl(samples.accountId, samples.region)}/v2/`, { headers: { authorization: `Basic ${login}` } });
    expect(v2.status, 'the registry accepts the pull secret').to.equal(200);

    for (const name of samples.serviceAccounts) {
      const account = await adminClients().core.readNamespacedServiceAccount({ namespace, name });
      expect(account.imagePullSecrets ?? [], `imagePullSecrets of ${name}`).to.deep.include({ name: registry.status!.pullSecretName });
    }
    const wantedTags = samples.imageImport.spec.tags ?? ['latest'];
    expect(imported.status?.tags?.map((t) => [t.tag, t.digest])).to.have.deep.members(wantedTags.map((tag) => [tag, image.digest]));
    expect(imported.status?.defaultDigest).to.equal(image.digest);
  });

  it('leads with one replica only: the standby is ready but reconciles nothing', async () => {
    const [leader, standby] = replicas as [OperatorProcess, OperatorProcess];
    expect((await readLease()).spec?.holderIdentity).to.match(new RegExp(`^${leader.name}_`));
    const leaderMetrics = await scrape(leader.metricsUrl);
    const standbyMetrics = await scrape(standby.metricsUrl);
    expect(samplesOf(leaderMetrics, 'ecr_operator_leader')[0]?.value).to.equal(1);
    expect(samplesOf(standbyMetrics, 'ecr_operator_leader')[0]?.value).to.equal(0);
    for (const name of ['ecr_operator_reconcile_total', 'ecr_operator_ecr_api_calls_total', 'ecr_operator_token_expiry_seconds']) {
      expect(samplesOf(leaderMetrics, name), `${name} on the leader`).to.not.be.empty;
      expect(samplesOf(standbyMetrics, name), `${name} on the standby`).to.be.empty;
    }
    const reconciling = (r: OperatorProcess) => r.logs().filter((l) => ['caches synced; reconciling', 'pull secret refreshed', 'imported'].includes(l.message ?? ''));
    expect(reconciling(leader).map((l) => l.message)).to.include.members(['caches synced; reconciling', 'pull secret refreshed', 'imported']);
    expect(reconciling(standby), 'reconcile log lines of the standby').to.be.empty;
  });

  it('shows the token expiry and the ECR calls made in /metrics, and turned ready only once its caches had synced', async () => {
    const leader = replicas[0]!;
    const labels = { namespace, name: samples.registry.metadata.name! };
    await eventually(
      async () => {
        const registry = await getRegistry(namespace, labels.name);
        const expiresAtMs = Date.parse(registry.status!.expirationTime!);
        const metrics = await scrape(leader.metricsUrl);
        const expiry = samplesOf(metrics, 'ecr_operator_token_expiry_seconds', labels)[0]?.value;
        expect(expiry, 'ecr_operator_token_expiry_seconds').to.be.a('number');
        expect(expiry!).to.be.within(0, TOKEN_LIFETIME_SECONDS);
        expect(expiry!).to.be.closeTo((expiresAtMs - Date.now()) / 1000, 2);
        expect(samplesOf(metrics, 'ecr_operator_token_expiry_timestamp_seconds', labels)[0]?.value).to.equal(expiresAtMs / 1000);

        // Every ECR API call the emulator received with the sample's key, and no other, is counted once.
        const received = emulator.counters().byAccessKey[key.accessKeyId] ?? {};
        const ecrActions = Object.keys(received).filter((action) => !action.startsWith('RegistryV2'));
        expect(ecrActions).to.include.members(['GetAuthorizationToken', 'BatchGetImage']);
        const counted = samplesOf(metrics, 'ecr_operator_ecr_api_calls_total');
        for (const action of ecrActions) {
          expect(samplesOf(counted, 'ecr_operator_ecr_api_calls_total', { action, outcome: 'success' })[0]?.value, `${action} calls`).to.equal(received[action]);
        }
        expect(counted.filter((s) => s.labels.outcome !== 'success' && s.value > 0), 'failed ECR calls').to.be.empty;
        expect(new Set(counted.map((s) => s.labels.action))).to.deep.equal(new Set(ecrActions));
        figures.push(`leader /metrics: token expiry ${expiry!.toFixed(1)} s; ECR calls ${ecrActions.map((a) => `${a}=${received[a]}`).join(', ')}`);
      },
      { timeoutMs: 10_000, intervalMs: 500, message: 'the leader metrics match the registry status and the emulator' },
    );

    // The first leader had no caches at first: /readyz said so until they synced.
    const answers = readiness.get(leader.name)!;
    expect(answers.at(-1)).to.include({ status: 200, body: 'ok: informers synced' });
    expect(answers.slice(0, -1).every((a) => a.status === 503), 'answers before the first 200').to.equal(true);
    figures.push(`replica 0 /readyz before ready: ${answers.slice(0, -1).map((a) => a.body).join(' | ') || '(first answer was already 200)'}`);

    // The one pull secret was created once, and every refresh since replaced it.
    const writes = samplesOf(await scrape(leader.metricsUrl), 'ecr_operator_pull_secret_writes_total');
    expect(samplesOf(writes, 'ecr_operator_pull_secret_writes_total', { operation: 'create' })[0]?.value, 'pull secrets created').to.equal(1);
  });

  it('hands over to the standby within the lease duration when the leader is killed, and no pull secret expires', async function () {
    this.timeout(150_000);
    const [leader, standby] = replicas as [OperatorProcess, OperatorProcess];
    const { leaseDurationMs, retryPeriodMs } = leaseTimings();
    // The hardest moment: the leader dies just before the token is due, so it has only half its life left.
    const registry = await getRegistry(namespace, samples.registry.metadata.name!);
    const dueMs = Date.parse(registry.status!.nextRefreshTime!);
    await sleep(Math.max(0, dueMs - Date.now() - 1_000));
    const before = await currentToken();
    figures.push(`leader before the kill: ${await memoryFigure(leader)}`, `standby before the kill: ${await memoryFigure(standby)}`);

    const sampler = sampleTokenValidity();
    const killedMs = Date.now();
    leader.signal('SIGKILL');
    await leader.exited;
    const tookOverMs = (await waitForHolder(standby, leaseDurationMs + 4 * retryPeriodMs + 5_000, 100)) - killedMs;
    await standby.waitForLog((l) => l.message === 'caches synced; reconciling', 10_000, 'caches synced');
    // Continuity, not luck: the new leader itself replaces the token the old one left.
    const after = await eventually(
      async () => {
        const token = await currentToken();
        expect(token.issuedAt.getTime(), 'token issued after the handover').to.be.greaterThan(killedMs);
        return token;
      },
      { timeoutMs: 40_000, intervalMs: 250, message: 'the new leader refreshes the token' },
    );
    const readings = await sampler.stop();

    figures.push(
      `kill -9 handover: ${tookOverMs} ms (lease ${leaseDurationMs} ms, retry ${retryPeriodMs} ms); token left at the kill ${Math.round((before.expiresAt.getTime() - killedMs) / 1000)} s, ` +
        `lowest during the handover ${Math.round(Math.min(...readings.map((r) => r.remainingMs ?? 0)) / 1000)} s over ${readings.length} readings; ` +
        `new token ${Math.round((after.issuedAt.getTime() - killedMs) / 1000)} s after the kill`,
    );
    expect(readings.filter((r) => r.problem), 'readings of an expired or unusable pull secret').to.deep.equal([]);
    // A standby counts the lease from the last renewal it saw, and tries again every retry period (plus jitter).
    expect(tookOverMs, 'kill -9 handover').to.be.below(leaseDurationMs + 2 * retryPeriodMs * 1.2 + 4_000);
    expect(samplesOf(await scrape(standby.metricsUrl), 'ecr_operator_leader')[0]?.value).to.equal(1);
  });

  it('hands over at once when the leader gets SIGTERM, and the old leader exits 0', async () => {
    const leader = replicas[1]!;
    const next = await startReplica('ecr-pullsecrets-operator-2');
    const answers = await recordReadiness(next);
    expect(answers.at(-1)!.body).to.match(new RegExp(`standby, leader is ${leader.name}_`));
    const sampler = sampleTokenValidity();

    figures.push(`second leader: ${await memoryFigure(leader)}`);
    const signalledMs = Date.now();
    leader.signal('SIGTERM');
    const tookOverMs = (await waitForHolder(next, 15_000, 20)) - signalledMs;
    const exit = await leader.exited;
    const shutdown = leader.logs().find((l) => l.message === 'shut down');
    await next.waitForLog((l) => l.message === 'caches synced; reconciling', 10_000, 'caches synced');
    await eventually(async () => expect(readyCondition(await readImport())).to.include({ status: 'True' }), { message: 'the import stays Ready' });
    const readings = await sampler.stop();

    figures.push(`SIGTERM handover: ${tookOverMs} ms; the old leader shut down in ${shutdown?.tookMs} ms and exited ${exit.code ?? exit.signal} after ${exit.atMs - signalledMs} ms`);
    expect(exit.code, 'exit code after SIGTERM').to.equal(0);
    expect(readings.filter((r) => r.problem)).to.deep.equal([]);
    // Aim: under 3 s (one retry period plus the shutdown). The bound is generous for a loaded CI machine.
    expect(tookOverMs, 'SIGTERM handover').to.be.below(6_000);
  });

  it('writes nothing to the image filesystem, which the Deployment mounts read-only', async () => {
    const startedMs = Math.min(...replicas.map((r) => r.startedAtMs));
    const written: string[] = [];
    for (const entry of await fs.readdir(layout.rootDir, { recursive: true, withFileTypes: true })) {
      const file = path.join(entry.parentPath, entry.name);
      if ((await fs.lstat(file)).mtimeMs >= startedMs) written.push(path.relative(layout.rootDir, file));
    }
    expect(written, 'files created or changed while the operator ran').to.deep.equal([]);
  });
});
