import type { EventsV1Event, V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { EcrRegistrySpec } from '../../src/api/ecr-registry.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/api/group.ts';
import { type AccessKey, EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { findCondition } from '../../src/runtime/conditions.ts';
import {
  adminClients,
  createCredentialsSecret,
  createRegistry,
  deleteRegistry,
  getRegistry,
  listEvents,
  pullSecretPassword,
  readSecret,
  readyCondition,
  registryGone,
  replaceCredentialsSecret,
} from '../support/fixtures.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const CREDENTIALS = 'aws-keys';

describe('EcrRegistry controller', function () {
  this.timeout(90_000);
  let emulator: EcrEmulator;
  let operator: TestOperator;
  let namespace: string;
  // Every key and token a test handles, for the canary check at the end.
  const secretsSeen = new Set<string>();
  // Every Event each test's namespace received, gathered before the namespace goes.
  const eventsSeen: EventsV1Event[] = [];
  // Logs of operators stopped mid-suite (the restart test), for the canary.
  let earlierLogs = '';

  before(async () => {
    emulator = await EcrEmulator.start();
    operator = await startTestOperator({ allowedEndpoints: [emulator.url] });
  });
  after(async () => {
    await operator?.stop();
    await emulator?.stop();
  });
  beforeEach(async function () {
    namespace = await createTestNamespace(this.currentTest?.title.slice(0, 30) ?? 'ecrregistry');
    emulator.tokenLifetimeSeconds = 12 * 60 * 60;
    emulator.clearFaults();
  });
  afterEach(async () => {
    emulator.clearFaults();
    await operator.operator.events.flush();
    eventsSeen.push(...(await listEvents(namespace)));
    // A bare apiserver never empties a deleted namespace: delete the registries so their short-lived
    // tokens stop rotating under later tests.
    const { custom } = adminClients();
    const path = { group: 'ecr.pullsecrets.io', version: 'v1alpha1', plural: 'ecrregistries', namespace };
    await custom.deleteCollectionNamespacedCustomObject(path);
    await eventually(async () => expect(((await custom.listNamespacedCustomObject(path)) as { items: unknown[] }).items).to.have.length(0), {
      timeoutMs: 20_000,
    });
    await deleteTestNamespace(namespace);
  });

  function newKey(): AccessKey {
    const key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    secretsSeen.add(key.accessKeyId);
    secretsSeen.add(key.secretAccessKey);
    return key;
  }

  function keyData(key: AccessKey): Record<string, string> {
    return { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey };
  }

  function spec(extra: Partial<EcrRegistrySpec> = {}): EcrRegistrySpec {
    return { registry: HOST, endpoint: emulator.url, credentials: { secretRef: { name: CREDENTIALS } }, ...extra };
  }

  async function registryWithKey(name: string, extra: Partial<EcrRegistrySpec> = {}): Promise<AccessKey> {
    const key = newKey();
    await createCredentialsSecret(namespace, CREDENTIALS, keyData(key));
    await createRegistry(namespace, name, spec(extra));
    return key;
  }

  async function waitForReason(name: string, status: 'True' | 'False', reason: string, type = 'Ready') {
    return eventually(
      async () => {
        const registry = await getRegistry(namespace, name);
        const condition = findCondition(registry.status?.conditions, type);
        expect(condition, `${type} condition`).to.include({ status, reason });
        expect(condition?.observedGeneration).to.equal(registry.metadata.generation);
        expect(registry.status?.observedGeneration).to.equal(registry.metadata.generation);
        return registry;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  async function waitForSecret(name: string): Promise<V1Secret> {
    return eventually(
      async () => {
        const secret = await readSecret(namespace, name);
        expect(secret, `pull secret ${name}`).to.not.equal(undefined);
        return secret!;
      },
      { timeoutMs: 30_000 },
    );
  }

  async function registryAccepts(password: string): Promise<number> {
    const auth = Buffer.from(`AWS:${password}`).toString('base64');
    const response = await fetch(`${emulator.registryUrl(ACCOUNT, REGION)}/v2/`, { headers: { authorization: `Basic ${auth}` } });
    await response.arrayBuffer();
    return response.status;
  }

  async function expectWarning(reason: string) {
    await operator.operator.events.flush();
    await eventually(async () => {
      const events = await listEvents(namespace);
      expect(events.map((e) => `${e.type}/${e.reason}`)).to.include(`Warning/${reason}`);
    });
  }

  it('writes a dockerconfigjson pull secret whose token the registry accepts', async () => {
    await registryWithKey('prod');
    const registry = await waitForReason('prod', 'True', 'PullSecretReady');
    const secret = await waitForSecret('prod');

    expect(secret.type).to.equal('kubernetes.io/dockerconfigjson');
    expect(secret.metadata?.labels).to.include({ 'app.kubernetes.io/managed-by': 'ecr-pullsecrets-operator' });
    expect(secret.metadata?.ownerReferences?.[0]).to.include({ kind: 'EcrRegistry', name: 'prod', uid: registry.metadata.uid, controller: true });
    const config = JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString('utf8'));
    const entry = config.auths[HOST];
    expect(entry.username).to.equal('AWS');
    expect(Buffer.from(entry.auth, 'base64').toString('utf8')).to.equal(`AWS:${entry.password}`);
    secretsSeen.add(entry.password);
    expect(await registryAccepts(entry.password)).to.equal(200);
    expect(await registryAccepts('not-a-token')).to.equal(401);

    expect(registry.status?.pullSecretName).to.equal('prod');
    const expiresAt = Date.parse(registry.status!.expirationTime!);
    const next = Date.parse(registry.status!.nextRefreshTime!);
    const issued = Date.parse(registry.status!.lastRefreshTime!);
    expect(expiresAt - issued).to.be.closeTo(12 * 3_600_000, 60_000);
    // Half the real lifetime, give or take the 5 % jitter.
    expect((next - issued) / (expiresAt - issued)).to.be.within(0.45, 0.55);
  });

  it('lists every additional registry host in the same docker config', async () => {
    const other = `444455556666.dkr.ecr.${REGION}.amazonaws.com`;
    await registryWithKey('multi', { additionalRegistries: [other] });
    await waitForReason('multi', 'True', 'PullSecretReady');
    const secret = await waitForSecret('multi');
    expect(pullSecretPassword(secret, HOST)).to.equal(pullSecretPassword(secret, other));
  });

  it('rotates 5-second tokens before they expire, at least three times', async () => {
    emulator.tokenLifetimeSeconds = 5;
    await registryWithKey('fast');
    await waitForSecret('fast');
    const passwords: string[] = [];
    let minRemainingMs = Number.POSITIVE_INFINITY;
    const expiredSamples: string[] = [];
    await eventually(
      async () => {
        const secret = await readSecret(namespace, 'fast');
        const password = pullSecretPassword(secret!, HOST);
        const info = emulator.tokenInfo(password);
        // Sampled throughout: the secret never holds an expired token.
        expect(info, 'token known to the emulator').to.not.equal(undefined);
        if (info!.expired) expiredSamples.push(info!.expiresAt.toISOString());
        minRemainingMs = Math.min(minRemainingMs, info!.expiresAt.getTime() - Date.now());
        if (passwords.at(-1) !== password) passwords.push(password);
        expect(passwords.length, 'distinct tokens seen').to.be.at.least(4);
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(expiredSamples, 'samples that held an expired token').to.deep.equal([]);
    for (const p of passwords) secretsSeen.add(p);
    process.stderr.write(`      rotations seen: ${passwords.length - 1}; least remaining lifetime at a sample: ${minRemainingMs} ms of 5000\n`);
  });

  describe('keeps the last good pull secret, stays Ready while it is valid, and reports why refreshes fail', () => {
    async function healthySecret(name: string, tokenSeconds = 43_200) {
      emulator.tokenLifetimeSeconds = tokenSeconds;
      const key = await registryWithKey(name);
      await waitForReason(name, 'True', 'PullSecretReady');
      return { key, secret: await waitForSecret(name) };
    }

    /** While the old token is valid: Ready stays True, Refreshed turns False with the reason and the expiry. */
    async function refreshFailing(name: string, reason: string) {
      const registry = await waitForReason(name, 'False', reason, 'Refreshed');
      expect(readyCondition(registry)).to.include({ status: 'True', reason: 'PullSecretReady' });
      expect(findCondition(registry.status?.conditions, 'Refreshed')?.message).to.match(/keeps serving a token valid until \S+Z/);
      expect(findCondition(registry.status?.conditions, 'Stalled')).to.equal(undefined);
      return registry;
    }

    it('with a wrong secret key', async () => {
      const { key, secret } = await healthySecret('wrongkey');
      const wrong = 'canary-WRONG-secret-key-0123456789abcdef';
      secretsSeen.add(wrong);
      await replaceCredentialsSecret(namespace, CREDENTIALS, { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: wrong });
      const registry = await refreshFailing('wrongkey', 'CredentialsRejected');
      expect(findCondition(registry.status?.conditions, 'Refreshed')?.message).to.match(/InvalidSignatureException/);
      expect((await readSecret(namespace, 'wrongkey'))?.data).to.deep.equal(secret.data);
      await expectWarning('CredentialsRejected');
    });

    it('turns Ready False and Stalled once the last good token has expired and the keys are still rejected', async () => {
      const { key, secret } = await healthySecret('expired', 4);
      await replaceCredentialsSecret(namespace, CREDENTIALS, { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: 'canary-WRONG-secret-key-expired' });
      secretsSeen.add('canary-WRONG-secret-key-expired');
      const registry = await waitForReason('expired', 'False', 'CredentialsRejected');
      expect(findCondition(registry.status?.conditions, 'Stalled')).to.include({ status: 'True', reason: 'CredentialsRejected' });
      expect(readyCondition(registry)?.message).to.include('no valid token is served');
      // The expired secret is still left in place, not replaced by anything empty.
      expect((await readSecret(namespace, 'expired'))?.data).to.deep.equal(secret.data);
    });

    it('when the credentials Secret is missing', async () => {
      const { secret } = await healthySecret('nosecret');
      await adminClients().core.deleteNamespacedSecret({ namespace, name: CREDENTIALS });
      await refreshFailing('nosecret', 'CredentialsSecretNotFound');
      expect((await readSecret(namespace, 'nosecret'))?.data).to.deep.equal(secret.data);
      await expectWarning('CredentialsSecretNotFound');
    });

    it('when a key is missing from the Secret', async () => {
      const { key, secret } = await healthySecret('nokey');
      await replaceCredentialsSecret(namespace, CREDENTIALS, { AWS_ACCESS_KEY_ID: key.accessKeyId });
      const registry = await refreshFailing('nokey', 'CredentialsKeyMissing');
      expect(findCondition(registry.status?.conditions, 'Refreshed')?.message).to.include('AWS_SECRET_ACCESS_KEY');
      expect((await readSecret(namespace, 'nokey'))?.data).to.deep.equal(secret.data);
      await expectWarning('CredentialsKeyMissing');
    });

    for (const [fault, reason] of [
      ['throttle', 'Throttled'],
      ['serverError', 'EcrUnreachable'],
    ] as const) {
      it(`when ECR answers ${fault}: Ready until the token expires, then Reconciling, then recovers by itself`, async () => {
        const { key, secret } = await healthySecret(`fault-${fault.toLowerCase()}`, 6);
        const name = `fault-${fault.toLowerCase()}`;
        emulator.injectFault({ kind: fault, action: 'GetAuthorizationToken', accessKeyId: key.accessKeyId });
        await refreshFailing(name, reason);
        const expired = await waitForReason(name, 'False', reason);
        expect(findCondition(expired.status?.conditions, 'Reconciling')).to.include({ status: 'True', reason });
        expect(findCondition(expired.status?.conditions, 'Stalled')).to.equal(undefined);
        expect((await readSecret(namespace, name))?.data).to.deep.equal(secret.data);
        await expectWarning(reason);
        emulator.clearFaults();
        const recovered = await waitForReason(name, 'True', 'PullSecretReady');
        expect(findCondition(recovered.status?.conditions, 'Refreshed')).to.include({ status: 'True', reason: 'TokenRefreshed' });
        expect(findCondition(recovered.status?.conditions, 'Reconciling')).to.equal(undefined);
        const refreshed = await readSecret(namespace, name);
        expect(pullSecretPassword(refreshed!, HOST)).to.not.equal(pullSecretPassword(secret, HOST));
      });
    }
  });

  it('mints a token with the new key when the AWS keys in the Secret are rotated', async () => {
    const oldKey = await registryWithKey('rotate');
    await waitForReason('rotate', 'True', 'PullSecretReady');
    const before = pullSecretPassword(await waitForSecret('rotate'), HOST);
    expect(emulator.tokenInfo(before)?.accessKeyId).to.equal(oldKey.accessKeyId);

    const newKey_ = newKey();
    await replaceCredentialsSecret(namespace, CREDENTIALS, keyData(newKey_));
    await eventually(async () => {
      const password = pullSecretPassword((await readSecret(namespace, 'rotate'))!, HOST);
      expect(password).to.not.equal(before);
      expect(emulator.tokenInfo(password)?.accessKeyId).to.equal(newKey_.accessKeyId);
    });
  });

  it('reads credentials from a Secret that carries its managed-by label, and follows a key rotation in it', async () => {
    // Such a Secret is in the pull-secret cache, which the credentials watch leaves out (it watches every other Secret).
    const oldKey = newKey();
    await adminClients().core.createNamespacedSecret({ namespace, body: { metadata: { name: 'labelled-keys', labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } }, stringData: keyData(oldKey) } });
    await createRegistry(namespace, 'labelled', spec({ credentials: { secretRef: { name: 'labelled-keys' } } }));
    await waitForReason('labelled', 'True', 'PullSecretReady');
    const before = pullSecretPassword(await waitForSecret('labelled'), HOST);
    expect(emulator.tokenInfo(before)?.accessKeyId).to.equal(oldKey.accessKeyId);

    const rotated = newKey();
    await replaceCredentialsSecret(namespace, 'labelled-keys', keyData(rotated));
    await eventually(async () => {
      const password = pullSecretPassword((await readSecret(namespace, 'labelled'))!, HOST);
      expect(emulator.tokenInfo(password)?.accessKeyId).to.equal(rotated.accessKeyId);
    });
  });

  it('leaves a Secret it does not own byte-for-byte unchanged and reports a conflict', async () => {
    const { core } = adminClients();
    const foreign = await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'taken' }, stringData: { note: 'not yours' } } });
    const key = await registryWithKey('conflicted', { pullSecret: { name: 'taken' } });
    const registry = await waitForReason('conflicted', 'False', 'PullSecretConflict');
    expect(emulator.callCount({ accessKeyId: key.accessKeyId }), 'ECR calls for a secret it may not write').to.equal(0);
    expect(readyCondition(registry)?.message).to.include('taken');
    const after = await core.readNamespacedSecret({ namespace, name: 'taken' });
    expect(after.metadata?.resourceVersion).to.equal(foreign.metadata?.resourceVersion);
    expect(after.data).to.deep.equal(foreign.data);
    expect(after.type).to.equal('Opaque');
    await expectWarning('PullSecretConflict');
  });

  it('reports a conflict, found on create, when the credentials already hold a cached token', async () => {
    const { core } = adminClients();
    const key = await registryWithKey('first');
    await waitForReason('first', 'True', 'PullSecretReady');
    const foreign = await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'taken' }, stringData: { note: 'not yours' } } });
    emulator.resetCounters();
    await createRegistry(namespace, 'second', spec({ pullSecret: { name: 'taken' } }));
    const registry = await waitForReason('second', 'False', 'PullSecretConflict');
    expect(readyCondition(registry)?.message).to.include('taken');
    expect(emulator.callCount({ accessKeyId: key.accessKeyId }), 'the shared token was reused, no call spent').to.equal(0);
    const after = await core.readNamespacedSecret({ namespace, name: 'taken' });
    expect(after.metadata?.resourceVersion).to.equal(foreign.metadata?.resourceVersion);
    expect(after.data).to.deep.equal(foreign.data);
  });

  it('appends to ServiceAccounts, repairs a removed entry, and removes it on deletion', async () => {
    const { core } = adminClients();
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'builder' }, imagePullSecrets: [{ name: 'existing' }] } });
    await registryWithKey('bound', { pullSecret: { serviceAccounts: [{ name: 'builder' }] } });
    const names = async () => ((await core.readNamespacedServiceAccount({ namespace, name: 'builder' })).imagePullSecrets ?? []).map((r) => r.name);

    await eventually(async () => expect(await names()).to.deep.equal(['existing', 'bound']));
    const registry = await waitForReason('bound', 'True', 'PullSecretReady');
    expect(registry.status?.serviceAccounts).to.deep.equal([{ name: 'builder' }]);

    // Someone drops our entry: it comes back, and theirs stays.
    await core.patchNamespacedServiceAccount(
      { namespace, name: 'builder', body: [{ op: 'replace', path: '/imagePullSecrets', value: [{ name: 'existing' }] }] },
      (await import('../../src/kube/clients.ts')).jsonPatch(),
    );
    await eventually(async () => expect(await names()).to.deep.equal(['existing', 'bound']));

    await deleteRegistry(namespace, 'bound');
    await eventually(async () => expect(await names()).to.deep.equal(['existing']));
    await eventually(async () => {
      expect(await readSecret(namespace, 'bound')).to.equal(undefined);
      expect(await registryGone(namespace, 'bound'), 'EcrRegistry finalized').to.equal(true);
    });
  });

  it('defect 1: a renamed pull secret moves the ServiceAccount entry and deletes the old Secret', async () => {
    const { core } = adminClients();
    await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'renamer' }, imagePullSecrets: [{ name: 'theirs' }] } });
    await registryWithKey('rename', { pullSecret: { name: 'before', serviceAccounts: [{ name: 'renamer' }] } });
    const names = async () => ((await core.readNamespacedServiceAccount({ namespace, name: 'renamer' })).imagePullSecrets ?? []).map((r) => r.name);
    await eventually(async () => expect(await names()).to.deep.equal(['theirs', 'before']));
    await waitForReason('rename', 'True', 'PullSecretReady');

    await adminClients().custom.patchNamespacedCustomObject(
      { group: 'ecr.pullsecrets.io', version: 'v1alpha1', plural: 'ecrregistries', namespace, name: 'rename', body: { spec: { pullSecret: { name: 'after' } } } },
      (await import('../../src/kube/clients.ts')).mergePatch(),
    );
    await eventually(async () => {
      expect(await names()).to.deep.equal(['theirs', 'after']);
      expect(await readSecret(namespace, 'before')).to.equal(undefined);
      expect((await getRegistry(namespace, 'rename')).status?.pullSecretName).to.equal('after');
    });
    // A Secret that later takes the old name is never attached to the ServiceAccount.
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 'before' }, stringData: { note: 'someone else' } } });
    await deleteRegistry(namespace, 'rename');
    await eventually(async () => expect(await registryGone(namespace, 'rename')).to.equal(true));
    expect(await names()).to.deep.equal(['theirs']);
    expect(await readSecret(namespace, 'before')).to.not.equal(undefined);
  });

  it('defect 3: a stale ServiceAccount append is a conflict (the apiserver answers 422 to the failed test op)', async () => {
    const { core } = adminClients();
    const { kubeRegistryWrites } = await import('../../src/registry/kube-store.ts');
    const { isConflict } = await import('../../src/kube/errors.ts');
    const { createKubeClients } = await import('../../src/kube/clients.ts');
    const stale = await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'raced' } } });
    await core.patchNamespacedServiceAccount(
      { namespace, name: 'raced', body: { metadata: { labels: { moved: 'yes' } } } },
      (await import('../../src/kube/clients.ts')).mergePatch(),
    );
    const error = await kubeRegistryWrites(createKubeClients(testEnv().kubeConfig())).addImagePullSecret(stale, 'pull').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isConflict(error), String(error)).to.equal(true);
    expect((await core.readNamespacedServiceAccount({ namespace, name: 'raced' })).imagePullSecrets).to.equal(undefined);
  });

  it('defect 5: re-adopts its pull secret after the managed-by label is removed, with no conflict and no ECR call', async () => {
    const { core } = adminClients();
    const key = await registryWithKey('relabel');
    await waitForReason('relabel', 'True', 'PullSecretReady');
    const before = await waitForSecret('relabel');
    emulator.resetCounters();
    await core.patchNamespacedSecret(
      { namespace, name: 'relabel', body: { metadata: { labels: { 'app.kubernetes.io/managed-by': null } } } },
      (await import('../../src/kube/clients.ts')).mergePatch(),
    );
    await eventually(async () => {
      const secret = await readSecret(namespace, 'relabel');
      expect(secret?.metadata?.labels).to.include({ 'app.kubernetes.io/managed-by': 'ecr-pullsecrets-operator' });
      expect(secret?.data).to.deep.equal(before.data);
    });
    const registry = await getRegistry(namespace, 'relabel');
    expect(readyCondition(registry)).to.include({ status: 'True', reason: 'PullSecretReady' });
    expect(emulator.callCount({ accessKeyId: key.accessKeyId })).to.equal(0);
  });

  it('makes one GetAuthorizationToken call per refresh for registries that share credentials', async () => {
    emulator.tokenLifetimeSeconds = 8;
    const key = newKey();
    await createCredentialsSecret(namespace, CREDENTIALS, keyData(key));
    emulator.resetCounters();
    await createRegistry(namespace, 'shared-a', spec());
    await createRegistry(namespace, 'shared-b', spec());
    await waitForReason('shared-a', 'True', 'PullSecretReady');
    await waitForReason('shared-b', 'True', 'PullSecretReady');
    const calls = () => emulator.callCount({ action: 'GetAuthorizationToken', accessKeyId: key.accessKeyId });
    expect(calls()).to.equal(1);
    const first = pullSecretPassword((await readSecret(namespace, 'shared-a'))!, HOST);
    expect(pullSecretPassword((await readSecret(namespace, 'shared-b'))!, HOST)).to.equal(first);

    // One refresh later both hold the same new token, fetched once.
    await eventually(
      async () => {
        const a = pullSecretPassword((await readSecret(namespace, 'shared-a'))!, HOST);
        const b = pullSecretPassword((await readSecret(namespace, 'shared-b'))!, HOST);
        expect(a).to.not.equal(first);
        expect(b).to.equal(a);
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(calls()).to.equal(2);
  });

  it('refuses an endpoint outside the allowlist without calling it', async () => {
    const key = newKey();
    await createCredentialsSecret(namespace, CREDENTIALS, keyData(key));
    await createRegistry(namespace, 'elsewhere', spec({ endpoint: 'https://ecr.attacker.example' }));
    const registry = await waitForReason('elsewhere', 'False', 'EndpointNotAllowed');
    expect(readyCondition(registry)?.message).to.include('https://ecr.attacker.example');
    expect(emulator.callCount({ accessKeyId: key.accessKeyId })).to.equal(0);
    expect(await readSecret(namespace, 'elsewhere')).to.equal(undefined);
  });

  it('neither calls ECR nor rewrites pull secrets when the operator restarts', async () => {
    const key = await registryWithKey('restart');
    await waitForReason('restart', 'True', 'PullSecretReady');
    const before = await waitForSecret('restart');
    earlierLogs += operator.logs();
    await operator.stop();
    emulator.resetCounters();
    operator = await startTestOperator({ allowedEndpoints: [emulator.url] });
    // The new operator reconciles every registry once its caches are listed; give it time to have done so.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(operator.logs()).to.include('"controller":"ecrregistry"');
    expect(emulator.callCount({ action: 'GetAuthorizationToken', accessKeyId: key.accessKeyId })).to.equal(0);
    expect((await readSecret(namespace, 'restart'))?.metadata?.resourceVersion).to.equal(before.metadata?.resourceVersion);
  });

  // A suite of its own so that it runs after every other test and suite here (mocha runs a suite's
  // own tests before its child suites): every key and token they handled is a canary.
  describe('canary', () => it('never writes keys or tokens to its logs or Events', async () => {
    await operator.operator.events.flush();
    const logs = earlierLogs + operator.logs();
    expect(logs.length).to.be.greaterThan(1000);
    const notes = eventsSeen.map((e) => JSON.stringify(e)).join('\n');
    expect(eventsSeen.map((e) => e.reason)).to.include.members(['CredentialsRejected', 'Throttled', 'Refreshed']);
    expect(secretsSeen.size).to.be.greaterThan(10);
    for (const secret of secretsSeen) {
      expect(logs.includes(secret), `a key or token in the operator's logs`).to.equal(false);
      expect(notes.includes(secret), `a key or token in an Event`).to.equal(false);
    }
  }));
});
