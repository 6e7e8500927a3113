import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { apiErrorMessage, apiStatusCode } from '../support/controlplane/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';

const fixtures = path.join(import.meta.dirname, 'fixtures');
const KUBERNETES_VERSION = 'v1.34.4';

/** Runs `fn` and returns what it threw, failing the test if it did not throw. */
async function thrownBy(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

describe('the envtest-style control plane', () => {
  let namespace: string;

  beforeEach(async () => {
    namespace = await createTestNamespace('controlplane');
  });

  afterEach(async () => {
    await deleteTestNamespace(namespace);
  });

  it(`runs kube-apiserver ${KUBERNETES_VERSION}`, async () => {
    const { stdout } = await promisify(execFile)(testEnv().binaries.kubeApiserver, ['--version']);
    expect(stdout.trim()).to.equal(`Kubernetes ${KUBERNETES_VERSION}`);
  });

  it('stores and returns a Secret through client-node', async () => {
    const core = testEnv().kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'round-trip' }, type: 'Opaque', stringData: { greeting: 'hello' } },
    });

    const secret = await core.readNamespacedSecret({ name: 'round-trip', namespace });

    expect(Buffer.from(secret.data?.greeting ?? '', 'base64').toString('utf8')).to.equal('hello');
  });

  it('installs a CRD and rejects an object that breaks its CEL rule, with the rule message', async () => {
    const installed = await testEnv().installCrds(fixtures);
    expect(installed).to.include('widgets.harness.test.pullsecrets.io');
    const customObjects = testEnv().kubeConfig().makeApiClient(CustomObjectsApi);
    const widget = (name: string, minReplicas: number, maxReplicas: number) => ({
      group: 'harness.test.pullsecrets.io',
      version: 'v1',
      namespace,
      plural: 'widgets',
      body: {
        apiVersion: 'harness.test.pullsecrets.io/v1',
        kind: 'Widget',
        metadata: { name },
        spec: { minReplicas, maxReplicas },
      },
    });

    await customObjects.createNamespacedCustomObject(widget('ordered', 1, 3));
    const error = await thrownBy(() => customObjects.createNamespacedCustomObject(widget('reversed', 5, 2)));

    expect(apiStatusCode(error)).to.equal(422);
    expect(apiErrorMessage(error)).to.include('spec.minReplicas: Invalid value').and.include(
      'minReplicas must not exceed maxReplicas',
    );
  });

  it('serves the real kubectl, which applies a manifest and reports its version', async () => {
    const manifest = [
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      '  name: applied-by-kubectl',
      `  namespace: ${namespace}`,
      'data:',
      '  colour: blue',
    ].join('\n');

    const applied = await testEnv().kubectl(['apply', '-f', '-'], { stdin: manifest });
    expect(applied.code, applied.stderr).to.equal(0);
    expect(applied.stdout).to.include('configmap/applied-by-kubectl created');

    const core = testEnv().kubeConfig().makeApiClient(CoreV1Api);
    const configMap = await core.readNamespacedConfigMap({ name: 'applied-by-kubectl', namespace });
    expect(configMap.data).to.deep.equal({ colour: 'blue' });

    const version = await testEnv().kubectl(['version', '-o', 'json']);
    expect(version.code, version.stderr).to.equal(0);
    const reported = JSON.parse(version.stdout) as {
      clientVersion?: { gitVersion?: string };
      serverVersion?: { gitVersion?: string };
    };
    expect(reported.clientVersion?.gitVersion).to.equal(KUBERNETES_VERSION);
    expect(reported.serverVersion?.gitVersion).to.equal(KUBERNETES_VERSION);
  });

  it('acts as a ServiceAccount that RBAC refuses until a RoleBinding grants it', async () => {
    const identity = await testEnv().serviceAccountKubeConfig(namespace, 'reader');
    const asServiceAccount = identity.kubeConfig.makeApiClient(CoreV1Api);

    const refused = await thrownBy(() => asServiceAccount.listNamespacedSecret({ namespace }));
    expect(apiStatusCode(refused)).to.equal(403);
    expect(apiErrorMessage(refused)).to.include(`system:serviceaccount:${namespace}:reader`);

    const rbac = testEnv().kubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'secret-reader' },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'reader-reads-secrets' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'secret-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace }],
      },
    });

    // The RBAC authorizer reads roles from an informer cache, so the grant lands shortly after.
    const secrets = await eventually(() => asServiceAccount.listNamespacedSecret({ namespace }), {
      message: 'ServiceAccount reader listing secrets after the RoleBinding',
    });
    expect(secrets.items).to.be.an('array');

    // kubectl with the same kubeconfig file sees the same identity and permissions.
    const canI = await testEnv().kubectl(['auth', 'can-i', 'delete', 'secrets', '-n', namespace], {
      kubeconfig: identity.path,
    });
    expect(canI.stdout.trim()).to.equal('no');
  });

  it('restarts kube-apiserver on the same address, keeping what etcd stored', async () => {
    const core = testEnv().kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'survives' }, data: { kept: 'yes' } } });
    const server = testEnv().server;

    await testEnv().restartApiServer();

    expect(testEnv().server).to.equal(server);
    const configMap = await core.readNamespacedConfigMap({ name: 'survives', namespace });
    expect(configMap.data).to.deep.equal({ kept: 'yes' });
  });
});
