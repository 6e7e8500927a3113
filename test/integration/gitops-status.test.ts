import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { ClusterEcrRegistry, ClusterEcrRegistrySpec } from '../../src/api/cluster-ecr-registry.ts';
import type { EcrRegistry, EcrRegistrySpec } from '../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY, ECR_REGISTRY, GROUP_VERSION, IMAGE_IMPORT } from '../../src/api/group.ts';
import type { ImageImport, RegistryRef } from '../../src/api/image-import.ts';
import type { Condition } from '../../src/api/meta.ts';
import { mergePatch } from '../../src/kube/clients.ts';
import { type AccessKey, EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { adminClients, createCredentialsSecret, createRegistry, deleteRegistry, getRegistry, readSecret } from '../support/fixtures.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';
import { type ArgoHealthStatus, type KstatusStatus, type StatusReport, statusReports } from '../support/status-tools.ts';

/**
 * What Flux (kstatus) and Argo CD (the shipped health.lua) say about LIVE objects, read back from
 * the apiserver, in each state of the status contract. The verdicts come from cli-utils' own code
 * and from the scripts in deploy/argocd run as Argo CD runs them. A table of every state goes to
 * stderr at the end, for the docs.
 */

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const CREDENTIALS = 'aws-keys';

const importPath = (namespace: string) => ({ group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, namespace });
const registryPath = (namespace: string) => ({ group: API_GROUP, version: API_VERSION, plural: ECR_REGISTRY.plural, namespace });
const clusterRegistryPath = { group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural };
const CLUSTER_PULL_SECRET = 'ecr-cluster-pull';

type Conditioned = { status?: { conditions?: Condition[] } };
const conditionOf = (object: Conditioned, type: string) => object.status?.conditions?.find((c) => c.type === type);

interface Expected {
  kstatus: KstatusStatus;
  argo: ArgoHealthStatus;
  /** Part of Argo CD's message, where the state is told apart by it. */
  argoMessage?: string | RegExp;
}

interface TableRow {
  state: string;
  kind: string;
  kstatus: string;
  argo: string;
  argoMessage: string;
  ok: boolean;
}

describe('GitOps status of live objects: kstatus and the Argo CD health checks', function () {
  this.timeout(120_000);
  let emulator: EcrEmulator;
  let operator: TestOperator;
  let namespace: string;
  const table: TableRow[] = [];

  before(async () => {
    emulator = await EcrEmulator.start();
    operator = await startTestOperator({ allowedEndpoints: [emulator.url], stsEndpoint: emulator.url });
  });
  after(async () => {
    await operator?.stop();
    await emulator?.stop();
    printTable(table);
  });
  beforeEach(async function () {
    namespace = await createTestNamespace(this.currentTest?.title.slice(0, 30) ?? 'gitops-status');
    emulator.tokenLifetimeSeconds = 12 * 60 * 60;
    emulator.clearFaults();
  });
  afterEach(async () => {
    emulator.clearFaults();
    // A bare apiserver never empties a deleted namespace: delete what would keep reconciling.
    const { custom } = adminClients();
    await custom.deleteCollectionNamespacedCustomObject(importPath(namespace)).catch(() => undefined);
    await custom.deleteCollectionNamespacedCustomObject(registryPath(namespace)).catch(() => undefined);
    await deleteTestNamespace(namespace);
  });

  function newKey(): AccessKey {
    return emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
  }

  async function credentialsFor(key: AccessKey, secretAccessKey = key.secretAccessKey): Promise<void> {
    await createCredentialsSecret(namespace, CREDENTIALS, { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey });
  }

  function spec(extra: Partial<EcrRegistrySpec> = {}): EcrRegistrySpec {
    return { registry: HOST, endpoint: emulator.url, credentials: { secretRef: { name: CREDENTIALS } }, ...extra };
  }

  async function createImport(name: string, repository: string, registryRef: RegistryRef = { name: 'prod' }, into = namespace): Promise<ImageImport> {
    const body = { apiVersion: GROUP_VERSION, kind: IMAGE_IMPORT.kind, metadata: { name, namespace: into }, spec: { registryRef, repository, tags: ['latest'] } };
    return (await adminClients().custom.createNamespacedCustomObject({ ...importPath(into), body })) as ImageImport;
  }

  async function getImport(name: string, from = namespace): Promise<ImageImport> {
    return (await adminClients().custom.getNamespacedCustomObject({ ...importPath(from), name })) as ImageImport;
  }

  /**
   * Reads the object until the contract's state is reached (`reached` stops throwing), then records
   * and checks what kstatus and Argo CD say about it. Should the state never come, the last object
   * read still goes into the table, so the table shows what the tools make of it.
   */
  async function expectVerdict<T extends Conditioned & { kind: string }>(
    state: string,
    read: () => Promise<T>,
    reached: (object: T) => void,
    expected: Expected,
  ): Promise<T> {
    let last: T | undefined;
    let object: T;
    try {
      object = await eventually(
        async () => {
          last = await read();
          reached(last);
          return last;
        },
        { timeoutMs: 30_000, intervalMs: 100, message: `${state}: the contract's state` },
      );
    } catch (error) {
      if (last) await record(`${state} (state not reached)`, last, expected);
      throw error;
    }
    const report = await record(state, object, expected);
    expect(report.kstatus.status, `kstatus: ${report.kstatus.message}`).to.equal(expected.kstatus);
    expect(report.argo?.status, `Argo CD: ${report.argo?.message}`).to.equal(expected.argo);
    expect(report.lua?.error, 'health.lua error').to.equal(undefined);
    if (expected.argoMessage !== undefined) {
      if (typeof expected.argoMessage === 'string') expect(report.argo?.message).to.include(expected.argoMessage);
      else expect(report.argo?.message).to.match(expected.argoMessage);
    }
    return object;
  }

  async function record(state: string, object: Conditioned & { kind: string }, expected: Expected): Promise<StatusReport> {
    const [report] = await statusReports([object]);
    const kstatus = report!.kstatus.status;
    const argo = report!.argo?.status ?? 'none';
    const ok = kstatus === expected.kstatus && argo === expected.argo;
    table.push({
      state,
      kind: object.kind,
      kstatus: kstatus === expected.kstatus ? kstatus : `${kstatus} (expected ${expected.kstatus})`,
      argo: argo === expected.argo ? argo : `${argo} (expected ${expected.argo})`,
      argoMessage: report!.argo?.message ?? '',
      ok,
    });
    return report!;
  }

  const isTrue = (object: Conditioned, type: string, reason?: string) => {
    expect(conditionOf(object, type), `${type}: ${JSON.stringify(object.status?.conditions)}`).to.include({ status: 'True', ...(reason ? { reason } : {}) });
  };
  const observed = (object: { metadata: { generation?: number }; status?: { observedGeneration?: number } }) => {
    expect(object.status?.observedGeneration, 'status.observedGeneration').to.equal(object.metadata.generation);
  };

  describe('EcrRegistry', () => {
    it('is InProgress / Progressing as created, before the controller has written status', async () => {
      await credentialsFor(newKey());
      const created = await createRegistry(namespace, 'prod', spec());
      // The create response is the object as stored, before any reconcile: the schema's status default.
      await expectVerdict('created, not yet reconciled', async () => created, (r) => expect(r.status?.observedGeneration).to.equal(-1), {
        kstatus: 'InProgress',
        argo: 'Progressing',
        argoMessage: 'Waiting for the controller',
      });
    });

    it('is Current / Healthy when Ready', async () => {
      await credentialsFor(newKey());
      await createRegistry(namespace, 'prod', spec());
      await expectVerdict('Ready', () => getRegistry(namespace, 'prod'), (r) => {
        observed(r);
        isTrue(r, 'Ready', 'PullSecretReady');
      }, { kstatus: 'Current', argo: 'Healthy' });
    });

    for (const { state, reason, setup } of [
      {
        state: 'rejected credentials (wrong secret key)',
        reason: 'CredentialsRejected',
        setup: async () => credentialsFor(newKey(), 'canary-WRONG-secret-key-0123456789abcdef'),
      },
      { state: 'endpoint not allowed', reason: 'EndpointNotAllowed', setup: async () => credentialsFor(newKey()) },
      {
        state: 'conflict (a foreign Secret has the pull secret\'s name)',
        reason: 'PullSecretConflict',
        setup: async () => {
          await credentialsFor(newKey());
          await adminClients().core.createNamespacedSecret({ namespace, body: { metadata: { name: 'prod' }, stringData: { note: 'not yours' } } });
        },
      },
      { state: 'missing credentials Secret', reason: 'CredentialsSecretNotFound', setup: async () => undefined },
    ]) {
      it(`is Failed / Degraded when Stalled: ${state}`, async () => {
        await setup();
        await createRegistry(namespace, 'prod', spec(reason === 'EndpointNotAllowed' ? { endpoint: 'https://ecr.attacker.example' } : {}));
        await expectVerdict(`Stalled: ${state}`, () => getRegistry(namespace, 'prod'), (r) => {
          observed(r);
          isTrue(r, 'Stalled', reason);
          expect(conditionOf(r, 'Ready')).to.include({ status: 'False', reason });
        }, { kstatus: 'Failed', argo: 'Degraded', argoMessage: `${reason}: ` });
      });
    }

    it('is InProgress / Progressing while throttled before its first token (Reconciling)', async () => {
      const key = newKey();
      await credentialsFor(key);
      emulator.injectFault({ kind: 'throttle', action: 'GetAuthorizationToken', accessKeyId: key.accessKeyId });
      await createRegistry(namespace, 'prod', spec());
      await expectVerdict('throttled, no token yet (Reconciling)', () => getRegistry(namespace, 'prod'), (r) => {
        observed(r);
        isTrue(r, 'Reconciling', 'Throttled');
        expect(conditionOf(r, 'Ready')).to.include({ status: 'False' });
      }, { kstatus: 'InProgress', argo: 'Progressing', argoMessage: 'Throttled: ' });
    });

    it('stays Current / Healthy through token rotations (5-second tokens, sampled across two)', async () => {
      emulator.tokenLifetimeSeconds = 5;
      await credentialsFor(newKey());
      await createRegistry(namespace, 'prod', spec());
      const first = await eventually(async () => {
        const r = await getRegistry(namespace, 'prod');
        isTrue(r, 'Ready');
        return r;
      });
      const samples: EcrRegistry[] = [];
      const issued = new Set<string>([first.status?.lastRefreshTime ?? '']);
      await eventually(
        async () => {
          const r = await getRegistry(namespace, 'prod');
          samples.push(r);
          if (r.status?.lastRefreshTime) issued.add(r.status.lastRefreshTime);
          expect(issued.size, 'tokens seen').to.be.at.least(3);
        },
        { timeoutMs: 30_000, intervalMs: 150 },
      );
      const reports = await statusReports(samples);
      const seen = new Set(reports.map((report) => `${report.kstatus.status}/${report.argo?.status}`));
      const last = samples.at(-1)!;
      await record(`mid-rotation (${samples.length} samples over ${issued.size - 1} rotations; seen: ${[...seen].join(', ')})`, last, {
        kstatus: 'Current',
        argo: 'Healthy',
      });
      expect([...seen], 'kstatus/Argo CD at every sample').to.deep.equal(['Current/Healthy']);
    });

    it('stays Current / Healthy while a refresh fails and the old token is still valid (Refreshed=False)', async () => {
      // 30-second tokens: refreshed after about 15 s, so the failing refresh comes while the token has ~15 s left.
      emulator.tokenLifetimeSeconds = 30;
      const key = newKey();
      await credentialsFor(key);
      await createRegistry(namespace, 'prod', spec());
      await eventually(async () => isTrue(await getRegistry(namespace, 'prod'), 'Ready'), { timeoutMs: 30_000 });
      emulator.removeAccessKey(key.accessKeyId);
      await expectVerdict('refresh failing, old token still valid', () => getRegistry(namespace, 'prod'), (r) => {
        observed(r);
        expect(conditionOf(r, 'Refreshed'), 'Refreshed').to.include({ status: 'False', reason: 'CredentialsRejected' });
        isTrue(r, 'Ready', 'PullSecretReady');
      }, { kstatus: 'Current', argo: 'Healthy', argoMessage: 'refreshing it fails: CredentialsRejected' });
    });
  });

  describe('ImageImport, and an EcrRegistry deleted while in use', () => {
    it('reports a Ready import, a failing one, and the registry held by the import', async () => {
      const repository = `team/app-${randomBytes(3).toString('hex')}`;
      await credentialsFor(newKey());
      await createRegistry(namespace, 'prod', spec());
      emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
      emulator.pushImage({ accountId: ACCOUNT, region: REGION, repository, tags: ['latest'] });
      await createImport('app', repository);
      await createImport('missing', `${repository}-missing`);

      await expectVerdict('ImageImport Ready', () => getImport('app'), (i) => {
        observed(i);
        isTrue(i, 'Ready', 'Imported');
      }, { kstatus: 'Current', argo: 'Healthy' });
      await expectVerdict('ImageImport Stalled: repository not found', () => getImport('missing'), (i) => {
        observed(i);
        isTrue(i, 'Stalled', 'RepositoryNotFound');
      }, { kstatus: 'Failed', argo: 'Degraded', argoMessage: 'RepositoryNotFound: ' });

      await deleteRegistry(namespace, 'prod');
      const held = await expectVerdict('EcrRegistry deleted while in use', () => getRegistry(namespace, 'prod'), (r) => {
        expect(r.metadata.deletionTimestamp).to.be.a('string');
        isTrue(r, 'Deleting', 'InUse');
      }, { kstatus: 'Terminating', argo: 'Progressing', argoMessage: 'Pending deletion' });
      // Argo CD answers a deletion itself; the script, run alone, says why it waits.
      const [report] = await statusReports([held]);
      expect(report!.lua).to.deep.include({ status: 'Progressing' });
      expect(report!.lua?.message).to.match(/^InUse: /);
    });
  });

  describe('ClusterEcrRegistry', () => {
    /** A label value unique to each test: its ClusterEcrRegistry selects only that test's namespaces. */
    let team: string;
    let teamNamespaces: string[];
    let clusterRegistries: string[];

    beforeEach(() => {
      team = `g${randomBytes(3).toString('hex')}`;
      teamNamespaces = [];
      clusterRegistries = [];
    });
    afterEach(async () => {
      const { custom } = adminClients();
      // Imports first: they hold a ClusterEcrRegistry's deletion. Then every registry is gone, finalized, before the next test.
      for (const teamNamespace of teamNamespaces) await custom.deleteCollectionNamespacedCustomObject(importPath(teamNamespace)).catch(() => undefined);
      for (const name of clusterRegistries) {
        await custom.deleteClusterCustomObject({ ...clusterRegistryPath, name }).catch(() => undefined);
        await eventually(async () => expect(await clusterRegistryGone(name), `ClusterEcrRegistry ${name} finalized`).to.equal(true), { timeoutMs: 15_000 });
      }
      for (const teamNamespace of teamNamespaces) await deleteTestNamespace(teamNamespace);
    });

    async function teamNamespace(): Promise<string> {
      const created = await createTestNamespace(team);
      teamNamespaces.push(created);
      await adminClients().core.patchNamespace({ name: created, body: { metadata: { labels: { team } } } }, mergePatch());
      return created;
    }

    /** Selects the namespaces labelled with this test's team; its credentials Secret lives in the test's own namespace. */
    async function createClusterRegistry(): Promise<ClusterEcrRegistry> {
      const name = `gitops-${team}`;
      clusterRegistries.push(name);
      const clusterSpec: ClusterEcrRegistrySpec = {
        registry: HOST,
        endpoint: emulator.url,
        credentials: { secretRef: { namespace, name: CREDENTIALS } },
        pullSecret: { name: CLUSTER_PULL_SECRET },
        namespaceSelector: { matchLabels: { team } },
      };
      const body = { apiVersion: GROUP_VERSION, kind: CLUSTER_ECR_REGISTRY.kind, metadata: { name }, spec: clusterSpec };
      return (await adminClients().custom.createClusterCustomObject({ ...clusterRegistryPath, body })) as ClusterEcrRegistry;
    }

    async function getClusterRegistry(name = `gitops-${team}`): Promise<ClusterEcrRegistry> {
      return (await adminClients().custom.getClusterCustomObject({ ...clusterRegistryPath, name })) as ClusterEcrRegistry;
    }

    async function clusterRegistryGone(name: string): Promise<boolean> {
      return getClusterRegistry(name).then(
        () => false,
        (error: { code?: number }) => error.code === 404,
      );
    }

    const servedIn = (count: number) => new RegExp(`^Pull secret ${CLUSTER_PULL_SECRET} in ${count} of ${count} selected namespaces, valid until \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z$`);

    it('is InProgress / Progressing as created, then Current / Healthy once its 3 labelled namespaces hold the pull secret', async () => {
      await credentialsFor(newKey());
      const selected = [await teamNamespace(), await teamNamespace(), await teamNamespace()];
      const created = await createClusterRegistry();
      await expectVerdict('created, not yet reconciled', async () => created, (r) => expect(r.status?.observedGeneration).to.equal(-1), {
        kstatus: 'InProgress',
        argo: 'Progressing',
        argoMessage: 'Waiting for the controller',
      });
      await expectVerdict('Ready in 3 labelled namespaces', () => getClusterRegistry(), (r) => {
        observed(r);
        isTrue(r, 'Ready', 'PullSecretReady');
        expect(r.status).to.include({ namespacesSelected: 3, namespacesReady: 3, namespacesFailed: 0 });
      }, { kstatus: 'Current', argo: 'Healthy', argoMessage: servedIn(3) });
      for (const teamNs of selected) expect(await readSecret(teamNs, CLUSTER_PULL_SECRET), `pull secret in ${teamNs}`).to.not.equal(undefined);
      expect(await readSecret(namespace, CLUSTER_PULL_SECRET), 'a namespace without the label').to.equal(undefined);
    });

    it('is Failed / Degraded when a Secret it does not own takes the name in one namespace, and still serves the others', async () => {
      await credentialsFor(newKey());
      const fine = [await teamNamespace(), await teamNamespace()];
      const taken = await teamNamespace();
      await adminClients().core.createNamespacedSecret({ namespace: taken, body: { metadata: { name: CLUSTER_PULL_SECRET }, stringData: { note: 'not yours' } } });
      await createClusterRegistry();
      await expectVerdict('conflict in 1 of 3 namespaces', () => getClusterRegistry(), (r) => {
        observed(r);
        isTrue(r, 'Stalled', 'PullSecretConflict');
        expect(conditionOf(r, 'Ready')).to.include({ status: 'False', reason: 'NamespacesNotReady' });
        expect(r.status).to.include({ namespacesSelected: 3, namespacesReady: 2, namespacesFailed: 1 });
      }, { kstatus: 'Failed', argo: 'Degraded', argoMessage: new RegExp(`^PullSecretConflict: .*; not served in 1 of 3 selected namespaces: ${taken} \\(PullSecretConflict\\)$`) });
      for (const teamNs of fine) {
        const secret = await readSecret(teamNs, CLUSTER_PULL_SECRET);
        expect(secret?.metadata?.ownerReferences?.[0], `pull secret in ${teamNs}`).to.include({ kind: CLUSTER_ECR_REGISTRY.kind, name: `gitops-${team}` });
      }
    });

    it('stays Current / Healthy while a refresh fails and the old token is still valid (Refreshed=False)', async () => {
      // 30-second tokens: refreshed after about 15 s, so the failing refresh comes while the token has ~15 s left.
      emulator.tokenLifetimeSeconds = 30;
      const key = newKey();
      await credentialsFor(key);
      await teamNamespace();
      await teamNamespace();
      await createClusterRegistry();
      await eventually(async () => isTrue(await getClusterRegistry(), 'Ready'), { timeoutMs: 30_000 });
      emulator.removeAccessKey(key.accessKeyId);
      await expectVerdict('refresh failing, old token still valid', () => getClusterRegistry(), (r) => {
        observed(r);
        expect(conditionOf(r, 'Refreshed'), 'Refreshed').to.include({ status: 'False', reason: 'CredentialsRejected' });
        isTrue(r, 'Ready', 'PullSecretReady');
      }, { kstatus: 'Current', argo: 'Healthy', argoMessage: /^Pull secret ecr-cluster-pull in 2 of 2 selected namespaces, valid until .+, but refreshing it fails: CredentialsRejected: / });
    });

    it('is Terminating / Progressing when deleted while an ImageImport uses it, and goes once the import does', async () => {
      const repository = `team/app-${randomBytes(3).toString('hex')}`;
      await credentialsFor(newKey());
      emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
      emulator.pushImage({ accountId: ACCOUNT, region: REGION, repository, tags: ['latest'] });
      const selected = await teamNamespace();
      const { metadata } = await createClusterRegistry();
      const name = metadata.name!;
      await createImport('app', repository, { kind: 'ClusterEcrRegistry', name }, selected);
      await expectVerdict('ImageImport through a ClusterEcrRegistry Ready', () => getImport('app', selected), (i) => {
        observed(i);
        isTrue(i, 'Ready', 'Imported');
      }, { kstatus: 'Current', argo: 'Healthy' });

      await adminClients().custom.deleteClusterCustomObject({ ...clusterRegistryPath, name });
      const held = await expectVerdict('deleted while an ImageImport uses it', () => getClusterRegistry(), (r) => {
        expect(r.metadata.deletionTimestamp).to.be.a('string');
        isTrue(r, 'Deleting', 'InUse');
      }, { kstatus: 'Terminating', argo: 'Progressing', argoMessage: 'Pending deletion' });
      // Argo CD answers a deletion itself; the script, run alone, says why it waits.
      const [report] = await statusReports([held]);
      expect(report!.lua).to.deep.equal({ status: 'Progressing', message: `InUse: Deletion waits for ImageImports that use this registry: ${selected}/app` });
      expect(await readSecret(selected, CLUSTER_PULL_SECRET), 'the pull secret while the registry is in use').to.not.equal(undefined);

      await adminClients().custom.deleteNamespacedCustomObject({ ...importPath(selected), name: 'app' });
      await eventually(async () => {
        expect(await clusterRegistryGone(name), 'ClusterEcrRegistry finalized').to.equal(true);
        expect(await readSecret(selected, CLUSTER_PULL_SECRET), 'pull secret removed').to.equal(undefined);
      });
    });
  });
});

function printTable(rows: readonly TableRow[]): void {
  if (rows.length === 0) return;
  const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const lines = [
    '| state | kind | kstatus | Argo CD health | Argo CD message |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${cell(row.state)}${row.ok ? '' : ' ✗'} | ${row.kind} | ${cell(row.kstatus)} | ${cell(row.argo)} | ${cell(row.argoMessage)} |`),
  ];
  process.stderr.write(`\n      GitOps status of live objects:\n${lines.map((line) => `      ${line}`).join('\n')}\n`);
}
