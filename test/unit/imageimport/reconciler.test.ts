import type { V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { EcrRegistry } from '../../../src/api/ecr-registry.ts';
import type { ImageImport } from '../../../src/api/image-import.ts';
import { createEndpointAllowlist } from '../../../src/aws/endpoint-allowlist.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import type { EcrImageReader } from '../../../src/imageimport/ecr-images.ts';
import { ImportLedger } from '../../../src/imageimport/import-ledger.ts';
import { type ImageImportReconcilerDeps, reconcileImageImport } from '../../../src/imageimport/reconciler.ts';
import type { ImageImportStatusPatch } from '../../../src/imageimport/store.ts';
import { renderDockerConfigJson } from '../../../src/registry/docker-config.ts';
import { ExponentialBackoffRateLimiter } from '../../../src/runtime/rate-limiter.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { configBlob, type Doc, imageManifest, OCI_MANIFEST } from './images.ts';

const NS = 'team';
const HOST = '111122223333.dkr.ecr.us-east-1.amazonaws.com';
const KEY = { namespace: NS, name: 'app' };

function readyRegistry(): EcrRegistry {
  return {
    apiVersion: 'ecr.pullsecrets.io/v1alpha1',
    kind: 'EcrRegistry',
    metadata: { name: 'prod', namespace: NS, uid: 'registry-uid', generation: 1 },
    spec: { registry: HOST, credentials: { secretRef: { name: 'aws-keys' } } },
    status: { pullSecretName: 'prod', conditions: [{ type: 'Ready', status: 'True', reason: 'PullSecretReady', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' }] },
  };
}

const secrets: Record<string, V1Secret> = {
  'aws-keys': { metadata: { name: 'aws-keys' }, data: { AWS_ACCESS_KEY_ID: b64('AKIAEXAMPLEEXAMPLE00'), AWS_SECRET_ACCESS_KEY: b64('secret-access-key') } },
  prod: {
    metadata: {
      name: 'prod',
      labels: { 'app.kubernetes.io/managed-by': 'ecr-pullsecrets-operator' },
      ownerReferences: [{ apiVersion: 'ecr.pullsecrets.io/v1alpha1', kind: 'EcrRegistry', name: 'prod', uid: 'registry-uid', controller: true }],
    },
    data: { '.dockerconfigjson': b64(renderDockerConfigJson([HOST], { username: 'AWS', password: 'registry-token' })) },
  },
};

function b64(text: string): string {
  return Buffer.from(text).toString('base64');
}

interface Harness {
  deps: ImageImportReconcilerDeps;
  clock: FakeClock;
  object: ImageImport;
  registry: { current: EcrRegistry | undefined };
  tags: Map<string, Doc>;
  blobs: Map<string, string>;
  ecrCalls: string[];
  patches: ImageImportStatusPatch[];
  events: string[];
  /** When true, status writes do not reach the cache (the informer lags). */
  lagging: { value: boolean };
}

function harness(spec: Partial<ImageImport['spec']> = {}): Harness {
  const clock = new FakeClock(Date.UTC(2025, 0, 1, 8));
  const config = configBlob({ Cmd: ['app'] });
  const tags = new Map<string, Doc>([['latest', imageManifest(config)]]);
  const blobs = new Map<string, string>([[config.digest, config.text]]);
  const object: ImageImport = {
    apiVersion: 'ecr.pullsecrets.io/v1alpha1',
    kind: 'ImageImport',
    metadata: { name: 'app', namespace: NS, uid: 'import-uid', generation: 1 },
    spec: { registryRef: { name: 'prod' }, repository: 'team/app', tags: ['latest'], importPolicy: { interval: '1h' }, ...spec },
  };
  const h: Harness = {
    clock,
    object,
    registry: { current: readyRegistry() },
    tags,
    blobs,
    ecrCalls: [],
    patches: [],
    events: [],
    lagging: { value: false },
    deps: undefined as unknown as ImageImportReconcilerDeps,
  };
  const ecr: EcrImageReader = {
    async manifestsOf(_repository, wanted) {
      h.ecrCalls.push('BatchGetImage');
      const found = wanted.flatMap((tag) => {
        const doc = tags.get(tag);
        return doc ? [{ tag, digest: doc.digest, mediaType: OCI_MANIFEST, manifest: doc.text }] : [];
      });
      return { found, failed: wanted.filter((t) => !tags.has(t)).map((tag) => ({ tag, code: 'ImageNotFound', reason: '' })) };
    },
    async describe(_repository, digests) {
      h.ecrCalls.push('DescribeImages');
      return digests.map((digest) => ({ digest, sizeBytes: 1 }));
    },
    close() {},
  };
  h.deps = {
    reads: {
      imageImport: () => object,
      registry: () => h.registry.current,
      clusterRegistry: () => undefined,
      selects: () => false,
      secret: async (_ns, name) => secrets[name],
      serviceAccount: async () => undefined,
    },
    writes: {
      async patchStatus(_object, patch) {
        h.patches.push(patch);
        if (h.lagging.value) return;
        const status: Record<string, unknown> = { ...object.status };
        for (const [k, v] of Object.entries(patch)) {
          if (v === null) delete status[k];
          else status[k] = v;
        }
        object.status = status;
      },
    },
    events: { event: (_o, type, reason, _action, note) => h.events.push(`${type} ${reason}: ${note}`) },
    clock,
    logger: silentLogger(),
    endpointAllowlist: createEndpointAllowlist(),
    openEcr: () => ecr,
    openRegistry: () => ({
      async manifest() {
        throw new Error('not used');
      },
      async blob(_repository, digest) {
        return Buffer.from(blobs.get(digest) ?? '');
      },
    }),
    ledger: new ImportLedger(),
    retryBackoff: new ExponentialBackoffRateLimiter({ baseDelayMs: 5_000, maxDelayMs: 300_000, jitter: 0 }),
    random: () => 0.5,
  };
  return h;
}

const ready = (object: ImageImport) => object.status?.conditions?.find((c) => c.type === 'Ready');

describe('reconcileImageImport', () => {
  it('imports, writes status once and schedules the next import after the interval', async () => {
    const h = harness();
    const result = await reconcileImageImport(h.deps, KEY);
    expect(h.ecrCalls).to.deep.equal(['BatchGetImage', 'DescribeImages']);
    expect(h.patches).to.have.length(1);
    expect(ready(h.object)).to.include({ status: 'True', reason: 'Imported' });
    expect(h.object.status?.tags?.[0]).to.include({ pullable: true, image: `${HOST}/team/app@${h.tags.get('latest')!.digest}` });
    expect(result).to.deep.equal({ requeueAfterMs: 3_600_000 });
    expect(h.events).to.deep.equal([`Normal Imported: ${ready(h.object)?.message}`]);
  });

  it('does nothing on a reconcile before the next import is due', async () => {
    const h = harness();
    await reconcileImageImport(h.deps, KEY);
    h.clock.advance(60_000);
    const result = await reconcileImageImport(h.deps, KEY);
    expect(h.ecrCalls).to.have.length(2);
    expect(h.patches).to.have.length(1);
    expect(result).to.deep.equal({ requeueAfterMs: 3_540_000 });
  });

  it('does not import twice when the cache has not yet seen its own status write', async () => {
    const h = harness();
    h.lagging.value = true;
    await reconcileImageImport(h.deps, KEY);
    await reconcileImageImport(h.deps, KEY);
    expect(h.ecrCalls).to.deep.equal(['BatchGetImage', 'DescribeImages']);
  });

  it('imports again when the interval has passed, and reports a moved tag with history and a TagUpdated Event', async () => {
    const h = harness();
    await reconcileImageImport(h.deps, KEY);
    const before = h.tags.get('latest')!.digest;
    const config = configBlob({ Cmd: ['app', '--v2'] });
    const moved = imageManifest(config);
    h.blobs.set(config.digest, config.text);
    h.tags.set('latest', moved);
    h.clock.advance(3_600_000);
    await reconcileImageImport(h.deps, KEY);
    expect(h.ecrCalls).to.have.length(4);
    expect(h.object.status?.tags?.[0]?.digest).to.equal(moved.digest);
    expect(h.object.status?.tags?.[0]?.history?.[0]?.digest).to.equal(before);
    expect(h.object.status?.tags?.[0]?.config).to.deep.equal({ cmd: ['app', '--v2'] });
    expect(h.events).to.include(`Normal TagUpdated: Tag latest moved from ${before} to ${moved.digest}`);
  });

  it('imports at once after a spec change', async () => {
    const h = harness();
    await reconcileImageImport(h.deps, KEY);
    h.object.metadata.generation = 2;
    h.object.spec = { ...h.object.spec, tags: ['latest', 'v2'] };
    await reconcileImageImport(h.deps, KEY);
    expect(h.ecrCalls).to.have.length(4);
    expect(ready(h.object)).to.include({ status: 'False', reason: 'TagNotFound' });
    expect(h.events.at(-1)).to.match(/^Warning TagNotFound: Tag v2 not found/);
  });

  it('re-checks a missing tag sooner than the interval (at most 5 min)', async () => {
    const h = harness({ tags: ['latest', 'v2'] });
    const result = await reconcileImageImport(h.deps, KEY);
    expect(result).to.deep.equal({ requeueAfterMs: 300_000 });
  });

  it('waits for a missing registry without a timer, and imports as soon as it is Ready', async () => {
    const h = harness();
    h.registry.current = undefined;
    expect(await reconcileImageImport(h.deps, KEY)).to.equal(undefined);
    expect(ready(h.object)).to.include({ status: 'False', reason: 'RegistryNotFound' });
    expect(h.ecrCalls).to.deep.equal([]);
    // Repeated reconciles (other events) change nothing.
    await reconcileImageImport(h.deps, KEY);
    expect(h.patches).to.have.length(1);

    const notReady = readyRegistry();
    notReady.status!.conditions![0]!.status = 'False';
    h.registry.current = notReady;
    expect(await reconcileImageImport(h.deps, KEY)).to.equal(undefined);
    expect(ready(h.object)).to.include({ status: 'False', reason: 'RegistryNotReady' });
    expect(h.ecrCalls).to.deep.equal([]);

    h.registry.current = readyRegistry();
    await reconcileImageImport(h.deps, KEY);
    expect(h.ecrCalls).to.deep.equal(['BatchGetImage', 'DescribeImages']);
    expect(ready(h.object)).to.include({ status: 'True', reason: 'Imported' });
  });

  it('starts from the CRD default status, reports Reconciling or Stalled while it waits, and neither once Ready', async () => {
    const h = harness();
    h.object.status = { observedGeneration: -1 };
    const progress = () => h.object.status?.conditions?.filter((c) => c.type === 'Reconciling' || c.type === 'Stalled').map((c) => `${c.type}/${c.reason}`);

    const pending = readyRegistry();
    pending.status!.conditions = [{ type: 'Ready', status: 'False', reason: 'Progressing', message: 'first token', lastTransitionTime: '2025-01-01T00:00:00Z' }];
    h.registry.current = pending;
    await reconcileImageImport(h.deps, KEY);
    expect(h.object.status?.observedGeneration).to.equal(1);
    expect(progress()).to.deep.equal(['Reconciling/RegistryNotReady']);

    const stalled = readyRegistry();
    stalled.status!.conditions = [
      { type: 'Ready', status: 'False', reason: 'CredentialsRejected', message: 'rejected', lastTransitionTime: '2025-01-01T00:00:00Z' },
      { type: 'Stalled', status: 'True', reason: 'CredentialsRejected', message: 'rejected', lastTransitionTime: '2025-01-01T00:00:00Z' },
    ];
    h.registry.current = stalled;
    await reconcileImageImport(h.deps, KEY);
    expect(progress()).to.deep.equal(['Stalled/RegistryNotReady']);
    expect(h.ecrCalls).to.deep.equal([]);

    h.registry.current = readyRegistry();
    await reconcileImageImport(h.deps, KEY);
    expect(ready(h.object)).to.include({ status: 'True', reason: 'Imported' });
    expect(progress()).to.deep.equal([]);
  });

  it('makes no scheduled imports while suspended, and says so', async () => {
    const h = harness({ importPolicy: { interval: '1h', suspend: true } });
    expect(await reconcileImageImport(h.deps, KEY)).to.equal(undefined);
    expect(h.object.status?.conditions?.find((c) => c.type === 'Suspended')).to.include({ status: 'True' });
    expect(h.object.status?.nextImportTime).to.equal(undefined);
    h.clock.advance(10 * 3_600_000);
    await reconcileImageImport(h.deps, KEY);
    expect(h.ecrCalls).to.have.length(2);
  });

  it('backs off on a failure that retrying fixes', async () => {
    const h = harness();
    h.deps.openEcr = () => ({
      async manifestsOf() {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      },
      async describe() {
        return [];
      },
      close() {},
    });
    expect(await reconcileImageImport(h.deps, KEY)).to.deep.equal({ requeueAfterMs: 5_000 });
    h.clock.advance(5_000);
    expect(await reconcileImageImport(h.deps, KEY)).to.deep.equal({ requeueAfterMs: 10_000 });
    expect(ready(h.object)).to.include({ status: 'False', reason: 'Throttled' });
  });

  it('forgets an ImageImport that is gone', async () => {
    const h = harness();
    await reconcileImageImport(h.deps, KEY);
    expect(h.deps.ledger.size).to.equal(1);
    h.deps.reads.imageImport = () => undefined;
    expect(await reconcileImageImport(h.deps, KEY)).to.equal(undefined);
    expect(h.deps.ledger.size).to.equal(0);
  });

  it('never puts a credential or token into status or Events', async () => {
    const h = harness();
    h.deps.openEcr = () => ({
      async manifestsOf() {
        throw Object.assign(new Error('The security token AKIAEXAMPLEEXAMPLE00 secret-access-key is invalid'), { name: 'UnrecognizedClientException' });
      },
      async describe() {
        return [];
      },
      close() {},
    });
    await reconcileImageImport(h.deps, KEY);
    const written = JSON.stringify(h.patches) + h.events.join('\n');
    expect(ready(h.object)).to.include({ reason: 'CredentialsRejected' });
    for (const secret of ['AKIAEXAMPLEEXAMPLE00', 'secret-access-key', 'registry-token']) expect(written).to.not.include(secret);
  });
});
