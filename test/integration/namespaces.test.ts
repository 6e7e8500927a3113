import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { type KubernetesObject, RbacAuthorizationV1Api, type V1ClusterRole, type V1Deployment, type V1PolicyRule, type V1Role, type V1RoleBinding } from '@kubernetes/client-node';
import { expect } from 'chai';
import { load, loadAll } from 'js-yaml';
import type { EcrRegistrySpec } from '../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, ECR_REGISTRY, GROUP_VERSION, IMAGE_IMPORT } from '../../src/api/group.ts';
import type { ImageImport } from '../../src/api/image-import.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { type RunningOperator, startOperator } from '../../src/operator.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { adminClients, createCredentialsSecret, createRegistry, deleteRegistry, getRegistry, readSecret, readyCondition, registryGone } from '../support/fixtures.ts';

const REPOSITORY_ROOT = path.resolve(import.meta.dirname, '../..');
const COMPONENT_DIR = path.join(REPOSITORY_ROOT, 'deploy', 'components', 'namespaced');
const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const CREDENTIALS = 'aws-keys';

/** The Role and RoleBinding the namespaced component puts in each watched namespace, as shipped. */
async function componentRole(): Promise<{ role: V1Role; binding: V1RoleBinding }> {
  const objects = loadAll(await fs.readFile(path.join(COMPONENT_DIR, 'role', 'role.yaml'), 'utf8')) as KubernetesObject[];
  const role = objects.find((o) => o.kind === 'Role') as V1Role | undefined;
  const binding = objects.find((o) => o.kind === 'RoleBinding') as V1RoleBinding | undefined;
  if (!role || !binding) throw new Error('deploy/components/namespaced/role/role.yaml must hold a Role and a RoleBinding');
  return { role, binding };
}

/**
 * The operator started with --namespaces=<a>,<b>, as a ServiceAccount that holds nothing but the
 * namespaced component's Role in <a> and <b>: a list or watch outside them would be refused (and
 * would keep its cache from ever syncing).
 */
describe('an operator that watches a list of namespaces', function () {
  this.timeout(90_000);
  let emulator: EcrEmulator;
  let operator: RunningOperator;
  const logLines: string[] = [];
  let watched: [string, string];
  let unwatched: string;
  let identityNamespace: string;
  let identityKubeconfig: string;

  before(async () => {
    emulator = await EcrEmulator.start();
    watched = [await createTestNamespace('watched-a'), await createTestNamespace('watched-b')];
    unwatched = await createTestNamespace('unwatched-c');
    identityNamespace = await createTestNamespace('namespaced-operator');
    const identity = await testEnv().serviceAccountKubeConfig(identityNamespace, 'operator');
    identityKubeconfig = identity.path;
    const { role, binding } = await componentRole();
    const rbac = testEnv().kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    for (const namespace of watched) {
      await rbac.createNamespacedRole({ namespace, body: { ...role, metadata: { ...role.metadata, namespace } } });
      const subjects = [{ kind: 'ServiceAccount', name: 'operator', namespace: identityNamespace }];
      await rbac.createNamespacedRoleBinding({ namespace, body: { ...binding, metadata: { ...binding.metadata, namespace }, subjects } });
    }
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logLines.push(chunk.toString('utf8'));
        if (process.env.OPERATOR_LOGS === '1') process.stderr.write(chunk);
        callback();
      },
    });
    operator = startOperator({
      kubeConfig: identity.kubeConfig,
      settings: { workers: 2, allowedEndpoints: [emulator.url], namespaces: watched },
      logger: createLogger({ level: 'debug', stream: sink }),
    });
    await operator.waitForSync(AbortSignal.timeout(30_000));
  });

  after(async () => {
    for (const namespace of [...(watched ?? []), unwatched]) {
      if (!namespace) continue;
      const { items } = (await adminClients().custom.listNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, namespace })) as { items: ImageImport[] };
      for (const item of items) await adminClients().custom.deleteNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, namespace, name: item.metadata.name! });
      await deleteRegistry(namespace, 'prod').catch(() => undefined);
    }
    if (watched) await eventually(async () => expect(await Promise.all(watched.map((ns) => registryGone(ns, 'prod')))).to.deep.equal([true, true]), { timeoutMs: 20_000 }).catch(() => undefined);
    await operator?.stop(5_000);
    await emulator?.stop();
    for (const namespace of [...(watched ?? []), unwatched, identityNamespace]) if (namespace) await deleteTestNamespace(namespace);
  });

  async function registryIn(namespace: string): Promise<void> {
    const key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    await createCredentialsSecret(namespace, CREDENTIALS, { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey });
    const spec: EcrRegistrySpec = { registry: HOST, endpoint: emulator.url, credentials: { secretRef: { name: CREDENTIALS } } };
    await createRegistry(namespace, 'prod', spec);
  }

  const refusals = () => logLines.filter((line) => /forbidden|\b403\b/i.test(line));

  it('serves the EcrRegistries of every watched namespace and never looks at another', async () => {
    // The unwatched namespace's registry comes first, so it would have been seen by now if it could be.
    await registryIn(unwatched);
    for (const namespace of watched) await registryIn(namespace);
    for (const namespace of watched) {
      await eventually(async () => expect(readyCondition(await getRegistry(namespace, 'prod')), namespace).to.include({ status: 'True' }), { timeoutMs: 30_000, message: `the registry in ${namespace} is Ready` });
      expect(await readSecret(namespace, 'prod'), `pull secret in ${namespace}`).to.not.equal(undefined);
    }

    const ignored = await getRegistry(unwatched, 'prod');
    expect(ignored.status?.observedGeneration ?? -1, 'the unwatched registry has no status from the operator').to.equal(-1);
    expect(ignored.status?.conditions ?? [], 'no conditions').to.deep.equal([]);
    expect(ignored.metadata.finalizers ?? [], 'no finalizer').to.deep.equal([]);
    expect(await readSecret(unwatched, 'prod'), 'no pull secret in the unwatched namespace').to.equal(undefined);
    // Not for want of asking: the operator's identity may not even read that namespace, and it never tried.
    const canI = await testEnv().kubectl(['auth', 'can-i', 'list', 'secrets', '-n', unwatched], { kubeconfig: identityKubeconfig });
    expect(canI.stdout.trim()).to.equal('no');
    expect(refusals(), 'requests the API server refused').to.deep.equal([]);
  });

  it('imports an image through a registry of a watched namespace', async () => {
    const [, second] = watched;
    emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: 'team/app' });
    emulator.pushImage({ accountId: ACCOUNT, region: REGION, repository: 'team/app', tags: ['latest'] });
    await eventually(async () => expect(readyCondition(await getRegistry(second, 'prod'))).to.include({ status: 'True' }), { timeoutMs: 30_000 });
    const importPath = { group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, namespace: second };
    await adminClients().custom.createNamespacedCustomObject({
      ...importPath,
      body: { apiVersion: GROUP_VERSION, kind: IMAGE_IMPORT.kind, metadata: { name: 'app' }, spec: { registryRef: { name: 'prod' }, repository: 'team/app' } },
    });
    await eventually(async () => expect(readyCondition((await adminClients().custom.getNamespacedCustomObject({ ...importPath, name: 'app' })) as ImageImport)).to.include({ status: 'True' }), {
      timeoutMs: 30_000,
      message: 'the ImageImport is Ready',
    });
    expect(refusals()).to.deep.equal([]);
  });

  it('lets a registry with nothing to undo go at once, its pull secret left to the garbage collector', async () => {
    const [first] = watched;
    await eventually(async () => expect(readyCondition(await getRegistry(first, 'prod'))).to.include({ status: 'True' }), { timeoutMs: 30_000 });
    const registry = await getRegistry(first, 'prod');
    // No ServiceAccount entries and no ImageImport: nothing garbage collection cannot clean, so no finalizer.
    expect(registry.metadata.finalizers ?? [], 'no finalizer').to.deep.equal([]);
    await deleteRegistry(first, 'prod');
    expect(await registryGone(first, 'prod'), 'gone at once').to.equal(true);
    // This control plane runs no garbage collector; a cluster's deletes the Secret its owner reference names.
    const owners = (await readSecret(first, 'prod'))?.metadata?.ownerReferences ?? [];
    expect(owners).to.deep.equal([{ apiVersion: GROUP_VERSION, kind: ECR_REGISTRY.kind, name: 'prod', uid: registry.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    expect(refusals()).to.deep.equal([]);
  });

  it('serves no ClusterEcrRegistry', () => {
    expect(operator.clusterRegistries).to.equal(undefined);
  });
});

describe('the namespaced install (deploy/components/namespaced), rendered by kubectl kustomize', () => {
  let tempDir: string;
  let rendered: KubernetesObject[];

  before(async () => {
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecr-operator-namespaced-'));
    // An overlay as the component's own comment shows it; kustomize takes bases by relative path only.
    const overlay = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [path.relative(tempDir, path.join(REPOSITORY_ROOT, 'deploy'))],
      components: [path.relative(tempDir, COMPONENT_DIR)],
    };
    await fs.writeFile(path.join(tempDir, 'kustomization.yaml'), JSON.stringify(overlay, null, 2));
    const result = await testEnv().kubectl(['kustomize', tempDir]);
    expect(result.code, result.stderr).to.equal(0);
    rendered = loadAll(result.stdout) as KubernetesObject[];
  });

  after(async () => {
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
  });

  const ofKind = <T extends KubernetesObject>(kind: string) => rendered.filter((o) => o.kind === kind) as T[];
  const grants = (rules: V1PolicyRule[] | undefined, resource: string) => (rules ?? []).some((rule) => rule.resources?.includes(resource));

  /** The namespaces on the operator's --namespaces flag in the rendered Deployment. */
  function flagNamespaces(): string[] {
    const [deployment] = ofKind<V1Deployment>('Deployment');
    const args = deployment?.spec?.template.spec?.containers[0]?.args ?? [];
    const flags = args.filter((arg) => arg.startsWith('--namespaces='));
    expect(flags, '--namespaces given once').to.have.length(1);
    return flags[0]!.slice('--namespaces='.length).split(',');
  }

  it('grants the operator no ClusterRole or ClusterRoleBinding of its own, so no Secret outside its namespaces', () => {
    expect(ofKind('ClusterRole').map((o) => o.metadata?.name), 'ClusterRoles').to.deep.equal([]);
    expect(ofKind('ClusterRoleBinding').map((o) => o.metadata?.name), 'ClusterRoleBindings').to.deep.equal([]);
  });

  it('holds a Role and a RoleBinding for the operator in every namespace on --namespaces, and Secrets in no other', () => {
    const namespaces = flagNamespaces();
    expect(namespaces).to.deep.equal(['team-a', 'team-b']);
    const secretRoles = ofKind<V1Role>('Role').filter((role) => grants(role.rules, 'secrets'));
    expect(secretRoles.map((role) => role.metadata?.namespace).sort(), 'namespaces where a Role grants Secrets').to.deep.equal(namespaces);
    for (const namespace of namespaces) {
      const binding = ofKind<V1RoleBinding>('RoleBinding').find((b) => b.metadata?.namespace === namespace);
      expect(binding?.roleRef, `RoleBinding in ${namespace}`).to.include({ kind: 'Role', name: 'ecr-pullsecrets-operator' });
      expect(binding?.subjects, `RoleBinding subjects in ${namespace}`).to.deep.equal([{ kind: 'ServiceAccount', name: 'ecr-pullsecrets-operator', namespace: 'ecr-pullsecrets-system' }]);
    }
    // What the rest of deploy/ installs is still there.
    expect(ofKind<V1Role>('Role').some((role) => role.metadata?.name === 'ecr-pullsecrets-operator-leader-election' && role.metadata.namespace === 'ecr-pullsecrets-system')).to.equal(true);
    expect(ofKind('ValidatingAdmissionPolicy').map((o) => o.metadata?.name)).to.deep.equal(['ecr-pullsecrets-operator-guardrails']);
  });

  it("grants in each namespace exactly the ClusterRole's rules for namespaced resources", async () => {
    const clusterRole = (loadAll(await fs.readFile(path.join(REPOSITORY_ROOT, 'deploy', 'rbac.yaml'), 'utf8')) as KubernetesObject[]).find((o) => o.kind === 'ClusterRole') as V1ClusterRole;
    // Cluster-scoped resources, which a Role cannot grant: the operator needs them only for ClusterEcrRegistries.
    const clusterScoped = new Set(['clusterecrregistries', 'clusterecrregistries/status', 'clusterecrregistries/finalizers', 'namespaces']);
    const namespaced = (clusterRole.rules ?? []).filter((rule) => !(rule.resources ?? []).every((resource) => clusterScoped.has(resource)));
    expect((clusterRole.rules ?? []).length - namespaced.length, 'cluster-scoped rules left out').to.equal(4);
    const canonical = (rules: V1PolicyRule[]) => rules.map((r) => JSON.stringify({ apiGroups: r.apiGroups, resources: r.resources, verbs: r.verbs })).sort();
    for (const role of ofKind<V1Role>('Role').filter((r) => r.metadata?.name === 'ecr-pullsecrets-operator')) {
      expect(canonical(role.rules ?? []), `Role in ${role.metadata?.namespace}`).to.deep.equal(canonical(namespaced));
    }
  });

  it('is a kustomize Component whose folders, one per namespace, match --namespaces', async () => {
    const component = load(await fs.readFile(path.join(COMPONENT_DIR, 'kustomization.yaml'), 'utf8')) as { kind?: string; resources?: string[] };
    expect(component.kind).to.equal('Component');
    expect(component.resources, 'one folder per watched namespace').to.deep.equal(flagNamespaces());
  });
});
