import { execFile } from 'node:child_process';
import { createPublicKey, type JsonWebKey, verify } from 'node:crypto';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, CustomObjectsApi, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { apiErrorMessage, apiStatusCode, selectedKubernetesVersion } from '../support/controlplane/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';

const fixtures = path.join(import.meta.dirname, 'fixtures');
/** The control plane this run selected (test/controlplane/versions.env, ECR_TEST_KUBERNETES). */
const KUBERNETES_VERSION = `v${selectedKubernetesVersion()}`;

/** Runs `fn` and returns what it threw, failing the test if it did not throw. */
async function thrownBy(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** GET without any credentials, trusting the control plane's CA: what an OIDC relying party (STS) does. */
function anonymousGet(url: string, caCertPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: caCertPem }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
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

  it('publishes its ServiceAccount issuer to anonymous readers, and nothing else', async () => {
    const env = testEnv();
    const discovery = await anonymousGet(`${env.server}/.well-known/openid-configuration`, env.caCertPem);
    expect(discovery.status).to.equal(200);
    const document = JSON.parse(discovery.body) as { issuer: string; jwks_uri: string; id_token_signing_alg_values_supported: string[] };
    expect(document).to.deep.include({
      issuer: env.serviceAccountIssuer,
      jwks_uri: `${env.server}/openid/v1/jwks`,
      id_token_signing_alg_values_supported: ['RS256'],
    });

    const jwks = await anonymousGet(document.jwks_uri, env.caCertPem);
    expect(jwks.status).to.equal(200);
    const [key] = (JSON.parse(jwks.body) as { keys: Array<JsonWebKey & { kid: string }> }).keys;
    expect(key).to.include({ kty: 'RSA', alg: 'RS256', use: 'sig' });

    // The published key verifies the tokens the apiserver signs.
    const token = await env.serviceAccountToken(namespace, 'workload', { audiences: ['sts.amazonaws.com'] });
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss: string; sub: string; aud: string[] };
    expect(JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))).to.deep.equal({ alg: 'RS256', kid: key?.kid });
    expect(claims).to.deep.include({ iss: env.serviceAccountIssuer, sub: `system:serviceaccount:${namespace}:workload`, aud: ['sts.amazonaws.com'] });
    const publicKey = createPublicKey({ key: key as JsonWebKey, format: 'jwk' });
    expect(verify('sha256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url'))).to.equal(true);

    // Anonymous access stops at the discovery paths.
    expect((await anonymousGet(`${env.server}/api/v1/namespaces/${namespace}/secrets`, env.caCertPem)).status).to.equal(403);
    expect((await anonymousGet(`${env.server}/apis`, env.caCertPem)).status).to.equal(403);
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
