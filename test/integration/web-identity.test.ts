import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { ClusterEcrRegistrySpec } from '../../src/api/cluster-ecr-registry.ts';
import type { EcrRegistry, EcrRegistrySpec } from '../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY } from '../../src/api/group.ts';
import { operatorIdentityChain } from '../../src/aws/operator-identity.ts';
import { findCondition } from '../../src/runtime/conditions.ts';
import { withAwsEnv } from '../support/aws-env.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { adminClients, createRegistry, getRegistry, listEvents, pullSecretPassword, readSecret } from '../support/fixtures.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const ACCOUNT = '777788889999';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const AUDIENCE = 'sts.amazonaws.com';

describe('Keyless AWS credentials', function () {
  this.timeout(120_000);
  let emulator: EcrEmulator;
  let operator: TestOperator;
  /** STS (and the emulator's other expiry checks) read this clock: a skew makes fresh tokens expired. */
  let skewMs = 0;
  let namespace: string;
  const figures: string[] = [];
  /** Every ServiceAccount token and session key handed out, for the canary. */
  const secretsSeen = new Set<string>();

  before(async () => {
    emulator = await EcrEmulator.start({ oidcCaPem: testEnv().caCertPem, clock: { now: () => Date.now() + skewMs } });
    emulator.addOidcProvider({ issuer: testEnv().serviceAccountIssuer, audiences: [AUDIENCE] });
    operator = await startTestOperator({ allowedEndpoints: [emulator.url], stsEndpoint: emulator.url });
  });
  after(async () => {
    if (figures.length > 0) process.stderr.write(`      figures:\n${figures.map((f) => `        ${f}\n`).join('')}`);
    await operator?.stop();
    await emulator?.stop();
  });
  beforeEach(async function () {
    namespace = await createTestNamespace(this.currentTest?.title.slice(0, 24) ?? 'keyless');
    emulator.tokenLifetimeSeconds = 12 * 60 * 60;
  });
  afterEach(async () => {
    const { custom } = adminClients();
    const path = { group: API_GROUP, version: API_VERSION, plural: 'ecrregistries', namespace };
    await custom.deleteCollectionNamespacedCustomObject(path);
    await deleteTestNamespace(namespace);
  });

  const roleFor = (subject: string, name = `keyless-${randomBytes(3).toString('hex')}`) => {
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/${name}`;
    emulator.addWebIdentityRole({ roleArn, issuer: testEnv().serviceAccountIssuer, subjects: [subject], audience: AUDIENCE });
    return roleArn;
  };
  const serviceAccount = async (name: string, inNamespace = namespace) => {
    await adminClients().core.createNamespacedServiceAccount({ namespace: inNamespace, body: { metadata: { name } } });
  };
  const spec = (credentials: EcrRegistrySpec['credentials']): EcrRegistrySpec => ({ registry: HOST, endpoint: emulator.url, credentials });
  const condition = async (name: string, type: string) => findCondition((await getRegistry(namespace, name)).status?.conditions, type);

  async function registryAccepts(password: string): Promise<number> {
    const auth = Buffer.from(`AWS:${password}`).toString('base64');
    const response = await fetch(`${emulator.registryUrl(ACCOUNT, REGION)}/v2/`, { headers: { authorization: `Basic ${auth}` } });
    await response.arrayBuffer();
    return response.status;
  }

  /** TokenRequests the apiserver has served, from its own request counter. */
  async function tokenRequests(): Promise<number> {
    const metrics = await testEnv().kubectl(['get', '--raw', '/metrics']);
    return metrics.stdout
      .split('\n')
      .filter((line) => line.startsWith('apiserver_request_total{') && line.includes('resource="serviceaccounts"') && line.includes('subresource="token"') && line.includes('verb="POST"'))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }

  it('makes a registry Ready through its ServiceAccount, with no AWS key anywhere, sharing one session across 10 registries and two refreshes', async () => {
    await serviceAccount('puller');
    const roleArn = roleFor(`system:serviceaccount:${namespace}:puller`);
    emulator.tokenLifetimeSeconds = 6;
    emulator.resetCounters();
    const requestsBefore = await tokenRequests();
    const names = Array.from({ length: 10 }, (_, i) => `keyless-${i}`);
    for (const name of names) await createRegistry(namespace, name, spec({ serviceAccountRef: { name: 'puller' }, roleArn }));
    for (const name of names) await eventually(async () => expect(await condition(name, 'Ready')).to.include({ status: 'True', reason: 'PullSecretReady' }));
    const first = pullSecretPassword((await readSecret(namespace, 'keyless-0'))!, HOST);
    expect(await registryAccepts(first)).to.equal(200);
    // Two more refreshes (6 s tokens refresh at about 3 s).
    const seen = new Set([first]);
    await eventually(
      async () => {
        seen.add(pullSecretPassword((await readSecret(namespace, 'keyless-0'))!, HOST));
        expect(seen.size).to.be.at.least(3);
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const { items } = await adminClients().core.listNamespacedSecret({ namespace });
    expect(items.map((s) => s.type).filter((t) => t !== 'kubernetes.io/dockerconfigjson'), 'no Secret but the pull secrets').to.deep.equal([]);
    const counts = {
      tokenRequests: (await tokenRequests()) - requestsBefore,
      assumeRoleWithWebIdentity: emulator.callCount({ action: 'AssumeRoleWithWebIdentity' }),
      getAuthorizationToken: emulator.callCount({ action: 'GetAuthorizationToken' }),
    };
    figures.push(`10 registries, one ServiceAccount and role, ${seen.size - 1} refreshes: ${JSON.stringify(counts)}`);
    expect(counts.tokenRequests).to.equal(1);
    expect(counts.assumeRoleWithWebIdentity).to.equal(1);
    // One per refresh for all ten (the shared token cache), however many refreshes happened.
    expect(counts.getAuthorizationToken).to.be.within(seen.size, seen.size + 1);
    for (const call of emulator.webIdentityCalls()) expect(call.subject).to.equal(`system:serviceaccount:${namespace}:puller`);
  });

  it('refuses a role that trusts another namespace\'s ServiceAccount, a wrong audience, and a missing ServiceAccount, each with its reason', async () => {
    await serviceAccount('puller');
    const other = await createTestNamespace('keyless-other');
    try {
      const foreignRole = roleFor(`system:serviceaccount:${other}:puller`);
      const ownRole = roleFor(`system:serviceaccount:${namespace}:puller`);
      await createRegistry(namespace, 'untrusted', spec({ serviceAccountRef: { name: 'puller' }, roleArn: foreignRole }));
      await createRegistry(namespace, 'audience', spec({ serviceAccountRef: { name: 'puller', audience: 'vault' }, roleArn: ownRole }));
      await createRegistry(namespace, 'missing', spec({ serviceAccountRef: { name: 'nobody' }, roleArn: ownRole }));
      for (const [name, reason, text] of [
        ['untrusted', 'WebIdentityRejected', 'AccessDenied'],
        ['audience', 'WebIdentityRejected', 'InvalidIdentityToken'],
        ['missing', 'ServiceAccountNotFound', 'nobody'],
      ] as const) {
        const ready = await eventually(async () => {
          const c = await condition(name, 'Ready');
          expect(c).to.include({ status: 'False', reason });
          return c!;
        });
        expect(ready.message).to.include(text);
        expect(await condition(name, 'Stalled')).to.include({ status: 'True', reason });
      }
      await operator.operator.events.flush();
      const warnings = (await listEvents(namespace)).filter((e) => e.type === 'Warning').map((e) => e.reason);
      expect(warnings).to.include.members(['WebIdentityRejected', 'ServiceAccountNotFound']);
      // The missing ServiceAccount appears: the registry follows without a person touching it.
      await serviceAccount('nobody');
      const nobodyRole = roleFor(`system:serviceaccount:${namespace}:nobody`);
      await adminClients().custom.patchNamespacedCustomObject(
        { group: API_GROUP, version: API_VERSION, plural: 'ecrregistries', namespace, name: 'missing', body: { spec: { credentials: { roleArn: nobodyRole } } } },
        (await import('../../src/kube/clients.ts')).mergePatch(),
      );
      await eventually(async () => expect(await condition('missing', 'Ready')).to.include({ status: 'True' }));
    } finally {
      await deleteTestNamespace(other);
    }
  });

  it('refuses an expired ServiceAccount token with WebIdentityRejected', async () => {
    await serviceAccount('puller');
    const roleArn = roleFor(`system:serviceaccount:${namespace}:puller`);
    // STS judges expiry by its own clock: two hours ahead, every fresh one-hour token is expired.
    skewMs = 2 * 3600_000;
    try {
      await createRegistry(namespace, 'expired', spec({ serviceAccountRef: { name: 'puller' }, roleArn }));
      const ready = await eventually(async () => {
        const c = await condition('expired', 'Ready');
        expect(c).to.include({ status: 'False', reason: 'WebIdentityRejected' });
        return c!;
      });
      expect(ready.message).to.include('ExpiredToken');
    } finally {
      skewMs = 0;
    }
  });

  it('serves a ClusterEcrRegistry through a ServiceAccount in a namespace it names', async () => {
    await serviceAccount('cluster-puller');
    const roleArn = roleFor(`system:serviceaccount:${namespace}:cluster-puller`);
    const name = `keyless-${randomBytes(3).toString('hex')}`;
    const clusterSpec: ClusterEcrRegistrySpec = { registry: HOST, endpoint: emulator.url, credentials: { serviceAccountRef: { namespace, name: 'cluster-puller' }, roleArn }, namespaces: [namespace] };
    const path = { group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural };
    await adminClients().custom.createClusterCustomObject({ ...path, body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: CLUSTER_ECR_REGISTRY.kind, metadata: { name }, spec: clusterSpec } });
    try {
      await eventually(async () => {
        const secret = await readSecret(namespace, name);
        expect(await registryAccepts(pullSecretPassword(secret!, HOST))).to.equal(200);
      });
    } finally {
      await adminClients().custom.deleteClusterCustomObject({ ...path, name });
    }
  });

  describe("the operator's own identity (ClusterEcrRegistry credentials.source Operator), through the SDK's provider chain", () => {
    let tempDir: string;
    before(async () => {
      tempDir = await mkdtemp(path.join(os.tmpdir(), 'ecr-operator-identity-'));
    });
    after(async () => {
      await rm(tempDir, { recursive: true, force: true });
    });

    async function servedWith(env: Record<string, string>): Promise<void> {
      await withAwsEnv(env, async () => {
        const own = await startTestOperator({
          allowedEndpoints: [emulator.url],
          stsEndpoint: emulator.url,
          operatorIdentity: operatorIdentityChain({ instanceMetadata: false, stsRegion: REGION, stsEndpoint: emulator.url }),
        });
        const name = `operator-identity-${randomBytes(3).toString('hex')}`;
        const path = { group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural };
        const clusterSpec: ClusterEcrRegistrySpec = { registry: HOST, endpoint: emulator.url, credentials: { source: 'Operator' }, namespaces: [namespace] };
        try {
          // The suite's own operator would serve it too, without an identity: stop it meanwhile.
          await operator.stop();
          await adminClients().custom.createClusterCustomObject({ ...path, body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: CLUSTER_ECR_REGISTRY.kind, metadata: { name }, spec: clusterSpec } });
          await eventually(async () => {
            const secret = await readSecret(namespace, name);
            expect(await registryAccepts(pullSecretPassword(secret!, HOST))).to.equal(200);
          });
        } finally {
          await adminClients().custom.deleteClusterCustomObject({ ...path, name });
          await eventually(async () => expect(await readSecret(namespace, name)).to.equal(undefined));
          await own.stop();
          operator = await startTestOperator({ allowedEndpoints: [emulator.url], stsEndpoint: emulator.url });
        }
      });
    }

    it('uses IRSA: AWS_ROLE_ARN and a projected-style token file', async () => {
      await serviceAccount('ecr-pullsecrets-operator');
      const roleArn = roleFor(`system:serviceaccount:${namespace}:ecr-pullsecrets-operator`);
      const tokenFile = path.join(tempDir, 'token');
      await writeFile(tokenFile, await testEnv().serviceAccountToken(namespace, 'ecr-pullsecrets-operator', { audiences: [AUDIENCE] }));
      const before = emulator.callCount({ action: 'AssumeRoleWithWebIdentity' });
      await servedWith({ AWS_ROLE_ARN: roleArn, AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile, AWS_REGION: REGION });
      expect(emulator.callCount({ action: 'AssumeRoleWithWebIdentity' }) - before).to.equal(1);
    });

    it('uses EKS Pod Identity: a loopback container credentials endpoint and a token file', async () => {
      const token = randomBytes(16).toString('hex');
      secretsSeen.add(token);
      const roleArn = `arn:aws:iam::${ACCOUNT}:role/pod-identity-${randomBytes(3).toString('hex')}`;
      emulator.addPodIdentity({ token, roleArn });
      const tokenFile = path.join(tempDir, 'pod-identity-token');
      await writeFile(tokenFile, token);
      const before = emulator.callCount({ action: 'PodIdentityCredentials' });
      await servedWith({ AWS_CONTAINER_CREDENTIALS_FULL_URI: emulator.podIdentityUrl, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile, AWS_REGION: REGION });
      expect(emulator.callCount({ action: 'PodIdentityCredentials' }) - before).to.be.at.least(1);
    });

    it('reports OperatorIdentityUnavailable when the operator has no identity of its own', async () => {
      const name = `no-identity-${randomBytes(3).toString('hex')}`;
      const path = { group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural };
      await adminClients().custom.createClusterCustomObject({
        ...path,
        body: { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: CLUSTER_ECR_REGISTRY.kind, metadata: { name }, spec: { registry: HOST, endpoint: emulator.url, credentials: { source: 'Operator' }, namespaces: [namespace] } },
      });
      try {
        await eventually(async () => {
          const registry = (await adminClients().custom.getClusterCustomObject({ ...path, name })) as EcrRegistry;
          expect(findCondition(registry.status?.conditions, 'Ready')).to.include({ status: 'False', reason: 'OperatorIdentityUnavailable' });
        });
      } finally {
        await adminClients().custom.deleteClusterCustomObject({ ...path, name });
      }
    });
  });

  describe('canary', () => it('never writes ServiceAccount tokens or STS session keys to its logs or Events', async () => {
    for (const call of emulator.webIdentityCalls()) if (call.accessKeyId) secretsSeen.add(call.accessKeyId);
    const logs = operator.logs();
    const events = JSON.stringify(await listEvents(namespace));
    for (const secret of secretsSeen) {
      expect(logs).to.not.include(secret);
      expect(events).to.not.include(secret);
    }
    // A ServiceAccount token is a JWT: none may appear anywhere.
    expect(logs).to.not.match(/eyJ[\w-]{10,}\.eyJ[\w-]{10,}\./);
  }));
});
