import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { EcrRegistry, EcrRegistrySpec } from '../../../src/api/ecr-registry.ts';
import type { Condition } from '../../../src/api/meta.ts';
import type { AwsCredentialSet } from '../../../src/aws/credential-set.ts';
import type { EcrAuthorization, EcrTokenSource } from '../../../src/aws/ecr-token.ts';
import { createEndpointAllowlist } from '../../../src/aws/endpoint-allowlist.ts';
import { PatchTestFailedError } from '../../../src/kube/errors.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { ANNOTATION_EXPIRES_AT } from '../../../src/registry/pull-secret.ts';
import { reconcileRegistry, RetryableRegistryError } from '../../../src/registry/reconciler.ts';
import { type RegistryReads, type RegistryWrites, readYourWrites } from '../../../src/registry/store.ts';
import { SharedTokenCache } from '../../../src/registry/token-cache.ts';
import { findCondition } from '../../../src/runtime/conditions.ts';
import { NotSyncedError } from '../../../src/runtime/informer.ts';
import { FakeClock } from '../../support/fake-clock.ts';

const NS = 'team-a';
const HOST = '123456789012.dkr.ecr.us-east-1.amazonaws.com';
const HOUR = 3_600_000;

/**
 * An in-memory apiserver for one namespace: objects carry integer resourceVersions, and the
 * registry "cache" the reconciler reads lags the server until `sync()` is called, as an informer does.
 */
class FakeApi {
  rv = 100;
  registry: EcrRegistry;
  cachedRegistry: EcrRegistry;
  secrets = new Map<string, V1Secret>();
  accounts = new Map<string, V1ServiceAccount>();
  failDeleting = new Set<string>();
  /** ServiceAccounts as a lagging cache shows them. */
  staleAccounts = new Map<string, V1ServiceAccount>();
  staleAccountWrites = 0;
  statusWrites = 0;
  /** ImageImports using the registry; undefined while they are not listed yet. */
  users: string[] | undefined = [];
  /** Every write, in order: `create secret/ecr`, `status`, `finalizers [..]`, `add sa/app`. */
  writeLog: string[] = [];

  constructor(spec: Partial<EcrRegistrySpec> = {}) {
    this.registry = {
      apiVersion: 'ecr.pullsecrets.io/v1alpha1',
      kind: 'EcrRegistry',
      metadata: { namespace: NS, name: 'ecr', uid: 'registry-uid', generation: 1, resourceVersion: String(this.rv) },
      spec: { registry: HOST, credentials: { secretRef: { name: 'keys' } }, ...spec },
      status: { observedGeneration: -1 },
    };
    this.cachedRegistry = structuredClone(this.registry);
    this.putSecret({ metadata: { name: 'keys', namespace: NS }, data: { AWS_ACCESS_KEY_ID: b64('AKIAIOSFODNN7EXAMPLE'), AWS_SECRET_ACCESS_KEY: b64('secret') } });
  }

  sync(): void {
    this.cachedRegistry = structuredClone(this.registry);
  }

  editSpec(spec: Partial<EcrRegistrySpec>): void {
    this.registry = { ...this.registry, spec: { ...this.registry.spec, ...spec }, metadata: { ...this.registry.metadata, generation: this.registry.metadata.generation! + 1, resourceVersion: this.nextRv() } };
    this.sync();
  }

  putSecret(secret: V1Secret): V1Secret {
    const stored = structuredClone({ ...secret, metadata: { ...secret.metadata, namespace: NS, uid: secret.metadata?.uid ?? `uid-${secret.metadata!.name}`, resourceVersion: this.nextRv() } });
    this.secrets.set(stored.metadata.name!, stored);
    return structuredClone(stored);
  }

  nextRv(): string {
    this.rv += 1;
    return String(this.rv);
  }

  reads(): RegistryReads {
    return {
      registry: () => structuredClone(this.cachedRegistry),
      managedSecret: (_ns, name) => {
        const secret = this.secrets.get(name);
        return secret?.metadata?.labels?.['app.kubernetes.io/managed-by'] ? structuredClone(secret) : undefined;
      },
      secret: async (_ns, name) => structuredClone(this.secrets.get(name)),
      serviceAccount: async (_ns, name) => structuredClone(this.staleAccounts.get(name) ?? this.accounts.get(name)),
      registryUsers: () => {
        if (this.users === undefined) throw new NotSyncedError('ImageImports are not listed yet');
        return [...this.users];
      },
    };
  }

  writes(): RegistryWrites {
    return {
      createSecret: async (secret) => {
        this.writeLog.push(`create secret/${secret.metadata!.name}`);
        if (this.secrets.has(secret.metadata!.name!)) throw Object.assign(new Error('exists'), { code: 409 });
        return this.putSecret(secret);
      },
      replaceSecret: async (secret) => {
        this.writeLog.push(`replace secret/${secret.metadata!.name}`);
        return this.putSecret(secret);
      },
      deleteSecret: async (_ns, name) => {
        if (this.failDeleting.has(name)) throw Object.assign(new Error('apiserver unavailable'), { code: 503 });
        this.secrets.delete(name);
      },
      addImagePullSecret: async (account, secretName) => {
        this.writeLog.push(`add sa/${account.metadata!.name}`);
        const current = this.accounts.get(account.metadata!.name!)!;
        if (current.metadata!.resourceVersion !== account.metadata!.resourceVersion) {
          this.staleAccountWrites += 1;
          throw new PatchTestFailedError('ServiceAccount changed since it was read');
        }
        this.putAccount({ ...current, imagePullSecrets: [...(current.imagePullSecrets ?? []), { name: secretName }] });
      },
      removeImagePullSecret: async (_ns, name, index, secretName) => {
        this.writeLog.push(`remove sa/${name}`);
        const current = this.accounts.get(name)!;
        if (current.imagePullSecrets?.[index]?.name !== secretName) throw new PatchTestFailedError('moved');
        this.putAccount({ ...current, imagePullSecrets: current.imagePullSecrets.filter((_, i) => i !== index) });
      },
      setFinalizers: async (_registry, finalizers) => {
        this.writeLog.push(`finalizers [${finalizers.join(',')}]`);
        this.registry = { ...this.registry, metadata: { ...this.registry.metadata, finalizers, resourceVersion: this.nextRv() } };
        return structuredClone(this.registry);
      },
      patchStatus: async (_registry, patch) => {
        this.writeLog.push('status');
        this.statusWrites += 1;
        const status: Record<string, unknown> = { ...this.registry.status };
        for (const [key, value] of Object.entries(patch)) {
          if (value === null) delete status[key];
          else status[key] = value;
        }
        this.registry = { ...this.registry, status, metadata: { ...this.registry.metadata, resourceVersion: this.nextRv() } };
        return structuredClone(this.registry);
      },
    };
  }

  putAccount(account: V1ServiceAccount): void {
    this.accounts.set(account.metadata!.name!, { ...structuredClone(account), metadata: { ...account.metadata, namespace: NS, resourceVersion: this.nextRv() } });
  }

  entries(account: string): string[] {
    return (this.accounts.get(account)?.imagePullSecrets ?? []).map((ref) => ref.name!);
  }
}

/** ECR behind our own token-source interface: unit tests stay off the network (integration tests use the SDK). */
class FakeEcr implements EcrTokenSource {
  calls = 0;
  failure: Error | undefined;
  readonly clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }
  async getAuthorizationToken(_set: AwsCredentialSet): Promise<EcrAuthorization> {
    this.calls += 1;
    if (this.failure) throw this.failure;
    const now = this.clock.now();
    return { username: 'AWS', password: `password-${this.calls}`, issuedAt: new Date(now), expiresAt: new Date(now + 12 * HOUR) };
  }
}

function harness(spec: Partial<EcrRegistrySpec> = {}) {
  const clock = new FakeClock(Date.UTC(2026, 10, 30, 8));
  const api = new FakeApi(spec);
  const ecr = new FakeEcr(clock);
  const events: { type: string; reason: string; note: string }[] = [];
  const { reads, writes } = readYourWrites(api.reads(), api.writes());
  const deps = {
    reads,
    writes,
    tokens: new SharedTokenCache({ source: ecr, now: () => clock.now(), failureTtlMs: 0 }),
    events: { event: (_r: EcrRegistry, type: string, reason: string, _action: string, note: string) => events.push({ type, reason, note }) },
    clock,
    logger: silentLogger(),
    endpointAllowlist: createEndpointAllowlist(),
  };
  const reconcile = async () => {
    try {
      return await reconcileRegistry(deps, { namespace: NS, name: 'ecr' });
    } catch (error) {
      if (error instanceof RetryableRegistryError) return { retry: error.message };
      throw error;
    }
  };
  const condition = (type: string): Condition | undefined => findCondition(api.registry.status?.conditions, type);
  return { clock, api, ecr, events, reconcile, condition, deps };
}

function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}

const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
const rejected = () => Object.assign(new Error('The security token included in the request is invalid.'), { name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 400 } });

describe('reconcileRegistry', () => {
  describe('Ready follows the served token (cert-manager semantics)', () => {
    it('is Ready with Refreshed=True and neither Reconciling nor Stalled once the pull secret holds a token', async () => {
      const { api, reconcile, condition } = harness();
      await reconcile();
      expect(condition('Ready')).to.include({ status: 'True', reason: 'PullSecretReady', observedGeneration: 1 });
      expect(condition('Refreshed')).to.include({ status: 'True', reason: 'TokenRefreshed' });
      expect(condition('Reconciling')).to.equal(undefined);
      expect(condition('Stalled')).to.equal(undefined);
      expect(api.registry.status?.observedGeneration).to.equal(1);
      expect(api.registry.status?.expirationTime).to.equal('2026-11-30T20:00:00.000Z');
    });

    it('stays Ready while a refresh fails and the served token is valid, reporting Refreshed=False with the reason and the expiry', async () => {
      const { api, ecr, clock, events, reconcile, condition } = harness();
      await reconcile();
      api.sync();
      ecr.failure = rejected();
      clock.advance(7 * HOUR);
      await reconcile();
      expect(condition('Ready')).to.include({ status: 'True', reason: 'PullSecretReady' });
      expect(condition('Refreshed')).to.include({ status: 'False', reason: 'CredentialsRejected' });
      expect(condition('Refreshed')!.message).to.contain('keeps serving a token valid until 2026-11-30T20:00:00');
      expect(condition('Stalled')).to.equal(undefined);
      expect(events.at(-1)).to.include({ type: 'Warning', reason: 'CredentialsRejected' });
      expect(events.at(-1)!.note).to.contain('valid until 2026-11-30T20:00:00');
    });

    it('turns Ready=False and Stalled=True once the served token has expired and the keys are still rejected', async () => {
      const { api, ecr, clock, reconcile, condition } = harness();
      await reconcile();
      api.sync();
      ecr.failure = rejected();
      clock.advance(12 * HOUR + 1);
      const result = await reconcile();
      expect(condition('Ready')).to.include({ status: 'False', reason: 'CredentialsRejected' });
      expect(condition('Stalled')).to.include({ status: 'True', reason: 'CredentialsRejected' });
      expect(condition('Reconciling')).to.equal(undefined);
      expect(result).to.have.property('requeueAfterMs');
    });

    it('looks again no later than the served token expiry while a failure waits for a person', async () => {
      const { api, ecr, clock, reconcile } = harness();
      await reconcile();
      api.sync();
      ecr.failure = rejected();
      clock.advance(12 * HOUR - 60_000);
      expect(await reconcile()).to.deep.equal({ requeueAfterMs: 61_000 });
    });

    // Issue 14 (ECR down for longer than a token's life): the backoff may have grown past the expiry.
    it('asks to be retried no later than the served token expiry while ECR is unreachable', async () => {
      const { api, ecr, clock, reconcile, deps } = harness();
      await reconcile();
      api.sync();
      ecr.failure = Object.assign(new Error('We encountered an internal error'), { name: 'ServerException', $metadata: { httpStatusCode: 500 } });
      clock.advance(12 * HOUR - 60_000);
      const error = await reconcileRegistry(deps, { namespace: NS, name: 'ecr' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(RetryableRegistryError);
      expect((error as RetryableRegistryError).retryWithinMs, 'a look 1 s after the expiry').to.equal(61_000);
    });

    it('waits for a failure its credential set shares, without a backoff step of its own', async () => {
      const { api, ecr, clock, reconcile, deps } = harness();
      await reconcile();
      api.sync();
      const shared = { ...deps, tokens: new SharedTokenCache({ source: ecr, now: () => clock.now(), monotonicNow: () => clock.monotonicNow(), failureTtlMs: 5_000 }) };
      ecr.failure = throttled();
      clock.advance(7 * HOUR);
      const first = await reconcileRegistry(shared, { namespace: NS, name: 'ecr' }).then(() => undefined, (e: unknown) => e);
      clock.advance(1_000);
      const second = await reconcileRegistry(shared, { namespace: NS, name: 'ecr' }).then(() => undefined, (e: unknown) => e);
      expect(ecr.calls, 'one call made; the second reconcile met the shared failure').to.equal(2);
      expect(first).to.be.instanceOf(RetryableRegistryError).and.to.include({ backoff: true });
      expect(second).to.be.instanceOf(RetryableRegistryError).and.to.include({ backoff: false, retryWithinMs: 4_000 });
      expect(findCondition(api.registry.status?.conditions, 'Refreshed')).to.include({ status: 'False', reason: 'Throttled' });
    });

    it('reports Reconciling=True, not Stalled, when the first token is throttled', async () => {
      const { ecr, reconcile, condition } = harness();
      ecr.failure = throttled();
      expect(await reconcile()).to.have.property('retry');
      expect(condition('Ready')).to.include({ status: 'False', reason: 'Throttled' });
      expect(condition('Reconciling')).to.include({ status: 'True', reason: 'Throttled' });
      expect(condition('Stalled')).to.equal(undefined);
    });

    it('is not Ready for a spec whose hosts the held token does not cover (another region needs another token)', async () => {
      const { api, ecr, reconcile, condition } = harness();
      await reconcile();
      api.sync();
      ecr.failure = throttled();
      api.editSpec({ registry: '123456789012.dkr.ecr.us-west-2.amazonaws.com' });
      await reconcile();
      expect(condition('Ready')).to.include({ status: 'False', reason: 'Throttled', observedGeneration: 2 });
      expect(condition('Reconciling')).to.include({ status: 'True' });
    });

    it('is Stalled with EndpointNotAllowed for an endpoint outside the allowlist', async () => {
      const { reconcile, condition } = harness({ endpoint: 'https://ecr.example.com' });
      expect(await reconcile()).to.equal(undefined);
      expect(condition('Ready')).to.include({ status: 'False', reason: 'EndpointNotAllowed' });
      expect(condition('Stalled')).to.include({ status: 'True', reason: 'EndpointNotAllowed' });
    });
  });

  describe('defects found by review', () => {
    it('defect 2: clears a failure whose status echo has not reached the cache yet when the next reconcile succeeds', async () => {
      const { api, reconcile, condition } = harness();
      await reconcile();
      api.sync();
      // The keys' Secret is briefly gone: the failure is written while the cache still shows the healthy status …
      const keys = api.secrets.get('keys')!;
      api.secrets.delete('keys');
      await reconcile();
      expect(condition('Refreshed')).to.include({ status: 'False', reason: 'CredentialsSecretNotFound' });
      // … and it is back before the failure's echo arrives: the same status as the cached one must still be written.
      api.putSecret(keys);
      await reconcile();
      expect(condition('Refreshed')).to.include({ status: 'True', reason: 'TokenRefreshed' });
    });

    it('defect 1: a renamed pull secret moves every ServiceAccount entry to the new name and deletes the old Secret', async () => {
      const { api, reconcile } = harness({ pullSecret: { name: 'old', serviceAccounts: [{ name: 'app' }] } });
      api.putAccount({ metadata: { name: 'app' }, imagePullSecrets: [{ name: 'mine' }] });
      await reconcile();
      api.sync();
      expect(api.entries('app')).to.deep.equal(['mine', 'old']);
      api.editSpec({ pullSecret: { name: 'new', serviceAccounts: [{ name: 'app' }] } });
      await reconcile();
      expect(api.entries('app')).to.deep.equal(['mine', 'new']);
      expect(api.secrets.has('old')).to.equal(false);
      expect(api.registry.status?.pullSecretName).to.equal('new');
    });

    it('defect 1: keeps the old name in status and retries until the old Secret is deleted', async () => {
      const { api, reconcile } = harness({ pullSecret: { name: 'old' } });
      await reconcile();
      api.sync();
      api.editSpec({ pullSecret: { name: 'new' } });
      api.failDeleting.add('old');
      expect(await reconcile()).to.have.property('retry');
      expect(api.registry.status?.pullSecretName).to.equal('old');
      expect(api.secrets.has('old')).to.equal(true);
      api.sync();
      api.failDeleting.clear();
      await reconcile();
      expect(api.secrets.has('old')).to.equal(false);
      expect(api.registry.status?.pullSecretName).to.equal('new');
    });

    it('defect 3: a ServiceAccount that moved since it was read is retried quietly, with no false condition', async () => {
      const { api, reconcile, condition, events } = harness({ pullSecret: { serviceAccounts: [{ name: 'app' }] } });
      api.putAccount({ metadata: { name: 'app' } });
      const stale = structuredClone(api.accounts.get('app')!);
      api.putAccount({ ...stale, metadata: { ...stale.metadata, labels: { moved: 'yes' } } });
      api.staleAccounts.set('app', stale);
      const result = await reconcile();
      expect(api.staleAccountWrites).to.equal(1);
      expect(result).to.have.property('retry');
      expect(condition('ServiceAccountsReady')).to.equal(undefined);
      expect(condition('Ready')?.status).to.equal('True');
      expect(events.filter((e) => e.type === 'Warning')).to.deep.equal([]);
    });

    it('defect 5: a pull secret whose managed-by label was removed is re-adopted and relabelled, not reported as a conflict', async () => {
      const { api, ecr, reconcile, condition } = harness();
      await reconcile();
      api.sync();
      const secret = api.secrets.get('ecr')!;
      delete secret.metadata!.labels!['app.kubernetes.io/managed-by'];
      await reconcile();
      expect(condition('Ready')).to.include({ status: 'True', reason: 'PullSecretReady' });
      expect(api.secrets.get('ecr')!.metadata!.labels).to.include({ 'app.kubernetes.io/managed-by': 'ecr-pullsecrets-operator' });
      expect(ecr.calls).to.equal(1);
    });

    it('defect 5: an expiry annotation edited to later does not postpone the refresh past the recorded expiry', async () => {
      const { api, ecr, clock, reconcile } = harness();
      await reconcile();
      api.sync();
      api.secrets.get('ecr')!.metadata!.annotations![ANNOTATION_EXPIRES_AT] = '2030-01-01T00:00:00.000Z';
      clock.advance(7 * HOUR);
      await reconcile();
      expect(ecr.calls).to.equal(2);
      expect(api.registry.status?.expirationTime).to.equal('2026-12-01T03:00:00.000Z');
    });
  });
  describe('the writes a user needs (issue 15)', () => {
    const FINALIZER = 'ecr.pullsecrets.io/cleanup';

    it('serves a registry with no ServiceAccounts and no imports in two writes, with no finalizer and no Event', async () => {
      const { api, reconcile, events, condition } = harness();
      await reconcile();
      expect(api.writeLog).to.deep.equal(['create secret/ecr', 'status']);
      expect(api.registry.metadata.finalizers).to.equal(undefined);
      expect(condition('Ready')).to.include({ status: 'True' });
      expect(events).to.deep.equal([]);
    });

    it('refreshes on schedule with one Secret write and one status patch, and no Event', async () => {
      const { api, clock, ecr, reconcile, events } = harness();
      await reconcile();
      api.sync();
      api.writeLog.length = 0;
      clock.advance(7 * HOUR);
      await reconcile();
      expect(ecr.calls).to.equal(2);
      expect(api.writeLog).to.deep.equal(['replace secret/ecr', 'status']);
      expect(events).to.deep.equal([]);
    });

    it('adds the finalizer before the first ServiceAccount entry, and removes it once no entry is left to undo', async () => {
      const { api, reconcile } = harness({ pullSecret: { serviceAccounts: [{ name: 'app' }] } });
      api.putAccount({ metadata: { name: 'app' } });
      await reconcile();
      expect(api.writeLog).to.deep.equal([`finalizers [${FINALIZER}]`, 'create secret/ecr', 'add sa/app', 'status']);
      api.sync();
      api.writeLog.length = 0;
      api.editSpec({ pullSecret: {} });
      await reconcile();
      expect(api.entries('app')).to.deep.equal([]);
      expect(api.writeLog).to.deep.equal(['remove sa/app', 'status', 'finalizers []']);
      api.sync();
      api.writeLog.length = 0;
      await reconcile();
      expect(api.writeLog, 'steady').to.deep.equal([]);
    });

    it('adds the finalizer once an ImageImport uses the registry, and keeps it while one does', async () => {
      const { api, reconcile } = harness();
      await reconcile();
      api.sync();
      api.users = ['app'];
      await reconcile();
      expect(api.registry.metadata.finalizers).to.deep.equal([FINALIZER]);
      api.sync();
      api.writeLog.length = 0;
      await reconcile();
      expect(api.writeLog).to.deep.equal([]);
      api.users = [];
      await reconcile();
      expect(api.registry.metadata.finalizers).to.deep.equal([]);
    });

    it('serves while ImageImports are not listed yet, keeping a finalizer it cannot yet tell is unneeded', async () => {
      const { api, reconcile, condition } = harness();
      api.users = undefined;
      await reconcile();
      expect(api.writeLog).to.deep.equal(['create secret/ecr', 'status']);
      expect(condition('Ready')).to.include({ status: 'True' });
      api.sync();
      api.users = ['app'];
      await reconcile();
      api.sync();
      api.users = undefined;
      api.writeLog.length = 0;
      await reconcile();
      expect(api.writeLog).to.deep.equal([]);
      expect(api.registry.metadata.finalizers).to.deep.equal([FINALIZER]);
    });

    it('writes a Normal Refreshed Event for a new token after a failed refresh, naming the failure', async () => {
      const { api, ecr, clock, reconcile, events } = harness();
      await reconcile();
      api.sync();
      clock.advance(7 * HOUR);
      ecr.failure = throttled();
      await reconcile();
      api.sync();
      ecr.failure = undefined;
      await reconcile();
      expect(events.map((e) => `${e.type} ${e.reason}`)).to.deep.equal(['Warning Throttled', 'Normal Refreshed']);
      expect(events[1]!.note).to.match(/holds a new token that expires at \S+, after the last refresh failed \(Throttled\)$/);
    });

    it('writes a Normal Refreshed Event for a new token the spec asked for', async () => {
      const { api, reconcile, events } = harness();
      await reconcile();
      api.sync();
      api.editSpec({ registry: '123456789012.dkr.ecr.us-east-1.amazonaws.com', pullSecret: { name: 'renamed' } });
      await reconcile();
      expect(events.map((e) => `${e.type} ${e.reason}`)).to.deep.equal(['Normal Refreshed']);
      expect(events[0]!.note).to.match(/^Pull secret renamed holds a new token .*, after the spec changed \(generation 2\)$/);
    });
  });
});
