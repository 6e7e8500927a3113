import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoordinationV1Api, CoreV1Api, type KubernetesObject, type V1Container } from '@kubernetes/client-node';
import { expect } from 'chai';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY, IMAGE_IMPORT } from '../../src/api/group.ts';
import type { ClusterEcrRegistry } from '../../src/api/cluster-ecr-registry.ts';
import type { ImageImport } from '../../src/api/image-import.ts';
import { apiErrorMessage } from '../support/controlplane/index.ts';
import { type ImageLayout, sharedImageLayout } from '../support/dockerfile.ts';
import { type AccessKey, EcrEmulator, type PushedImage } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import type { HelmResult } from '../support/helm.ts';
import { adminClients, getRegistry, listEvents, pullSecretPassword, readSecret, readyCondition, registryGone } from '../support/fixtures.ts';
import { ApiRecorder } from './support/api-recorder.ts';
import { helmOk, installChart, objectKey, objectsStillThere, RELEASE, releaseObjects } from './support/chart-install.ts';
import { killAllOperatorProcesses, type LogRecord, type OperatorProcess, startOperatorProcess } from './support/operator-process.ts';
import { auditRequests, NEEDED_WITHOUT_A_REQUEST, permissionsGrantedTo, requestAttributes, unusedPermissions, usageLines } from './support/rbac-audit.ts';
import {
  bindMoreServiceAccounts,
  containerEnv,
  deployedOperator,
  kubectlOk,
  LEASE_NAME,
  OPERATOR_SERVICE_ACCOUNT,
  REPOSITORY_ROOT,
  readSamples,
  removeShippedClusterObjects,
  sampleClusterRegistry,
  type SamplesInfo,
  withFlags,
  writeSamplesOverlay,
} from './support/shipped-install.ts';

/** Short-lived tokens, so every registry is refreshed (its pull secret updated) within the run. */
const TOKEN_LIFETIME_SECONDS = 8;
const GUARDRAILS = 'ecr-pullsecrets-operator-guardrails';

/**
 * The README's Helm install, end to end: `helm install ecr-pullsecrets-operator deploy/chart` into the
 * test apiserver with values that change what the operator does, then the operator started from the
 * Deployment the API server stored (its args and env, as its container would get them) as the
 * chart's ServiceAccount. Only what cannot be the same outside a pod is overridden: loopback ports
 * (replicas share one host) and the kubeconfig (a TokenRequest token of that ServiceAccount, through a
 * recording proxy, instead of a mounted one). The ECR endpoint the samples name (the emulator) comes
 * from the chart's own `allowedEndpoints` value.
 *
 * Each install then proves it serves (pull secrets the registry accepts, ServiceAccounts bound, the
 * image imported, a ClusterEcrRegistry where the ClusterRole allows one), is removed in the README's
 * uninstall order, and had exactly the RBAC it needed: every request it made is granted by the roles
 * in the release's manifest and none was refused, and every permission those roles grant was used
 * (the few no request can show are listed in rbac-audit.ts).
 */
describe('the operator installed with helm install deploy/chart, run from the Deployment the chart rendered', function () {
  this.timeout(120_000);
  let layout: ImageLayout;
  let emulator: EcrEmulator;
  let samples: SamplesInfo;
  let key: AccessKey;
  let image: PushedImage;
  let tempDir: string;
  const figures: string[] = [];

  before(async function () {
    this.timeout(300_000);
    const startedMs = Date.now();
    layout = await sharedImageLayout(REPOSITORY_ROOT);
    figures.push(`image layout from the Dockerfile: ${Date.now() - startedMs} ms`);
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecr-operator-e2e-helm-'));
    emulator = await EcrEmulator.start({ tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS });
    samples = await readSamples();
    const { accountId, region } = samples;
    key = emulator.addAccessKey({ accountId, region });
    emulator.createRepository({ accountId, region, name: samples.imageImport.spec.repository });
    image = emulator.pushImage({ accountId, region, repository: samples.imageImport.spec.repository, tags: samples.imageImport.spec.tags ?? ['latest'] });
    // The chart names its ClusterRole, binding and guardrail policy as deploy/ does, which an earlier suite may have applied.
    await removeShippedClusterObjects();
  });

  after(async function () {
    this.timeout(60_000);
    await killAllOperatorProcesses();
    await emulator?.stop();
    await layout?.remove();
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
    if (figures.length > 0) process.stderr.write(`      figures:\n${figures.map((f) => `        ${f}`).join('\n')}\n`);
  });

  /** One `helm install` and the operator replicas started from what it stored. */
  class ChartRun {
    readonly label: string;
    namespace = '';
    installOutput!: HelmResult;
    objects: KubernetesObject[] = [];
    container!: V1Container;
    replicaCount = 0;
    recorder!: ApiRecorder;
    operatorToken = '';
    replicas: OperatorProcess[] = [];
    /** Namespaces whose objects the run created, deleted at the end. */
    namespaces: string[] = [];
    /** Every pull secret token the run saw, to look for in the logs. */
    tokens = new Set<string>();

    constructor(label: string) {
      this.label = label;
    }

    /** `probeNamespace`: where the ServiceAccount may create Secrets, so that the guardrail policy, not RBAC, refuses the probe. */
    async install(prefix: string, values: Record<string, unknown>, probeNamespace?: string): Promise<void> {
      const startedMs = Date.now();
      const { namespace, install } = await installChart(prefix, values);
      this.namespace = namespace;
      this.installOutput = install;
      figures.push(`${this.label}: helm install took ${Date.now() - startedMs} ms`);
      this.objects = await releaseObjects(namespace);
      const deployed = await deployedOperator(namespace);
      this.container = deployed.container;
      this.replicaCount = deployed.replicas;
      const identity = await testEnv().serviceAccountKubeConfig(namespace, OPERATOR_SERVICE_ACCOUNT);
      this.operatorToken = identity.kubeConfig.getCurrentUser()?.token ?? '';
      if (!this.operatorToken) throw new Error('the ServiceAccount kubeconfig has no token');
      this.recorder = await ApiRecorder.start({ apiServer: testEnv().server, caCertPem: testEnv().caCertPem });
      await this.guardrailsInForce(identity.kubeConfig.makeApiClient(CoreV1Api), probeNamespace ?? namespace);
    }

    /** The API server enforces a new policy once its informer has it: wait for a refusal of a dry run that breaks it. */
    async guardrailsInForce(asOperator: CoreV1Api, namespace: string): Promise<void> {
      await eventually(
        async () => {
          const answer = await asOperator
            .createNamespacedSecret({ namespace, body: { metadata: { name: 'guardrails-probe' }, type: 'Opaque', stringData: { a: 'b' } }, dryRun: 'All' })
            .then(
              () => 'allowed',
              (error: unknown) => apiErrorMessage(error) ?? String(error),
            );
          expect(answer).to.include(`ValidatingAdmissionPolicy '${GUARDRAILS}'`);
        },
        { timeoutMs: 20_000, message: "the chart's guardrail policy is in force" },
      );
    }

    /** The replicas the Deployment asks for, each with its args and env; the first takes the Lease before the others start. */
    async startReplicas(): Promise<void> {
      const kubeconfig = await this.recorder.writeKubeconfig(path.join(tempDir, `${this.namespace}.kubeconfig`), this.operatorToken);
      const start = async (index: number) => {
        const name = `${OPERATOR_SERVICE_ACCOUNT}-${index}`;
        const args = withFlags(this.container.args ?? [], {
          'metrics-bind-address': '127.0.0.1:0',
          'health-probe-bind-address': '127.0.0.1:0',
          kubeconfig,
        });
        const replica = await startOperatorProcess({ name, layout, args, env: containerEnv(this.container, name, this.namespace) });
        this.replicas.push(replica);
        return replica;
      };
      const startedMs = Date.now();
      const first = await start(0);
      await first.waitForLog((l) => l.message === 'caches synced; reconciling', 30_000, 'caches synced');
      figures.push(`${this.label}: first replica reconciling ${Date.now() - startedMs} ms after start`);
      await Promise.all(Array.from({ length: this.replicaCount - 1 }, (_, i) => start(i + 1)));
    }

    starting(replica: OperatorProcess): LogRecord {
      const record = replica.logs().find((l) => l.message === 'starting ecr-pullsecrets-operator');
      if (!record) throw new Error(`${replica.name} logged no start record:\n${replica.logText(20)}`);
      return record;
    }

    async lease() {
      return testEnv().kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: this.namespace, name: LEASE_NAME });
    }

    /**
     * deploy/samples in `namespace` (credentials, ServiceAccount, EcrRegistry, ImageImport), with the
     * emulator's key and endpoint: the registry Ready with a pull secret the registry accepts, the
     * ServiceAccount bound, the image imported, the pull secret refreshed, and more ServiceAccounts
     * bound (one missing, so its Warning Event repeats).
     */
    async serveSamples(namespace: string): Promise<void> {
      const overlay = await writeSamplesOverlay(path.join(tempDir, `samples-${namespace}`), samples, {
        namespace,
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        endpoint: emulator.url,
      });
      const appliedMs = Date.now();
      await kubectlOk(['apply', '-k', overlay]);
      const registryName = samples.registry.metadata.name!;
      const registry = await eventually(
        async () => {
          const current = await getRegistry(namespace, registryName);
          expect(readyCondition(current), 'EcrRegistry Ready').to.include({ status: 'True', reason: 'PullSecretReady' });
          return current;
        },
        { timeoutMs: 30_000, message: `the sample EcrRegistry in ${namespace} is Ready` },
      );
      const imported = await eventually(
        async () => {
          const current = await readImport(namespace);
          expect(readyCondition(current), 'ImageImport Ready').to.include({ status: 'True' });
          return current;
        },
        { timeoutMs: 30_000, message: `the sample ImageImport in ${namespace} is Ready` },
      );
      figures.push(`${this.label}: samples applied → EcrRegistry and ImageImport Ready in ${Date.now() - appliedMs} ms`);

      const pullSecretName = registry.status!.pullSecretName!;
      const password = async () => pullSecretPassword((await readSecret(namespace, pullSecretName))!, samples.host);
      const first = await password();
      this.tokens.add(first);
      expect(await registryAccepts(first), 'the registry accepts the pull secret').to.equal(200);
      expect(emulator.tokenInfo(first)?.accessKeyId, 'token minted with the sample credentials').to.equal(key.accessKeyId);
      for (const name of samples.serviceAccounts) {
        const account = await adminClients().core.readNamespacedServiceAccount({ namespace, name });
        expect(account.imagePullSecrets ?? [], `imagePullSecrets of ${name}`).to.deep.include({ name: pullSecretName });
      }
      const wantedTags = samples.imageImport.spec.tags ?? ['latest'];
      expect(imported.status?.tags?.map((t) => [t.tag, t.digest])).to.have.deep.members(wantedTags.map((tag) => [tag, image.digest]));

      // A refresh replaces the token in the Secret (an update).
      const refreshed = await eventually(
        async () => {
          const current = await password();
          expect(current, 'the token in the pull secret').to.not.equal(first);
          return current;
        },
        { timeoutMs: 30_000, message: 'the pull secret is refreshed' },
      );
      this.tokens.add(refreshed);
      expect(await registryAccepts(refreshed), 'the registry accepts the refreshed pull secret').to.equal(200);

      await bindMoreServiceAccounts(namespace, samples);
      await eventually(
        async () => {
          const account = await adminClients().core.readNamespacedServiceAccount({ namespace, name: 'app-2' });
          expect(account.imagePullSecrets ?? []).to.deep.include({ name: pullSecretName });
        },
        { timeoutMs: 30_000, message: 'app-2 is bound' },
      );
      // The Warning about the missing ServiceAccount repeats at the next refresh: the shutdown writes its series count.
      const warned = await eventually(
        async () => {
          const warning = (await listEvents(namespace)).find((e) => e.type === 'Warning' && (e.note ?? '').includes('not-created'));
          expect(warning, 'a Warning Event naming not-created').to.not.equal(undefined);
          return warning!;
        },
        { timeoutMs: 30_000, message: 'the operator warns about the missing ServiceAccount' },
      );
      const seenToken = await password();
      await eventually(async () => expect(await password(), 'a refresh after the warning').to.not.equal(seenToken), {
        timeoutMs: 30_000,
        message: `the Warning ${warned.reason} repeats at the next refresh`,
      });
      this.tokens.add(await password());
    }

    /**
     * README.md's uninstall order: the custom resources first, while the operator runs (it takes its
     * entries off the ServiceAccounts, deletes its pull secrets and releases its finalizers), then the
     * operator, then `helm uninstall`. The test's own objects are deleted by name and namespace rather
     * than with --all --all-namespaces, as other suites share this API server; the CRDs stay for them too.
     */
    async uninstall(workloadNamespaces: string[], clusterRegistries: string[]): Promise<void> {
      const startedMs = Date.now();
      for (const namespace of workloadNamespaces) {
        await kubectlOk(['delete', 'imageimports,ecrregistries', '--all', '--namespace', namespace, '--wait=true', '--timeout=30s']);
      }
      if (clusterRegistries.length > 0) await kubectlOk(['delete', CLUSTER_ECR_REGISTRY.plural, ...clusterRegistries, '--wait=true', '--timeout=30s']);
      for (const namespace of workloadNamespaces) {
        expect(await registryGone(namespace, samples.registry.metadata.name!), `the EcrRegistry in ${namespace} is finalized`).to.equal(true);
        const secrets = await adminClients().core.listNamespacedSecret({ namespace, labelSelector: 'app.kubernetes.io/managed-by=ecr-pullsecrets-operator' });
        expect(secrets.items.map((s) => s.metadata?.name), `pull secrets left in ${namespace}`).to.deep.equal([]);
        for (const name of [...samples.serviceAccounts, 'app-2']) {
          const account = await adminClients().core.readNamespacedServiceAccount({ namespace, name }).catch(() => undefined);
          if (account) expect(account.imagePullSecrets ?? [], `imagePullSecrets of ${namespace}/${name}`).to.deep.equal([]);
        }
      }
      // helm uninstall deletes the Deployment first, and the kubelet stops its pods with SIGTERM: standbys first here,
      // so the leader does not hand over on the way. Each finishes its work, writes its Events and exits 0.
      for (const replica of [...this.replicas].reverse()) {
        const exit = await replica.stop(15_000);
        expect(exit.code, `${replica.name} exit code after SIGTERM`).to.equal(0);
      }
      const uninstalled = await helmOk(['uninstall', RELEASE, '--namespace', this.namespace]);
      expect(uninstalled.stdout).to.include(`release "${RELEASE}" uninstalled`);
      expect(await objectsStillThere(this.objects), 'objects of the release left after helm uninstall').to.deep.equal([]);
      figures.push(`${this.label}: README uninstall order took ${Date.now() - startedMs} ms`);
    }

    /** The RBAC audit of every request the replicas made, against the roles of the release's manifest. */
    audit(): void {
      const permissions = permissionsGrantedTo(this.objects, { namespace: this.namespace, name: OPERATOR_SERVICE_ACCOUNT });
      const requests = this.recorder.requests();
      const { refused, uncovered, nonResource, uses } = auditRequests(permissions, requests);
      figures.push(`${this.label}: ${requests.length} API requests recorded; uses per permission:`, ...usageLines(uses).map((line) => `  ${line}`));
      expect(refused, 'requests the API server refused').to.deep.equal([]);
      expect(uncovered, 'requests no role of the release grants').to.deep.equal([]);
      expect(nonResource, 'requests outside the resource API').to.deep.equal([]);
      const granted = new Set(unusedPermissions(new Map(permissions.map((p) => [p, 0]))));
      const exempt = Object.keys(NEEDED_WITHOUT_A_REQUEST).filter((p) => granted.has(p));
      expect(unusedPermissions(uses), 'permissions of the release no request used').to.have.members(exempt);
    }

    async stop(): Promise<void> {
      await Promise.all(this.replicas.map((r) => r.kill()));
      await this.recorder?.stop();
      if (this.namespace) {
        // Left only when a test failed before the uninstall; the next suite's install must not collide with it.
        const status = await helmOk(['status', RELEASE, '--namespace', this.namespace]).catch(() => undefined);
        if (status) await helmOk(['uninstall', RELEASE, '--namespace', this.namespace]).catch(() => undefined);
        await deleteTestNamespace(this.namespace);
      }
      for (const namespace of this.namespaces) await deleteTestNamespace(namespace);
    }
  }

  async function readImport(namespace: string): Promise<ImageImport> {
    const importPath = { group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, namespace, name: samples.imageImport.metadata.name! };
    return (await adminClients().custom.getNamespacedCustomObject(importPath)) as ImageImport;
  }

  async function registryAccepts(password: string): Promise<number> {
    const login = Buffer.from(`AWS:${password}`).toString('base64');
    const answer = await fetch(`${emulator.registryUrl(samples.accountId, samples.region)}/v2/`, { headers: { authorization: `Basic ${login}` } });
    return answer.status;
  }

  async function canI(run: ChartRun, ...args: string[]): Promise<string> {
    const kubeconfig = (await testEnv().serviceAccountKubeConfig(run.namespace, OPERATOR_SERVICE_ACCOUNT)).path;
    return (await testEnv().kubectl(['auth', 'can-i', ...args], { kubeconfig })).stdout.trim();
  }

  function kindsOf(run: ChartRun, kind: string): string[] {
    return run.objects.filter((o) => o.kind === kind).map(objectKey);
  }

  describe('watching every namespace: a ClusterRole, three replicas, debug logs, extra args and Lease timings', () => {
    const run = new ChartRun('all namespaces');
    let workload: string;
    let served: string;
    let clusterRegistry: ClusterEcrRegistry;

    before(async function () {
      this.timeout(120_000);
      await run.install('helm-all', {
        replicaCount: 3,
        logLevel: 'debug',
        extraArgs: ['--workers=2'],
        leaderElection: { leaseDuration: '20s', renewDeadline: '15s', retryPeriod: '3s' },
        allowedEndpoints: [emulator.url],
      });
      workload = await createTestNamespace('helm-all-samples');
      served = await createTestNamespace('helm-all-served');
      run.namespaces.push(workload, served);
    });

    after(async function () {
      this.timeout(60_000);
      await run.stop();
    });

    it('installs with helm install cleanly: a ClusterRole bound to its ServiceAccount, a PodDisruptionBudget, the values in the args', async () => {
      expect(run.installOutput.stdout).to.match(/STATUS: deployed/);
      // What the uninstall test later finds gone is there now.
      expect(await objectsStillThere(run.objects)).to.have.members(run.objects.map(objectKey));
      // A warning, such as a Pod Security "restricted" violation of the pod template, is a defect.
      expect(run.installOutput.stderr, 'helm install warnings').to.not.match(/warn|PodSecurity/i);
      expect(kindsOf(run, 'ClusterRole')).to.deep.equal(['ClusterRole ecr-pullsecrets-operator']);
      expect(kindsOf(run, 'ClusterRoleBinding')).to.deep.equal(['ClusterRoleBinding ecr-pullsecrets-operator']);
      expect(kindsOf(run, 'Role'), 'only the leader election Role').to.deep.equal([`Role ${run.namespace}/ecr-pullsecrets-operator-leader-election`]);
      expect(kindsOf(run, 'PodDisruptionBudget')).to.deep.equal([`PodDisruptionBudget ${run.namespace}/ecr-pullsecrets-operator`]);
      expect(run.replicaCount).to.equal(3);
      expect(run.container.args).to.include.members([
        '--log-level=debug',
        '--workers=2',
        '--lease-duration=20s',
        '--renew-deadline=15s',
        '--retry-period=3s',
        `--allowed-endpoints=${emulator.url}`,
      ]);
    });

    it('runs the replicas the Deployment asks for with its args and env: one leads, on the Lease timings of the values', async () => {
      await run.startReplicas();
      const lease = await run.lease();
      expect(lease.spec?.holderIdentity, 'Lease holder').to.match(/^ecr-pullsecrets-operator-0_/);
      expect(lease.spec?.leaseDurationSeconds).to.equal(20);
      expect(run.replicas).to.have.length(3);
      for (const replica of run.replicas) {
        expect(run.starting(replica), `${replica.name}'s configuration`).to.deep.include({
          namespaces: '(all)',
          workers: 2,
          logLevel: 'debug',
          leaseDurationMs: 20_000,
          renewDeadlineMs: 15_000,
          retryPeriodMs: 3_000,
          lease: `${run.namespace}/${LEASE_NAME}`,
          allowedEndpoints: [emulator.url],
        });
      }
      expect(run.replicas[0]!.logs().some((l) => l.level === 'debug'), 'debug records in the log').to.equal(true);
      for (const standby of run.replicas.slice(1)) {
        const answer = await eventually(
          async () => {
            const response = await fetch(`${standby.healthUrl}/readyz`);
            const body = (await response.text()).trim();
            expect(response.status, body).to.equal(200);
            return body;
          },
          { timeoutMs: 20_000, message: `${standby.name} is ready` },
        );
        expect(answer).to.match(/standby, leader is ecr-pullsecrets-operator-0_/);
      }
    });

    it('serves the samples: a pull secret the registry accepts, bound and refreshed, and the image imported', async () => {
      await run.serveSamples(workload);
    });

    it('serves a namespace from a ClusterEcrRegistry', async () => {
      await adminClients().core.createNamespacedServiceAccount({ namespace: served, body: { metadata: { name: 'app' } } });
      clusterRegistry = sampleClusterRegistry(samples, {
        name: `helm-${served}`,
        credentialsNamespace: workload,
        endpoint: emulator.url,
        namespaces: [served],
        pullSecretName: 'cluster-pull',
        serviceAccounts: ['app'],
      });
      await kubectlOk(['apply', '-f', '-'], { stdin: JSON.stringify(clusterRegistry) });
      await eventually(
        async () => {
          const secret = await readSecret(served, 'cluster-pull');
          expect(secret, `the pull secret in ${served}`).to.not.equal(undefined);
          const account = await adminClients().core.readNamespacedServiceAccount({ namespace: served, name: 'app' });
          expect(account.imagePullSecrets ?? []).to.deep.include({ name: 'cluster-pull' });
        },
        { timeoutMs: 30_000, message: 'the ClusterEcrRegistry serves its namespace' },
      );
      const password = pullSecretPassword((await readSecret(served, 'cluster-pull'))!, samples.host);
      run.tokens.add(password);
      expect(await registryAccepts(password), 'the registry accepts the cluster pull secret').to.equal(200);
    });

    it('never writes a token or the secret access key to its log, at debug level either', () => {
      expect(run.tokens.size, 'tokens seen').to.be.at.least(3);
      const secrets = [...run.tokens, key.secretAccessKey, run.operatorToken];
      for (const replica of run.replicas) {
        const log = replica.logText(Number.MAX_SAFE_INTEGER);
        expect(secrets.filter((secret) => log.includes(secret)).length, `credentials in ${replica.name}'s log`).to.equal(0);
      }
    });

    it('uninstalls in the README order: custom resources first, while the operator runs, then helm uninstall', async function () {
      this.timeout(90_000);
      await run.uninstall([workload], [clusterRegistry.metadata.name!]);
      expect(await readSecret(served, 'cluster-pull'), 'the cluster pull secret').to.equal(undefined);
    });

    it('needed exactly the RBAC the chart granted: no request refused or ungranted, no permission unused', () => {
      run.audit();
    });
  });

  describe('watching a list of namespaces: Roles in each instead of the ClusterRole, one replica', () => {
    const run = new ChartRun('namespace list');
    let watched: string[];
    let unwatched: string;

    before(async function () {
      this.timeout(120_000);
      watched = [await createTestNamespace('helm-list-a'), await createTestNamespace('helm-list-b')];
      unwatched = await createTestNamespace('helm-list-unwatched');
      run.namespaces.push(...watched, unwatched);
      await run.install(
        'helm-list',
        { watchNamespaces: watched, replicaCount: 1, extraArgs: ['--shutdown-timeout=15s'], allowedEndpoints: [emulator.url] },
        watched[0],
      );
    });

    after(async function () {
      this.timeout(60_000);
      await run.stop();
    });

    it('installs a Role and RoleBinding in each watched namespace, no ClusterRole, and no PodDisruptionBudget for one replica', async () => {
      expect(run.installOutput.stdout).to.match(/STATUS: deployed/);
      expect(run.installOutput.stderr, 'helm install warnings').to.not.match(/warn|PodSecurity/i);
      expect(kindsOf(run, 'ClusterRole')).to.deep.equal([]);
      expect(kindsOf(run, 'ClusterRoleBinding')).to.deep.equal([]);
      expect(kindsOf(run, 'Role')).to.have.members([
        ...watched.map((ns) => `Role ${ns}/ecr-pullsecrets-operator`),
        `Role ${run.namespace}/ecr-pullsecrets-operator-leader-election`,
      ]);
      expect(kindsOf(run, 'RoleBinding')).to.have.length(3);
      expect(kindsOf(run, 'PodDisruptionBudget')).to.deep.equal([]);
      expect(run.container.args).to.include.members([`--namespaces=${watched.join(',')}`, '--shutdown-timeout=15s']);
      expect(await canI(run, 'list', 'secrets', '--namespace', watched[1]!)).to.equal('yes');
      expect(await canI(run, 'list', 'secrets', '--all-namespaces')).to.equal('no');
      expect(await canI(run, 'list', 'secrets', '--namespace', unwatched)).to.equal('no');
      expect(await canI(run, 'list', CLUSTER_ECR_REGISTRY.plural)).to.equal('no');
    });

    it('runs the one replica with its args and env, watching the listed namespaces only', async () => {
      await run.startReplicas();
      expect(run.replicas).to.have.length(1);
      expect(run.starting(run.replicas[0]!)).to.deep.include({ namespaces: watched, shutdownTimeoutMs: 15_000, logLevel: 'info' });
      expect((await run.lease()).spec?.holderIdentity).to.match(/^ecr-pullsecrets-operator-0_/);
    });

    it('serves the samples in a watched namespace', async () => {
      // The same objects where it may not look: they must stay untouched (checked after the run).
      const overlay = await writeSamplesOverlay(path.join(tempDir, `samples-${unwatched}`), samples, {
        namespace: unwatched,
        accessKeyId: key.accessKeyId,
        secretAccessKey: key.secretAccessKey,
        endpoint: emulator.url,
      });
      await kubectlOk(['apply', '-k', overlay]);
      await run.serveSamples(watched[0]!);
    });

    it('uninstalls in the README order: custom resources first, while the operator runs, then helm uninstall', async function () {
      this.timeout(90_000);
      // The unwatched namespace's registry has no finalizer (nothing served it), so it goes at once.
      const untouched = await getRegistry(unwatched, samples.registry.metadata.name!);
      // (The API server defaults status.observedGeneration to -1; the operator would write conditions.)
      expect(untouched.status?.conditions ?? [], 'conditions of the EcrRegistry in the unwatched namespace').to.deep.equal([]);
      expect(untouched.metadata.finalizers ?? []).to.deep.equal([]);
      await run.uninstall([...watched, unwatched], []);
    });

    it('needed exactly the RBAC the chart granted, and asked nothing of namespaces it does not watch', () => {
      const namespaces = new Set(
        run.recorder
          .requests()
          .map((r) => requestAttributes(r.method, r.url)?.namespace)
          .filter((ns): ns is string => ns !== undefined),
      );
      expect([...namespaces]).to.have.members([...watched, run.namespace]);
      const clusterScoped = run.recorder.requests().filter((r) => {
        const attributes = requestAttributes(r.method, r.url);
        return attributes !== undefined && attributes.namespace === undefined;
      });
      expect(clusterScoped.map((r) => `${r.method} ${r.url}`), 'cluster-wide requests').to.deep.equal([]);
      run.audit();
    });
  });
});
