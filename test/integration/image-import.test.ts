import { randomBytes } from 'node:crypto';
import type { EventsV1Event } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { EcrRegistry, EcrRegistrySpec } from '../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, GROUP_VERSION, IMAGE_IMPORT } from '../../src/api/group.ts';
import type { ImageImport, ImageImportSpec, TagStatus } from '../../src/api/image-import.ts';
import type { Condition } from '../../src/api/meta.ts';
import { mergePatch } from '../../src/kube/clients.ts';
import { type AccessKey, EcrEmulator, MEDIA_TYPES } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
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
} from '../support/fixtures.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const CREDENTIALS = 'aws-keys';
const REGISTRY = 'prod';
const IMPORT = 'app';

const importPath = (namespace: string) => ({ group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, namespace });

describe('ImageImport controller', function () {
  this.timeout(120_000);
  let emulator: EcrEmulator;
  let operator: TestOperator;
  let namespace: string;
  let repository: string;
  const secretsSeen = new Set<string>();
  const importsSeen: string[] = [];
  const figures: string[] = [];

  before(async () => {
    emulator = await EcrEmulator.start();
    operator = await startTestOperator({ allowedEndpoints: [emulator.url], stsEndpoint: emulator.url });
  });
  after(async () => {
    await operator?.stop();
    await emulator?.stop();
    if (figures.length > 0) process.stderr.write(`      figures:\n${figures.map((f) => `        ${f}`).join('\n')}\n`);
  });
  beforeEach(async function () {
    // Tests that shorten the tokens must not shorten the next test's: a registry would refresh in the middle of it.
    emulator.tokenLifetimeSeconds = 12 * 60 * 60;
    namespace = await createTestNamespace(this.currentTest?.title.slice(0, 30) ?? 'imageimport');
    // A repository of its own per test, so tests sharing the emulator cannot see each other's images.
    repository = `team/app-${randomBytes(3).toString('hex')}`;
  });
  afterEach(async () => {
    emulator.clearFaults();
    // A bare apiserver never empties a deleted namespace: delete what would otherwise keep importing.
    const { items } = (await adminClients().custom.listNamespacedCustomObject(importPath(namespace))) as { items: ImageImport[] };
    importsSeen.push(JSON.stringify(items));
    for (const item of items) await deleteImport(item.metadata.name!).catch(() => undefined);
    await deleteRegistry(namespace, REGISTRY).catch(() => undefined);
    await deleteTestNamespace(namespace);
  });

  const repo = () => ({ accountId: ACCOUNT, region: REGION, repository });

  function newKey(): AccessKey {
    const key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    secretsSeen.add(key.accessKeyId);
    secretsSeen.add(key.secretAccessKey);
    return key;
  }

  async function credentialsFor(key: AccessKey): Promise<void> {
    await createCredentialsSecret(namespace, CREDENTIALS, { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey });
  }

  function registrySpec(extra: Partial<EcrRegistrySpec> = {}): EcrRegistrySpec {
    return { registry: HOST, endpoint: emulator.url, credentials: { secretRef: { name: CREDENTIALS } }, ...extra };
  }

  /** A key, its credentials Secret and a Ready EcrRegistry using them. */
  async function readyRegistry(): Promise<AccessKey> {
    const key = newKey();
    await credentialsFor(key);
    await createRegistry(namespace, REGISTRY, registrySpec());
    await waitForRegistry('True');
    const pullSecret = await eventually(async () => (await readSecret(namespace, REGISTRY))!);
    secretsSeen.add(pullSecretPassword(pullSecret, HOST));
    return key;
  }

  async function waitForRegistry(status: 'True' | 'False'): Promise<EcrRegistry> {
    return eventually(
      async () => {
        const registry = await getRegistry(namespace, REGISTRY);
        expect(readyCondition(registry)?.status, 'registry Ready').to.equal(status);
        return registry;
      },
      { timeoutMs: 30_000 },
    );
  }

  async function createImport(spec: Partial<ImageImportSpec>, name = IMPORT): Promise<ImageImport> {
    const body = {
      apiVersion: GROUP_VERSION,
      kind: IMAGE_IMPORT.kind,
      metadata: { name, namespace },
      spec: { registryRef: { name: REGISTRY }, repository, ...spec },
    };
    return (await adminClients().custom.createNamespacedCustomObject({ ...importPath(namespace), body })) as ImageImport;
  }

  async function getImport(name = IMPORT): Promise<ImageImport> {
    return (await adminClients().custom.getNamespacedCustomObject({ ...importPath(namespace), name })) as ImageImport;
  }

  async function deleteImport(name = IMPORT): Promise<void> {
    await adminClients().custom.deleteNamespacedCustomObject({ ...importPath(namespace), name });
  }

  function ready(imageImport: ImageImport): Condition | undefined {
    return imageImport.status?.conditions?.find((c) => c.type === 'Ready');
  }

  /** kstatus's conditions, as `Type=Status/Reason`. */
  function progress(imageImport: ImageImport): string[] {
    return (imageImport.status?.conditions ?? []).filter((c) => c.type === 'Reconciling' || c.type === 'Stalled').map((c) => `${c.type}=${c.status}/${c.reason}`);
  }

  function tag(imageImport: ImageImport, name: string): TagStatus {
    const status = imageImport.status?.tags?.find((t) => t.tag === name);
    if (!status) throw new Error(`no status for tag ${name}: ${JSON.stringify(imageImport.status)}`);
    return status;
  }

  /** Waits until the import's Ready condition has this status and reason, for its current generation. */
  async function waitForImport(status: 'True' | 'False', reason: string, timeoutMs = 30_000, name = IMPORT): Promise<ImageImport> {
    return eventually(
      async () => {
        const imageImport = await getImport(name);
        expect(ready(imageImport), `Ready of ${name}: ${JSON.stringify(ready(imageImport))}`).to.include({ status, reason });
        expect(imageImport.status?.observedGeneration).to.equal(imageImport.metadata.generation);
        return imageImport;
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  async function importEvents(reason: string): Promise<EventsV1Event[]> {
    await operator.operator.events.flush();
    return (await listEvents(namespace)).filter((e) => e.regarding?.kind === 'ImageImport' && e.reason === reason);
  }

  const calls = (key: AccessKey, action: string) => emulator.callCount({ action, accessKeyId: key.accessKeyId });

  it('imports two tags with their digests, platforms and config, and proves them pullable with the pull secret', async () => {
    const key = await readyRegistry();
    emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
    const single = emulator.pushImage({
      ...repo(),
      tags: ['latest'],
      config: {
        Entrypoint: ['/usr/bin/tini', '--'],
        Cmd: ['app', '--port=8080'],
        WorkingDir: '/srv',
        User: '1000',
        Labels: { 'org.opencontainers.image.source': 'https://github.com/example/app' },
      },
    });
    const multi = emulator.pushIndex({
      ...repo(),
      tags: ['v1'],
      manifests: [
        { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, config: { Cmd: ['arm64'] } },
        { platform: { os: 'linux', architecture: 'amd64' }, config: { Cmd: ['amd64'], WorkingDir: '/amd' } },
      ],
    });
    const pullSecretBefore = await readSecret(namespace, REGISTRY);
    secretsSeen.add(pullSecretPassword(pullSecretBefore!, HOST));

    const created = Date.now();
    await createImport({ tags: ['latest', 'v1'], defaultTag: 'latest', description: 'The app', deprecated: false });
    const imageImport = await waitForImport('True', 'Imported');
    figures.push(`first import: Ready ${Date.now() - created} ms after create`);

    const status = imageImport.status!;
    expect(status).to.include({ pullSecretName: REGISTRY, defaultTag: 'latest', defaultDigest: single.digest, defaultShortDigest: single.digest.slice(7, 19) });
    expect(Date.parse(status.nextImportTime!) - Date.parse(status.lastImportTime!)).to.be.within(0.95 * 3_600_000, 1.05 * 3_600_000);

    const latest = tag(imageImport, 'latest');
    expect(latest).to.deep.include({
      digest: single.digest,
      image: `${HOST}/${repository}@${single.digest}`,
      mediaType: MEDIA_TYPES.ociManifest,
      sizeBytes: single.sizeInBytes,
      pullable: true,
      config: {
        entrypoint: ['/usr/bin/tini', '--'],
        cmd: ['app', '--port=8080'],
        workingDir: '/srv',
        user: '1000',
        labels: { 'org.opencontainers.image.source': 'https://github.com/example/app' },
      },
    });
    expect(Date.parse(latest.pushedAt!)).to.be.closeTo(single.pushedAt.getTime(), 1000);
    expect(latest.platforms).to.equal(undefined);

    const v1 = tag(imageImport, 'v1');
    expect(v1).to.deep.include({
      digest: multi.digest,
      image: `${HOST}/${repository}@${multi.digest}`,
      mediaType: MEDIA_TYPES.ociIndex,
      pullable: true,
      platforms: [
        { os: 'linux', architecture: 'arm64', variant: 'v8', digest: multi.manifests[0]!.digest },
        { os: 'linux', architecture: 'amd64', digest: multi.manifests[1]!.digest },
      ],
      // The index's config is linux/amd64's, wherever it is listed.
      config: { cmd: ['amd64'], workingDir: '/amd' },
    });
    for (const t of [latest, v1]) {
      expect(t.conditions?.map((c) => `${c.type}=${c.status}`)).to.deep.equal(['Resolved=True', 'Pullable=True']);
    }

    expect({ batchGetImage: calls(key, 'BatchGetImage'), describeImages: calls(key, 'DescribeImages') }).to.deep.equal({ batchGetImage: 1, describeImages: 1 });
    // Two config blobs and, for the index, the amd64 manifest: all through the registry with the pull secret's token.
    expect(calls(key, 'RegistryV2.Blob')).to.equal(2);
    expect(calls(key, 'RegistryV2.Manifest')).to.equal(1);

    const table = await testEnv().kubectl(['get', 'imageimports', '--namespace', namespace]);
    expect(table.stdout).to.match(new RegExp(`${IMPORT}\\s+${repository}\\s+latest\\s+${single.digest.slice(7, 19)}\\s+True`));

    expect((await readSecret(namespace, REGISTRY))?.metadata?.resourceVersion, 'pull secret untouched').to.equal(pullSecretBefore?.metadata?.resourceVersion);
    expect(await importEvents('Imported')).to.have.length(1);
  });

  it('picks up a moved tag on the next cycle, with history and a TagUpdated Event', async () => {
    await readyRegistry();
    emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
    const first = emulator.pushImage({ ...repo(), tags: ['latest'], config: { Cmd: ['v1'] } });
    await createImport({ tags: ['latest'], importPolicy: { interval: '10s' } });
    const before = await waitForImport('True', 'Imported');
    const firstSeen = tag(before, 'latest').digestChangedAt!;

    const second = emulator.pushImage({ ...repo(), tags: ['latest'], config: { Cmd: ['v2'] } });
    const moved = Date.now();
    const after = await eventually(
      async () => {
        const imageImport = await getImport();
        expect(tag(imageImport, 'latest').digest).to.equal(second.digest);
        return imageImport;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    figures.push(`tag move picked up ${Date.now() - moved} ms after the push (interval 10s)`);

    const latest = tag(after, 'latest');
    expect(latest).to.deep.include({ image: `${HOST}/${repository}@${second.digest}`, pullable: true, config: { cmd: ['v2'] } });
    expect(latest.history).to.deep.equal([{ digest: first.digest, firstSeen }]);
    expect(Date.parse(latest.digestChangedAt!)).to.be.above(Date.parse(firstSeen));
    expect(after.status?.defaultDigest).to.equal(second.digest);
    expect(ready(after)).to.include({ status: 'True', reason: 'Imported' });

    const events = await eventually(async () => {
      const found = await importEvents('TagUpdated');
      expect(found).to.have.length(1);
      return found;
    });
    expect(events[0]).to.include({ type: 'Normal', note: `Tag latest moved from ${first.digest} to ${second.digest}` });
  });

  it('keeps importing while its registry fails to refresh a token that is still valid', async () => {
    emulator.tokenLifetimeSeconds = 40;
    const key = await readyRegistry();
    emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
    emulator.pushImage({ ...repo(), tags: ['latest'], config: { Cmd: ['v1'] } });
    await createImport({ tags: ['latest'], importPolicy: { interval: '10s' } });
    await waitForImport('True', 'Imported');
    // Refreshes fail from now on (the registry would refresh at about half of the 40 s life).
    emulator.injectFault({ kind: 'throttle', action: 'GetAuthorizationToken', accessKeyId: key.accessKeyId });
    const failing = await eventually(
      async () => {
        const registry = await getRegistry(namespace, REGISTRY);
        expect(registry.status?.conditions?.find((c) => c.type === 'Refreshed')).to.include({ status: 'False', reason: 'Throttled' });
        return registry;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(failing.status?.conditions?.find((c) => c.type === 'Ready')).to.include({ status: 'True' });
    const moved = emulator.pushImage({ ...repo(), tags: ['latest'], config: { Cmd: ['v2'] } });
    const imported = await eventually(
      async () => {
        const imageImport = await getImport();
        expect(tag(imageImport, 'latest').digest).to.equal(moved.digest);
        return imageImport;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(ready(imported)).to.include({ status: 'True', reason: 'Imported' });
    expect(Date.parse((await getRegistry(namespace, REGISTRY)).status!.expirationTime!), 'imported before the token expired').to.be.above(Date.now());
    emulator.clearFaults();
  });

  it('assumes a registry role once for its token and every import cycle, not once per client', async () => {
    const key = newKey();
    await credentialsFor(key);
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/ecr-puller`;
    emulator.addRole({ roleArn });
    emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
    emulator.pushImage({ ...repo(), tags: ['latest'] });
    // The role session's calls carry its temporary key, so count this test's calls by action.
    emulator.resetCounters();
    await createRegistry(namespace, REGISTRY, registrySpec({ credentials: { secretRef: { name: CREDENTIALS }, roleArn } }));
    await waitForRegistry('True');
    await createImport({ tags: ['latest'], importPolicy: { interval: '10s' } });
    const firstCycle = (await waitForImport('True', 'Imported')).status?.lastImportTime;
    await eventually(async () => expect((await getImport()).status?.lastImportTime).to.not.equal(firstCycle), { timeoutMs: 25_000, intervalMs: 100 });
    expect(emulator.callCount({ action: 'GetAuthorizationToken' }), 'token refreshes').to.equal(1);
    expect(emulator.callCount({ action: 'BatchGetImage' }), 'import cycles').to.be.at.least(2);
    expect(emulator.callCount({ action: 'AssumeRole', accessKeyId: key.accessKeyId }), 'AssumeRole calls').to.equal(1);
  });

  it('holds to one BatchGetImage and one DescribeImages per import cycle', async () => {
    const key = await readyRegistry();
    emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
    emulator.pushImage({ ...repo(), tags: ['latest', 'stable'] });
    emulator.pushIndex({ ...repo(), tags: ['v1'], manifests: [{ platform: { os: 'linux', architecture: 'amd64' } }, { platform: { os: 'linux', architecture: 'arm64' } }] });
    await createImport({ tags: ['latest', 'stable', 'v1', 'missing'], importPolicy: { interval: '10s' } });

    // Each cycle writes a new lastImportTime; counters are read right after one, with the next ~10 s away.
    const cycles: Array<{ at: string; batchGetImage: number; describeImages: number; registryV2: number }> = [];
    const started = Date.now();
    await eventually(
      async () => {
        const at = (await getImport()).status?.lastImportTime;
        if (at && cycles.at(-1)?.at !== at) {
          cycles.push({ at, batchGetImage: calls(key, 'BatchGetImage'), describeImages: calls(key, 'DescribeImages'), registryV2: calls(key, 'RegistryV2') });
        }
        expect(cycles.length, 'cycles seen').to.be.at.least(3);
      },
      { timeoutMs: 45_000, intervalMs: 50 },
    );
    const cycleSeconds = (Date.now() - started) / 1000;
    cycles.forEach((cycle, i) => {
      expect(cycle, `after cycle ${i + 1}`).to.include({ batchGetImage: i + 1, describeImages: i + 1 });
    });
    const v2PerCycle = cycles.map((c, i) => c.registryV2 - (cycles[i - 1]?.registryV2 ?? 0));
    figures.push(
      `call budget over ${cycles.length} cycles (${cycleSeconds.toFixed(1)} s, 4 tags, 1 missing): ` +
        `BatchGetImage ${cycles.at(-1)!.batchGetImage}, DescribeImages ${cycles.at(-1)!.describeImages}, registry v2 requests per cycle ${v2PerCycle.join('/')}`,
    );
    // A missing tag keeps the others resolved.
    const imageImport = await getImport();
    expect(ready(imageImport)).to.include({ status: 'False', reason: 'TagNotFound' });
    expect(imageImport.status?.tags?.filter((t) => t.digest).map((t) => t.tag)).to.deep.equal(['latest', 'stable', 'v1']);
  });

  describe('reports why it cannot import, and recovers by itself once fixed', () => {
    it('a missing tag', async () => {
      await readyRegistry();
      emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
      const latest = emulator.pushImage({ ...repo(), tags: ['latest'] });
      await createImport({ tags: ['latest', 'v2', 'v3'], importPolicy: { interval: '10s' } });
      const missing = await waitForImport('False', 'TagNotFound');
      expect(ready(missing)?.message).to.equal(`Tags v2, v3 not found in repository ${repository}; 1 of 3 tags resolved`);
      expect(tag(missing, 'latest')).to.include({ digest: latest.digest, pullable: true });
      expect(tag(missing, 'v2').digest).to.equal(undefined);
      expect(tag(missing, 'v2').conditions?.find((c) => c.type === 'Resolved')).to.include({ status: 'False', reason: 'TagNotFound' });
      expect(await importEvents('TagNotFound')).to.have.length(1);

      emulator.pushImage({ ...repo(), tags: ['v2', 'v3'] });
      const fixed = Date.now();
      await waitForImport('True', 'Imported', 25_000);
      figures.push(`missing tag: Ready ${Date.now() - fixed} ms after the push (interval 10s)`);
    });

    it('a missing repository', async () => {
      await readyRegistry();
      await createImport({ tags: ['latest'], importPolicy: { interval: '10s' } });
      const missing = await waitForImport('False', 'RepositoryNotFound');
      expect(ready(missing)?.message).to.match(/^BatchGetImage failed: RepositoryNotFoundException: /);
      expect(progress(missing)).to.deep.equal(['Stalled=True/RepositoryNotFound']);
      expect(tag(missing, 'latest').conditions?.[0]).to.include({ type: 'Resolved', status: 'False', reason: 'RepositoryNotFound' });

      emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
      emulator.pushImage({ ...repo(), tags: ['latest'] });
      const fixed = Date.now();
      await waitForImport('True', 'Imported', 25_000);
      figures.push(`missing repository: Ready ${Date.now() - fixed} ms after it was created (interval 10s)`);
    });

    it('access denied', async () => {
      const key = await readyRegistry();
      emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
      emulator.pushImage({ ...repo(), tags: ['latest'] });
      const denied = emulator.injectFault({ kind: 'accessDenied', action: 'BatchGetImage', accessKeyId: key.accessKeyId });
      await createImport({ tags: ['latest'], importPolicy: { interval: '10s' } });
      const refused = await waitForImport('False', 'AccessDenied');
      expect(ready(refused)?.message).to.match(/^BatchGetImage failed: AccessDeniedException: .*not authorized to perform: ecr:BatchGetImage/);
      expect(await importEvents('AccessDenied')).to.have.length(1);

      denied.clear();
      const fixed = Date.now();
      await waitForImport('True', 'Imported', 25_000);
      figures.push(`access denied: Ready ${Date.now() - fixed} ms after the grant (interval 10s)`);
    });

    it('throttling, as Reconciling while it retries', async () => {
      const key = await readyRegistry();
      emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
      emulator.pushImage({ ...repo(), tags: ['latest'] });
      const throttled = emulator.injectFault({ kind: 'throttle', action: 'BatchGetImage', accessKeyId: key.accessKeyId });
      await createImport({ tags: ['latest'], importPolicy: { interval: '1h' } });
      const retrying = await waitForImport('False', 'Throttled');
      expect(progress(retrying)).to.deep.equal(['Reconciling=True/Throttled']);

      throttled.clear();
      const fixed = Date.now();
      const imported = await waitForImport('True', 'Imported', 25_000);
      expect(progress(imported)).to.deep.equal([]);
      figures.push(`throttled: Ready ${Date.now() - fixed} ms after the throttling stopped (retry backoff from 5 s)`);
    });

    it('a registry that is not Ready, without polling, and imports within seconds once it is', async () => {
      const key = newKey();
      emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
      emulator.pushImage({ ...repo(), tags: ['latest'] });
      // No credentials Secret yet: the registry cannot be Ready. A 1 h interval: only the registry's change can wake the import.
      await createRegistry(namespace, REGISTRY, registrySpec());
      const notReady = await waitForRegistry('False');
      await createImport({ tags: ['latest'], importPolicy: { interval: '1h' } });
      const waiting = await waitForImport('False', 'RegistryNotReady');
      expect(ready(waiting)?.message).to.match(/^EcrRegistry prod is not Ready \(CredentialsSecretNotFound: /);
      // The registry needs a person (its keys), and so does the import that waits for it.
      expect(notReady.status?.conditions?.find((c) => c.type === 'Stalled')).to.include({ status: 'True', reason: 'CredentialsSecretNotFound' });
      expect(progress(waiting)).to.deep.equal(['Stalled=True/RegistryNotReady']);
      expect(waiting.status?.nextImportTime).to.equal(undefined);
      expect(calls(key, 'BatchGetImage')).to.equal(0);

      const fixed = Date.now();
      await credentialsFor(key);
      await waitForRegistry('True');
      await waitForImport('True', 'Imported', 15_000);
      const total = Date.now() - fixed;
      // The operator's own Event times (microseconds) give the lag from the pull secret's write to the import.
      await operator.operator.events.flush();
      const events = await listEvents(namespace);
      const timeOf = (kind: string, reason: string) => Date.parse(String(events.find((e) => e.regarding?.kind === kind && e.reason === reason)?.eventTime));
      const lag = timeOf('ImageImport', 'Imported') - timeOf('EcrRegistry', 'Refreshed');
      figures.push(`registry not Ready → Ready (interval 1h): import Ready ${lag} ms after the pull secret was written; ${total} ms from creating the credentials Secret, as seen by the test`);
      expect(lag).to.be.within(0, 5_000);
      expect(calls(key, 'BatchGetImage')).to.equal(1);
    });

    it('a registry that does not exist yet', async () => {
      emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
      emulator.pushImage({ ...repo(), tags: ['latest'] });
      const fresh = await createImport({ tags: ['latest'], importPolicy: { interval: '1h' } });
      // The CRD's default: kstatus reads a new object as not yet reconciled until the operator writes.
      expect(fresh.status).to.deep.equal({ observedGeneration: -1 });
      const waiting = await waitForImport('False', 'RegistryNotFound');
      expect(ready(waiting)?.message).to.equal('EcrRegistry prod does not exist in this namespace');
      expect(progress(waiting)).to.deep.equal(['Stalled=True/RegistryNotFound']);

      const created = Date.now();
      await readyRegistry();
      const imported = await waitForImport('True', 'Imported', 15_000);
      expect(progress(imported)).to.deep.equal([]);
      figures.push(`registry created: import Ready ${Date.now() - created} ms after the EcrRegistry was created`);
    });
  });

  it('imports at once after a spec change, and stops scheduled imports while suspended', async () => {
    const key = await readyRegistry();
    emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
    emulator.pushImage({ ...repo(), tags: ['latest', 'v2'] });
    await createImport({ tags: ['latest'], importPolicy: { interval: '1h' } });
    await waitForImport('True', 'Imported');

    const patch = (body: object) =>
      adminClients().custom.patchNamespacedCustomObject({ ...importPath(namespace), name: IMPORT, body }, mergePatch());
    await patch({ spec: { tags: ['latest', 'v2'] } });
    const changed = await eventually(async () => {
      const imageImport = await getImport();
      expect(imageImport.status?.observedGeneration).to.equal(2);
      expect(tag(imageImport, 'v2').digest).to.match(/^sha256:/);
      return imageImport;
    });
    expect(ready(changed)).to.include({ status: 'True' });
    expect(calls(key, 'BatchGetImage')).to.equal(2);

    await patch({ spec: { importPolicy: { interval: '10s', suspend: true } } });
    const suspended = await eventually(async () => {
      const imageImport = await getImport();
      expect(imageImport.status?.observedGeneration).to.equal(3);
      expect(imageImport.status?.conditions?.find((c) => c.type === 'Suspended')).to.include({ status: 'True', reason: 'Suspended' });
      return imageImport;
    });
    expect(suspended.status?.nextImportTime).to.equal(undefined);
    const afterSuspend = calls(key, 'BatchGetImage');
    expect(afterSuspend).to.equal(3);

    // Resuming is a spec change: one import at once, then the 10 s schedule again.
    await patch({ spec: { importPolicy: { suspend: false } } });
    await eventually(
      async () => {
        const imageImport = await getImport();
        expect(imageImport.status?.conditions?.map((c) => c.type)).to.deep.equal(['Ready']);
        expect(imageImport.status?.nextImportTime).to.be.a('string');
      },
      { timeoutMs: 15_000 },
    );
    expect(calls(key, 'BatchGetImage')).to.equal(afterSuspend + 1);
  });

  it('holds the registry deletion, pull secret included, until the last ImageImport using it is deleted', async () => {
    await readyRegistry();
    emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
    emulator.pushImage({ ...repo(), tags: ['latest'] });
    await createImport({ tags: ['latest'] }, 'app');
    await createImport({ tags: ['latest'] }, 'tools');
    await waitForImport('True', 'Imported', 30_000, 'app');
    await waitForImport('True', 'Imported', 30_000, 'tools');

    await deleteRegistry(namespace, REGISTRY);
    const held = await eventually(
      async () => {
        const registry = await getRegistry(namespace, REGISTRY);
        expect(registry.metadata.deletionTimestamp).to.be.a('string');
        expect(registry.metadata.finalizers).to.include('ecr.pullsecrets.io/cleanup');
        expect(registry.status?.inUseBy).to.deep.equal([{ name: 'app' }, { name: 'tools' }]);
        return registry;
      },
      { timeoutMs: 15_000 },
    );
    expect(held.status?.conditions?.find((c) => c.type === 'Deleting')).to.include({ status: 'True', reason: 'InUse' });
    expect(await readSecret(namespace, REGISTRY), 'pull secret kept').to.not.equal(undefined);
    const waiting = await waitForImport('False', 'RegistryDeleting', 15_000, 'app');
    expect(tag(waiting, 'latest').pullable).to.equal(true);

    await deleteImport('app');
    await eventually(async () => {
      expect((await getRegistry(namespace, REGISTRY)).status?.inUseBy).to.deep.equal([{ name: 'tools' }]);
    });
    expect(await readSecret(namespace, REGISTRY), 'pull secret still kept').to.not.equal(undefined);

    const lastGone = Date.now();
    await deleteImport('tools');
    await eventually(
      async () => {
        const gone = await registryGone(namespace, REGISTRY);
        expect(gone, 'registry deleted').to.equal(true);
        expect(await readSecret(namespace, REGISTRY), 'pull secret deleted').to.equal(undefined);
      },
      { timeoutMs: 15_000 },
    );
    figures.push(`in-use protection: registry and pull secret gone ${Date.now() - lastGone} ms after the last ImageImport was deleted`);
  });

  // A suite of its own so that it runs after every test and suite above (mocha runs a suite's own
  // tests before its child suites): every key and token they handled is a canary.
  describe('canary', () => it('never writes keys or tokens to its logs, Events or status', async () => {
    await operator.operator.events.flush();
    const events = JSON.stringify((await adminClients().events.listEventForAllNamespaces()).items);
    const imports = importsSeen.join('\n');
    const logs = operator.logs();
    expect(logs.length).to.be.greaterThan(1000);
    expect(importsSeen.length).to.be.greaterThan(5);
    expect(secretsSeen.size).to.be.greaterThan(10);
    for (const secret of secretsSeen) {
      expect(logs, 'operator logs').to.not.include(secret);
      expect(events, 'Events').to.not.include(secret);
      expect(imports, 'ImageImport objects').to.not.include(secret);
    }
  }));
});
