import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoordinationV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ImageImport } from '../../src/api/image-import.ts';
import { API_GROUP, API_VERSION, IMAGE_IMPORT } from '../../src/api/group.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { adminClients, getRegistry, pullSecretPassword, readSecret, readyCondition, registryGone } from '../support/fixtures.ts';
import { ApiRecorder } from './support/api-recorder.ts';
import { type ImageLayout, sharedImageLayout } from '../support/dockerfile.ts';
import { killAllOperatorProcesses, type OperatorProcess, startOperatorProcess } from './support/operator-process.ts';
import { auditRequests, NEEDED_WITHOUT_A_REQUEST, type Permission, permissionsOf, unusedPermissions, usageLines } from './support/rbac-audit.ts';
import {
  bindMoreServiceAccounts,
  containerEnv,
  deployedOperator,
  installShippedManifests,
  kubectlOk,
  LEASE_NAME,
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  REPOSITORY_ROOT,
  readSamples,
  sampleClusterRegistry,
  type SamplesInfo,
  withFlags,
  writeSamplesOverlay,
} from './support/shipped-install.ts';

/**
 * The shipped ClusterRole and Role are no wider than the operator needs, shown both ways in one run:
 * - sufficient: the operator runs every code path that calls the API (create, refresh, bind, unbind,
 *   repeated Events, deletion, leader election) and the API server refuses none of its requests;
 * - necessary: every single permission (one verb on one resource) is used by at least one of those
 *   requests. The permissions do not overlap, so without any one of them one of those requests is
 *   refused, and this test fails (operator.test.ts also fails on any "forbidden" the operator logs).
 * The requests are recorded by a proxy that forwards the operator's own ServiceAccount token.
 */
describe('the shipped RBAC', function () {
  this.timeout(150_000);
  let layout: ImageLayout;
  let emulator: EcrEmulator;
  let recorder: ApiRecorder;
  let samples: SamplesInfo;
  let namespace: string;
  let tempDir: string;
  let operator: OperatorProcess | undefined;
  const figures: string[] = [];

  before(async function () {
    this.timeout(300_000);
    layout = await sharedImageLayout(REPOSITORY_ROOT);
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ecr-operator-e2e-rbac-'));
    // 6-second tokens: refreshes (Secret updates) and reconciles come every few seconds.
    emulator = await EcrEmulator.start({ tokenLifetimeSeconds: 6 });
    recorder = await ApiRecorder.start({ apiServer: testEnv().server, caCertPem: testEnv().caCertPem });
  });

  after(async function () {
    this.timeout(60_000);
    await killAllOperatorProcesses();
    await recorder?.stop();
    await emulator?.stop();
    await layout?.remove();
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
    if (namespace) await deleteTestNamespace(namespace);
    if (figures.length > 0) process.stderr.write(`      figures:\n${figures.map((f) => `        ${f}`).join('\n')}\n`);
  });

  it('is used in full by a run that exercises every API call, and refuses none of them', async () => {
    await installShippedManifests();
    const { container } = await deployedOperator();
    const serviceAccount = await testEnv().serviceAccountKubeConfig(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT);
    const token = serviceAccount.kubeConfig.getCurrentUser()?.token;
    if (!token) throw new Error('the ServiceAccount kubeconfig has no token');
    const kubeconfig = await recorder.writeKubeconfig(path.join(tempDir, 'recorded.kubeconfig'), token);

    samples = await readSamples();
    const { accountId, region } = samples;
    const key = emulator.addAccessKey({ accountId, region });
    emulator.createRepository({ accountId, region, name: samples.imageImport.spec.repository });
    emulator.pushImage({ accountId, region, repository: samples.imageImport.spec.repository, tags: samples.imageImport.spec.tags ?? ['latest'] });
    namespace = await createTestNamespace('rbac-audit');
    const overlay = await writeSamplesOverlay(path.join(tempDir, 'samples'), samples, { namespace, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, endpoint: emulator.url });
    // No Lease yet, so the first replica creates it, as on a fresh install.
    await testEnv()
      .kubeConfig()
      .makeApiClient(CoordinationV1Api)
      .deleteNamespacedLease({ namespace: OPERATOR_NAMESPACE, name: LEASE_NAME })
      .catch(() => undefined);

    const name = 'ecr-pullsecrets-operator-audit';
    const args = withFlags(container.args ?? [], {
      'metrics-bind-address': '127.0.0.1:0',
      'health-probe-bind-address': '127.0.0.1:0',
      kubeconfig,
      'allowed-endpoints': emulator.url,
    });
    operator = await startOperatorProcess({ name, layout, args, env: containerEnv(container, name) });
    await operator.waitForLog((l) => l.message === 'caches synced; reconciling', 30_000, 'caches synced');

    // Create: pull secret, ServiceAccount binding, finalizer, status, Events, the import.
    await kubectlOk(['apply', '-k', overlay]);
    const registryName = samples.registry.metadata.name!;
    await eventually(async () => expect(readyCondition(await getRegistry(namespace, registryName))).to.include({ status: 'True' }), { timeoutMs: 30_000, message: 'the EcrRegistry is Ready' });
    await eventually(
      async () => {
        const importPath = { group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, namespace, name: samples.imageImport.metadata.name! };
        expect(readyCondition((await adminClients().custom.getNamespacedCustomObject(importPath)) as ImageImport)).to.include({ status: 'True' });
      },
      { timeoutMs: 30_000, message: 'the ImageImport is Ready' },
    );

    // Refresh: the token in the Secret is replaced (an update), then the next refresh is seconds away.
    const password = async () => pullSecretPassword((await readSecret(namespace, registryName))!, samples.host);
    const first = await password();
    await eventually(async () => expect(await password()).to.not.equal(first), { timeoutMs: 20_000, message: 'the token is refreshed' });

    // Bind more ServiceAccounts: one that exists (read before its watch starts, then patched) and one that
    // does not, whose Warning repeats at every refresh and so becomes an Event series (a patch).
    await bindMoreServiceAccounts(namespace, samples);
    await eventually(
      () => {
        const patched = recorder.requests().some((r) => r.method === 'PATCH' && r.url.startsWith('/apis/events.k8s.io/'));
        expect(patched, 'an Event series update').to.equal(true);
      },
      { timeoutMs: 60_000, intervalMs: 500, message: 'a repeated Event is counted in its series' },
    );

    // A ClusterEcrRegistry serving the same namespace (finalizer, status, a pull secret and a
    // ServiceAccount entry through the cluster-wide metadata watch), then deleted.
    const cluster = sampleClusterRegistry(samples, {
      name: `rbac-audit-${namespace}`,
      credentialsNamespace: namespace,
      endpoint: emulator.url,
      namespaces: [namespace],
      pullSecretName: 'cluster-pull',
      serviceAccounts: ['app-2'],
    });
    const applied = await testEnv().kubectl(['apply', '-f', '-'], { stdin: JSON.stringify(cluster) });
    expect(applied.code, applied.stderr).to.equal(0);
    const clusterEntry = async () => ((await adminClients().core.readNamespacedServiceAccount({ namespace, name: 'app-2' })).imagePullSecrets ?? []).map((r) => r.name);
    await eventually(async () => expect(await clusterEntry()).to.include('cluster-pull'), { timeoutMs: 30_000, message: 'the ClusterEcrRegistry binds its pull secret' });
    await kubectlOk(['delete', 'clusterecrregistry', cluster.metadata.name!, '--wait=true', '--timeout=30s']);
    expect(await clusterEntry()).to.not.include('cluster-pull');
    expect(await readSecret(namespace, 'cluster-pull')).to.equal(undefined);

    // Delete: ServiceAccount entries removed, pull secret deleted, finalizer released.
    await kubectlOk(['delete', '-k', overlay, '--wait=false']);
    await eventually(
      async () => {
        const gone = await registryGone(namespace, registryName);
        expect(gone, 'EcrRegistry finalized').to.equal(true);
      },
      { timeoutMs: 30_000, message: 'the EcrRegistry is finalized' },
    );
    const account = await adminClients().core.readNamespacedServiceAccount({ namespace, name: 'app-2' });
    expect(account.imagePullSecrets ?? [], 'app-2 no longer names the pull secret').to.deep.equal([]);

    // Shutdown: the Lease is handed back.
    const exit = await operator.stop();
    expect(exit.code).to.equal(0);

    // The audit.
    const rbac = testEnv().kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const clusterRole = await rbac.readClusterRole({ name: 'ecr-pullsecrets-operator' });
    const role = await rbac.readNamespacedRole({ namespace: OPERATOR_NAMESPACE, name: 'ecr-pullsecrets-operator-leader-election' });
    const permissions: Permission[] = [
      ...permissionsOf('ClusterRole', clusterRole.rules ?? []),
      ...permissionsOf('Role', role.rules ?? [], OPERATOR_NAMESPACE),
    ];
    const { refused, uncovered, nonResource, uses } = auditRequests(permissions, recorder.requests());
    figures.push(`${recorder.requests().length} API requests recorded; uses per permission:`, ...usageLines(uses).map((line) => `  ${line}`));

    expect(refused, 'requests the API server refused').to.deep.equal([]);
    expect(uncovered, 'requests no permission grants').to.deep.equal([]);
    expect(nonResource, 'requests outside the resource API').to.deep.equal([]);
    const unused = unusedPermissions(uses);
    expect(unused, 'permissions no request used').to.have.members(Object.keys(NEEDED_WITHOUT_A_REQUEST));
  });
});
