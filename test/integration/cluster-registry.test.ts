import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { ClusterEcrRegistry, ClusterEcrRegistrySpec } from '../../src/api/cluster-ecr-registry.ts';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY, IMAGE_IMPORT } from '../../src/api/group.ts';
import type { ImageImport } from '../../src/api/image-import.ts';
import { mergePatch } from '../../src/kube/clients.ts';
import { findCondition } from '../../src/runtime/conditions.ts';
import { type AccessKey, EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { adminClients, createCredentialsSecret, listEvents, pullSecretPassword, readSecret } from '../support/fixtures.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const ACCOUNT = '444455556666';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const CREDENTIALS = 'cluster-aws-keys';
const PULL_SECRET = 'ecr-cluster-pull';
const path = { group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural };

describe('ClusterEcrRegistry controller', function () {
  this.timeout(120_000);
  let emulator: EcrEmulator;
  let operator: TestOperator;
  /** Where the keys live: a namespace no team can read. */
  let keysNamespace: string;
  /** A label value unique to this test, so the registry selects only this test's namespaces. */
  let team: string;
  let key: AccessKey;
  const namespaces: string[] = [];
  const registries: string[] = [];
  const figures: string[] = [];

  before(async () => {
    emulator = await EcrEmulator.start();
    operator = await startTestOperator({ allowedEndpoints: [emulator.url] });
    keysNamespace = await createTestNamespace('operator-keys');
  });
  after(async () => {
    if (figures.length > 0) process.stderr.write(`      figures:\n${figures.map((f) => `        ${f}\n`).join('')}`);
    await operator?.stop();
    await emulator?.stop();
    await deleteTestNamespace(keysNamespace);
  });
  beforeEach(async () => {
    team = `t${randomBytes(3).toString('hex')}`;
    emulator.tokenLifetimeSeconds = 12 * 60 * 60;
    emulator.clearFaults();
    key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    await adminClients()
      .core.deleteNamespacedSecret({ namespace: keysNamespace, name: CREDENTIALS })
      .catch(() => undefined);
    await createCredentialsSecret(keysNamespace, CREDENTIALS, { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey });
  });
  afterEach(async () => {
    // Deleting them stops their short-lived tokens from rotating under later tests; a bare apiserver never empties a namespace.
    const { custom } = adminClients();
    for (const name of registries.splice(0)) await custom.deleteClusterCustomObject({ ...path, name }).catch(() => undefined);
    for (const namespace of namespaces.splice(0)) await deleteTestNamespace(namespace);
  });

  async function teamNamespace(labels: Record<string, string> = { team }): Promise<string> {
    const namespace = await createTestNamespace(team);
    namespaces.push(namespace);
    if (Object.keys(labels).length > 0) await labelNamespace(namespace, labels);
    return namespace;
  }

  async function labelNamespace(namespace: string, labels: Record<string, string | null>) {
    await adminClients().core.patchNamespace({ name: namespace, body: { metadata: { labels } } }, mergePatch());
  }

  async function createClusterRegistry(name: string, extra: Partial<ClusterEcrRegistrySpec> = {}): Promise<void> {
    registries.push(name);
    const spec: ClusterEcrRegistrySpec = {
      registry: HOST,
      endpoint: emulator.url,
      credentials: { secretRef: { namespace: keysNamespace, name: CREDENTIALS } },
      pullSecret: { name: PULL_SECRET },
      namespaceSelector: { matchLabels: { team } },
      ...extra,
    };
    await adminClients().custom.createClusterCustomObject({ ...path, body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: CLUSTER_ECR_REGISTRY.kind, metadata: { name }, spec } });
  }

  async function getClusterRegistry(name: string): Promise<ClusterEcrRegistry> {
    return (await adminClients().custom.getClusterCustomObject({ ...path, name })) as ClusterEcrRegistry;
  }

  async function registryAccepts(password: string): Promise<number> {
    const auth = Buffer.from(`AWS:${password}`).toString('base64');
    const response = await fetch(`${emulator.registryUrl(ACCOUNT, REGION)}/v2/`, { headers: { authorization: `Basic ${auth}` } });
    await response.arrayBuffer();
    return response.status;
  }

  /** Polls often: the time to a working pull secret is what is measured. */
  async function workingPullSecret(namespace: string, timeoutMs = 10_000): Promise<string> {
    return eventually(
      async () => {
        const secret = await readSecret(namespace, PULL_SECRET);
        expect(secret, `pull secret in ${namespace}`).to.not.equal(undefined);
        const password = pullSecretPassword(secret!, HOST);
        expect(await registryAccepts(password)).to.equal(200);
        return password;
      },
      { timeoutMs, intervalMs: 25 },
    );
  }

  it('serves the namespaces its label selector matches, and one created with the label within 2 s', async () => {
    const existing = [await teamNamespace(), await teamNamespace(), await teamNamespace()];
    const other = await teamNamespace({});
    await createClusterRegistry('by-label');
    for (const namespace of existing) await workingPullSecret(namespace);
    const ready = await eventually(async () => {
      const registry = await getClusterRegistry('by-label');
      expect(findCondition(registry.status?.conditions, 'Ready')).to.include({ status: 'True', reason: 'PullSecretReady' });
      expect(registry.status).to.include({ namespacesSelected: 3, namespacesReady: 3, namespacesFailed: 0, pullSecretName: PULL_SECRET, observedGeneration: 1 });
      return registry;
    });
    expect(ready.status?.expirationTime).to.be.a('string');
    expect(await readSecret(other, PULL_SECRET), 'a namespace without the label').to.equal(undefined);
    expect(emulator.callCount({ action: 'GetAuthorizationToken', accessKeyId: key.accessKeyId }), 'one token for every namespace').to.equal(1);

    const started = Date.now();
    const fourth = await teamNamespace();
    await workingPullSecret(fourth, 2_000);
    const tookMs = Date.now() - started;
    figures.push(`a new labelled namespace held a working pull secret ${tookMs} ms after it was created (label set in a second request)`);
    expect(emulator.callCount({ action: 'GetAuthorizationToken', accessKeyId: key.accessKeyId }), 'the new namespace reuses the token').to.equal(1);
    await eventually(async () => expect((await getClusterRegistry('by-label')).status).to.include({ namespacesSelected: 4, namespacesReady: 4 }));
  });

  it('removes the pull secret and its ServiceAccount entry within 2 s when the label goes, and never writes to an excluded namespace', async () => {
    const { core } = adminClients();
    const kept = await teamNamespace();
    const leaving = await teamNamespace();
    const excluded = await teamNamespace();
    for (const namespace of [kept, leaving, excluded]) {
      await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' }, imagePullSecrets: [{ name: 'theirs' }] } });
    }
    await createClusterRegistry('unselect', { pullSecret: { name: PULL_SECRET, serviceAccounts: [{ name: 'app' }] }, excludeNamespaces: [excluded] });
    const entries = async (namespace: string) => ((await core.readNamespacedServiceAccount({ namespace, name: 'app' })).imagePullSecrets ?? []).map((r) => r.name);
    await workingPullSecret(leaving);
    await eventually(async () => expect(await entries(leaving)).to.deep.equal(['theirs', PULL_SECRET]));

    const started = Date.now();
    await labelNamespace(leaving, { team: null });
    await eventually(
      async () => {
        expect(await readSecret(leaving, PULL_SECRET)).to.equal(undefined);
        expect(await entries(leaving)).to.deep.equal(['theirs']);
      },
      { timeoutMs: 2_000, intervalMs: 25 },
    );
    figures.push(`label removed → pull secret and ServiceAccount entry gone in ${Date.now() - started} ms`);
    expect(await entries(kept)).to.deep.equal(['theirs', PULL_SECRET]);
    expect(await readSecret(excluded, PULL_SECRET), 'excluded namespace').to.equal(undefined);
    expect(await entries(excluded), 'excluded namespace').to.deep.equal(['theirs']);
  });

  it('leaves a Secret it does not own untouched, lists that namespace with the reason, and serves the others', async () => {
    const { core } = adminClients();
    const fine = [await teamNamespace(), await teamNamespace()];
    const taken = await teamNamespace();
    const foreign = await core.createNamespacedSecret({ namespace: taken, body: { metadata: { name: PULL_SECRET }, stringData: { note: 'not yours' } } });
    await createClusterRegistry('conflicted');
    for (const namespace of fine) await workingPullSecret(namespace);
    const registry = await eventually(async () => {
      const r = await getClusterRegistry('conflicted');
      expect(r.status).to.include({ namespacesSelected: 3, namespacesReady: 2, namespacesFailed: 1 });
      return r;
    });
    expect(registry.status?.failedNamespaces).to.have.length(1);
    expect(registry.status?.failedNamespaces?.[0]).to.include({ namespace: taken, reason: 'PullSecretConflict' });
    expect(findCondition(registry.status?.conditions, 'Ready')).to.include({ status: 'False', reason: 'NamespacesNotReady' });
    expect(findCondition(registry.status?.conditions, 'Stalled')).to.include({ status: 'True', reason: 'PullSecretConflict' });
    const after = await core.readNamespacedSecret({ namespace: taken, name: PULL_SECRET });
    expect(after.metadata?.resourceVersion).to.equal(foreign.metadata?.resourceVersion);
    expect(after.data).to.deep.equal(foreign.data);
    await operator.operator.events.flush();
    const events = await listEvents('default');
    expect(events.some((e) => e.regarding?.name === 'conflicted' && e.type === 'Warning' && e.reason === 'PullSecretConflict')).to.equal(true);
  });

  it('imports through the ClusterEcrRegistry in a selected namespace, reports one it does not select, and holds its deletion while used', async () => {
    const { custom } = adminClients();
    emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: 'team/app' });
    emulator.pushImage({ accountId: ACCOUNT, region: REGION, repository: 'team/app', tags: ['latest'] });
    const selected = await teamNamespace();
    const unselected = await teamNamespace({});
    await createClusterRegistry('importing');
    await workingPullSecret(selected);
    const importPath = (namespace: string) => ({ group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, namespace });
    const body = { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: IMAGE_IMPORT.kind, metadata: { name: 'app' }, spec: { registryRef: { kind: 'ClusterEcrRegistry', name: 'importing' }, repository: 'team/app', tags: ['latest'] } };
    await custom.createNamespacedCustomObject({ ...importPath(selected), body });
    await custom.createNamespacedCustomObject({ ...importPath(unselected), body });
    const ready = (namespace: string) => async () =>
      findCondition(((await custom.getNamespacedCustomObject({ ...importPath(namespace), name: 'app' })) as ImageImport).status?.conditions, 'Ready');
    await eventually(async () => expect(await ready(selected)()).to.include({ status: 'True', reason: 'Imported' }));
    await eventually(async () => expect(await ready(unselected)()).to.include({ status: 'False', reason: 'RegistryNotServingNamespace' }));

    // Deleting the ClusterEcrRegistry waits for the import that uses it; the pull secret stays meanwhile.
    await custom.deleteClusterCustomObject({ ...path, name: 'importing' });
    await eventually(async () => {
      const registry = await getClusterRegistry('importing');
      expect(findCondition(registry.status?.conditions, 'Deleting')).to.include({ status: 'True', reason: 'InUse' });
      // Every import that names it holds it, the one in an unselected namespace too.
      expect(registry.status?.inUseBy).to.have.deep.members([
        { namespace: selected, name: 'app' },
        { namespace: unselected, name: 'app' },
      ]);
    });
    expect(await readSecret(selected, PULL_SECRET)).to.not.equal(undefined);
    await custom.deleteNamespacedCustomObject({ ...importPath(selected), name: 'app' });
    await custom.deleteNamespacedCustomObject({ ...importPath(unselected), name: 'app' });
    await eventually(async () => {
      expect(await readSecret(selected, PULL_SECRET)).to.equal(undefined);
      const gone = await getClusterRegistry('importing').then(
        () => false,
        (error: { code?: number }) => error.code === 404,
      );
      expect(gone, 'ClusterEcrRegistry finalized').to.equal(true);
    });
  });

  it('keeps serving the last valid token, to a namespace selected since as well, while the keys Secret is missing', async () => {
    const first = await teamNamespace();
    await createClusterRegistry('keys-gone');
    const password = await workingPullSecret(first);
    await adminClients().core.deleteNamespacedSecret({ namespace: keysNamespace, name: CREDENTIALS });
    await eventually(async () => {
      const registry = await getClusterRegistry('keys-gone');
      expect(findCondition(registry.status?.conditions, 'Refreshed')).to.include({ status: 'False', reason: 'CredentialsSecretNotFound' });
    });
    const second = await teamNamespace();
    expect(await workingPullSecret(second)).to.equal(password);
    const registry = await eventually(async () => {
      const r = await getClusterRegistry('keys-gone');
      expect(r.status).to.include({ namespacesSelected: 2, namespacesReady: 2 });
      return r;
    });
    expect(findCondition(registry.status?.conditions, 'Ready')).to.include({ status: 'True' });
    expect(findCondition(registry.status?.conditions, 'Stalled')).to.equal(undefined);
  });

  it('rotates 5-second tokens in 10 namespaces with one GetAuthorizationToken per refresh and no expired sample', async () => {
    emulator.tokenLifetimeSeconds = 5;
    const selected = await Promise.all(Array.from({ length: 10 }, () => teamNamespace()));
    await createClusterRegistry('rotating');
    for (const namespace of selected) await workingPullSecret(namespace);
    const before = emulator.callCount({ action: 'GetAuthorizationToken', accessKeyId: key.accessKeyId });
    const seen = new Set<string>();
    let expiredSamples = 0;
    let samples = 0;
    const deadline = Date.now() + 9_000;
    while (Date.now() < deadline) {
      for (const namespace of selected) {
        const secret = await readSecret(namespace, PULL_SECRET);
        const password = pullSecretPassword(secret!, HOST);
        seen.add(password);
        samples += 1;
        if ((await registryAccepts(password)) !== 200) expiredSamples += 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const calls = emulator.callCount({ action: 'GetAuthorizationToken', accessKeyId: key.accessKeyId }) - before;
    figures.push(`5 s tokens × 10 namespaces: ${seen.size - 1} rotations seen, ${calls} GetAuthorizationToken calls, ${samples} samples, ${expiredSamples} rejected`);
    expect(expiredSamples, 'samples the registry rejected').to.equal(0);
    expect(seen.size - 1, 'rotations').to.be.at.least(3);
    // One call per refresh for all ten namespaces: each new token seen cost one call (one more may be minted and not sampled yet).
    expect(calls).to.be.within(seen.size - 1, seen.size);
  });
});
