import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { API_GROUP, API_VERSION, GROUP_VERSION, IMAGE_IMPORT } from '../../src/api/group.ts';
import type { ImageImport, ImageImportStatus } from '../../src/api/image-import.ts';
import { STATUS_BUDGET_BYTES } from '../../src/imageimport/status-budget.ts';
import type { ImageRuntimeConfig } from '../support/ecr-emulator/images.ts';
import { type AccessKey, EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { adminClients, createCredentialsSecret, createRegistry, deleteRegistry, getRegistry, readyCondition } from '../support/fixtures.ts';
import { startTestOperator, type TestOperator } from '../support/operator.ts';

const ACCOUNT = '111122223333';
const REGION = 'us-east-1';
const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const REGISTRY = 'prod';
const IMPORT = 'wide';
const TAGS = Array.from({ length: 20 }, (_, i) => `v${i + 1}`);

const importPath = (namespace: string) => ({ group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, namespace });
const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

const kib = (prefix: string, seed: string, i: number) => `${prefix}-${seed}-${i}-`.padEnd(1024, 'x');

/** 64 labels of 1 KiB names and 1 KiB values: as many, and as long, as the operator reads. About 130 KiB a tag. */
function largeLabels(seed: string) {
  return { Cmd: ['app'], Labels: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [kib('org.example.label', seed, i), kib('value', seed, i)])) };
}

/** Those labels with a 64-argument ENTRYPOINT and CMD of 1 KiB arguments: the largest config the operator reads, about 260 KiB. */
function largestConfig(seed: string) {
  return {
    ...largeLabels(seed),
    Entrypoint: Array.from({ length: 64 }, (_, i) => kib('entrypoint', seed, i)),
    Cmd: Array.from({ length: 64 }, (_, i) => kib('cmd', seed, i)),
  };
}

describe('ImageImport status size', function () {
  this.timeout(180_000);
  let emulator: EcrEmulator;
  let operator: TestOperator;
  let namespace: string;
  let repository: string;
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
  beforeEach(async () => {
    namespace = await createTestNamespace('imageimport-limits');
    repository = `team/wide-${randomBytes(3).toString('hex')}`;
  });
  afterEach(async () => {
    await adminClients().custom.deleteNamespacedCustomObject({ ...importPath(namespace), name: IMPORT }).catch(() => undefined);
    await deleteRegistry(namespace, REGISTRY).catch(() => undefined);
    await deleteTestNamespace(namespace);
  });

  async function readyRegistry(): Promise<AccessKey> {
    const key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    await createCredentialsSecret(namespace, 'aws-keys', { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey });
    await createRegistry(namespace, REGISTRY, { registry: HOST, endpoint: emulator.url, credentials: { secretRef: { name: 'aws-keys' } } });
    await eventually(async () => expect(readyCondition(await getRegistry(namespace, REGISTRY))?.status).to.equal('True'), { timeoutMs: 30_000 });
    return key;
  }

  const getImport = async () => (await adminClients().custom.getNamespacedCustomObject({ ...importPath(namespace), name: IMPORT })) as ImageImport;

  /**
   * Pushes 20 tags with these configs, imports them every 10 s, and checks what the whole issue is
   * about: the import becomes Ready (its status write succeeds), the status is within budget and says
   * what it left out, and the next cycle costs one cycle's calls and writes the same status.
   */
  async function importOutsized(name: string, configOf: (tag: string) => ImageRuntimeConfig) {
    const key = await readyRegistry();
    emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
    const pushed = TAGS.map((tag) => emulator.pushImage({ accountId: ACCOUNT, region: REGION, repository, tags: [tag], config: configOf(tag) }));
    const imageBytes = pushed.reduce((sum, image) => sum + image.sizeInBytes, 0);

    await adminClients().custom.createNamespacedCustomObject({
      ...importPath(namespace),
      body: {
        apiVersion: GROUP_VERSION,
        kind: IMAGE_IMPORT.kind,
        metadata: { name: IMPORT, namespace },
        spec: { registryRef: { name: REGISTRY }, repository, tags: TAGS, importPolicy: { interval: '10s' } },
      },
    });
    const created = Date.now();
    const calls = (action: string) => emulator.callCount({ action, accessKeyId: key.accessKeyId });
    const firstCycle = await eventually(
      async () => {
        const imageImport = await getImport();
        const ready = imageImport.status?.conditions?.find((c) => c.type === 'Ready');
        expect(ready, JSON.stringify(ready)).to.include({ status: 'True', reason: 'Imported' });
        return { imageImport, batchGetImage: calls('BatchGetImage'), describeImages: calls('DescribeImages'), blobs: calls('RegistryV2.Blob') };
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const readyMs = Date.now() - created;
    const status = firstCycle.imageImport.status!;
    const statusBytes = jsonBytes(status);
    const objectBytes = jsonBytes(firstCycle.imageImport);

    // Every tag resolved and pinned; what was left out is named per tag.
    expect(status.observedGeneration).to.equal(firstCycle.imageImport.metadata.generation);
    expect(status.tags?.map((t) => [t.tag, t.digest])).to.deep.equal(TAGS.map((tag, i) => [tag, pushed[i]!.digest]));
    expect(statusBytes).to.be.at.most(STATUS_BUDGET_BYTES);
    expect(status.conditions?.map((c) => c.type)).to.deep.equal(['Ready']);

    // One import cycle's calls, and the next cycle's the same: nothing was retried.
    expect(firstCycle).to.deep.include({ batchGetImage: 1, describeImages: 1, blobs: 20 });
    const firstImportTime = status.lastImportTime;
    const secondCycle = await eventually(
      async () => {
        const imageImport = await getImport();
        expect(imageImport.status?.lastImportTime).to.not.equal(firstImportTime);
        return { imageImport, batchGetImage: calls('BatchGetImage'), describeImages: calls('DescribeImages'), blobs: calls('RegistryV2.Blob') };
      },
      { timeoutMs: 25_000, intervalMs: 50 },
    );
    expect(secondCycle).to.deep.include({ batchGetImage: 2, describeImages: 2, blobs: 40 });
    const { lastImportTime: _a, nextImportTime: _b, ...again } = secondCycle.imageImport.status!;
    const { lastImportTime: _c, nextImportTime: _d, ...before } = status;
    expect(again, 'the same images give the same status').to.deep.equal(before);

    // The operator logs what the status would have taken uncut.
    // The line may follow the status write the test saw: wait for it.
    const cutLog = await eventually(() => {
      const lines = operator
        .logs()
        .split('\n')
        .filter((line) => line.includes('status cut to its size budget') && line.includes(namespace))
        .map((line) => JSON.parse(line) as { fullBytes: number; bytes: number });
      expect(lines.length, 'a log line per cycle').to.equal(2);
      return lines;
    });
    expect(cutLog[0]!.bytes).to.equal(statusBytes);
    expect(cutLog[0]!.fullBytes, 'uncut, more than etcd takes').to.be.above(1.5 * 1024 * 1024);
    const cut = (field: string) => (status.tags ?? []).filter((t) => t.truncatedFields?.includes(field as never)).length;
    figures.push(
      `20 tags of ${name} (images ${(imageBytes / 1024 / 1024).toFixed(1)} MiB): Ready in ${readyMs} ms; ` +
        `status ${(cutLog[0]!.fullBytes / 1024).toFixed(0)} KiB uncut -> ${(statusBytes / 1024).toFixed(1)} KiB (budget ${STATUS_BUDGET_BYTES / 1024} KiB), ` +
        `whole object with managedFields ${(objectBytes / 1024).toFixed(1)} KiB; ` +
        `labels left out of ${cut('config.labels') + cut('config')} tags, whole config of ${cut('config')}; ` +
        `per cycle: BatchGetImage 1, DescribeImages 1, registry blobs 20`,
    );
    return status;
  }

  const truncatedFields = (status: ImageImportStatus) => Object.fromEntries((status.tags ?? []).map((t) => [t.tag, t.truncatedFields ?? []]));

  it('imports 20 tags with large labels, leaving out the labels of all but the default tag', async () => {
    const status = await importOutsized('large labels', largeLabels);
    expect(truncatedFields(status)).to.deep.equal(Object.fromEntries(TAGS.map((tag) => [tag, tag === 'v1' ? [] : ['config.labels']])));
    expect(Object.keys(status.tags?.[0]?.config?.labels ?? {}), 'the default tag keeps its labels').to.have.length(64);
    for (const tag of status.tags ?? []) expect(tag.config?.cmd, tag.tag).to.deep.equal(['app']);
  });

  it('imports 20 tags of the largest config it reads, leaving out labels, then whole configs', async () => {
    const status = await importOutsized('the largest config', largestConfig);
    expect(truncatedFields(status)).to.deep.equal(Object.fromEntries(TAGS.map((tag) => [tag, tag === 'v1' ? ['config.labels'] : ['config']])));
    expect(status.tags?.[0]?.config?.cmd, 'the default tag keeps its command').to.have.length(64);
  });
});
