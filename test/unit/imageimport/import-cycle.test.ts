import { expect } from 'chai';
import type { EcrImageReader } from '../../../src/imageimport/ecr-images.ts';
import { runImportCycle } from '../../../src/imageimport/import-cycle.ts';
import { type RegistryV2Reader, RegistryV2Error } from '../../../src/imageimport/registry-v2-client.ts';
import type { TagResolution } from '../../../src/imageimport/tag-status.ts';
import { configBlob, type Doc, imageManifest, index, OCI_INDEX, OCI_MANIFEST } from './images.ts';

/** An ECR repository in memory that counts the calls made to it. */
class FakeEcr implements EcrImageReader {
  readonly calls: string[] = [];
  readonly tags = new Map<string, { doc: Doc; mediaType: string }>();
  error?: Error;
  describeError?: Error;

  async manifestsOf(_repository: string, tags: readonly string[]) {
    this.calls.push(`BatchGetImage ${tags.join(',')}`);
    if (this.error) throw this.error;
    const found = tags.flatMap((tag) => {
      const image = this.tags.get(tag);
      return image ? [{ tag, digest: image.doc.digest, mediaType: image.mediaType, manifest: image.doc.text }] : [];
    });
    const failed = tags.filter((t) => !this.tags.has(t)).map((tag) => ({ tag, code: 'ImageNotFound', reason: 'Requested image not found' }));
    return { found, failed };
  }

  async describe(_repository: string, digests: readonly string[]) {
    this.calls.push(`DescribeImages ${digests.length}`);
    if (this.describeError) throw this.describeError;
    const known = new Set([...this.tags.values()].map((t) => t.doc.digest));
    for (const d of digests) if (!known.has(d)) throw Object.assign(new Error('missing'), { name: 'ImageNotFoundException' });
    return digests.map((digest) => ({ digest, pushedAt: new Date('2025-01-01T00:00:00Z'), sizeBytes: 42 }));
  }

  close() {}
}

/** A registry v2 API in memory: content by digest, and the requests made. */
class FakeRegistry implements RegistryV2Reader {
  readonly requests: string[] = [];
  readonly content = new Map<string, Doc>();
  failWith?: RegistryV2Error;

  add(...docs: Doc[]): void {
    for (const d of docs) this.content.set(d.digest, d);
  }

  async manifest(_repository: string, digest: string) {
    this.requests.push(`manifest ${digest}`);
    return { body: this.get(digest), mediaType: OCI_MANIFEST };
  }

  async blob(_repository: string, digest: string) {
    this.requests.push(`blob ${digest}`);
    return this.get(digest);
  }

  private get(digest: string): Buffer {
    if (this.failWith) throw this.failWith;
    const doc = this.content.get(digest);
    if (!doc) throw new RegistryV2Error('GET … returned HTTP 404', { status: 404, retryable: false });
    return Buffer.from(doc.text);
  }
}

describe('runImportCycle', () => {
  const appConfig = configBlob({ Entrypoint: ['/app'], User: 'app' });
  const app = imageManifest(appConfig);
  const armConfig = configBlob({ Cmd: ['arm'] });
  const amdConfig = configBlob({ Cmd: ['amd'] });
  const arm = imageManifest(armConfig);
  const amd = imageManifest(amdConfig);
  const multi = index([
    { manifest: arm, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { manifest: amd, platform: { os: 'linux', architecture: 'amd64' } },
  ]);

  let ecr: FakeEcr;
  let registry: FakeRegistry;
  beforeEach(() => {
    ecr = new FakeEcr();
    registry = new FakeRegistry();
    registry.add(appConfig, armConfig, amdConfig, arm, amd);
  });

  const run = (tags: string[]) => runImportCycle({ repository: 'team/app', tags, ecr, registry, secrets: [] });
  const found = (r: TagResolution | undefined) => {
    if (!r?.found) throw new Error(`not found: ${JSON.stringify(r)}`);
    return r;
  };

  it('makes one BatchGetImage and one DescribeImages for all tags', async () => {
    ecr.tags.set('latest', { doc: app, mediaType: OCI_MANIFEST });
    ecr.tags.set('stable', { doc: app, mediaType: OCI_MANIFEST });
    ecr.tags.set('multi', { doc: multi, mediaType: OCI_INDEX });
    const result = await run(['latest', 'stable', 'multi']);
    expect(ecr.calls).to.deep.equal(['BatchGetImage latest,stable,multi', 'DescribeImages 2']);
    expect(result.kind).to.equal('resolved');
  });

  it('reads the config blob once per distinct digest, and a platform manifest first for an index', async () => {
    ecr.tags.set('latest', { doc: app, mediaType: OCI_MANIFEST });
    ecr.tags.set('stable', { doc: app, mediaType: OCI_MANIFEST });
    ecr.tags.set('multi', { doc: multi, mediaType: OCI_INDEX });
    const result = await run(['latest', 'stable', 'multi']);
    expect(registry.requests).to.have.members([`blob ${appConfig.digest}`, `manifest ${amd.digest}`, `blob ${amdConfig.digest}`]);
    if (result.kind !== 'resolved') throw new Error(result.kind);
    expect(found(result.tags.get('latest'))).to.deep.include({ digest: app.digest, sizeBytes: 42, pull: { ok: true, config: { entrypoint: ['/app'], user: 'app' } } });
    const index = found(result.tags.get('multi'));
    expect(index.platforms).to.deep.equal([
      { os: 'linux', architecture: 'arm64', variant: 'v8', digest: arm.digest },
      { os: 'linux', architecture: 'amd64', digest: amd.digest },
    ]);
    expect(index.pull).to.deep.equal({ ok: true, config: { cmd: ['amd'] } });
    expect(index.mediaType).to.equal(OCI_INDEX);
  });

  it('resolves the tags that exist, asks DescribeImages only for their digests, and names the missing ones', async () => {
    ecr.tags.set('latest', { doc: app, mediaType: OCI_MANIFEST });
    const result = await run(['latest', 'v2']);
    expect(ecr.calls).to.deep.equal(['BatchGetImage latest,v2', 'DescribeImages 1']);
    if (result.kind !== 'resolved') throw new Error(result.kind);
    expect(result.tags.get('latest')?.found).to.equal(true);
    expect(result.tags.get('v2')).to.deep.equal({ found: false, reason: 'TagNotFound', message: 'tag v2: ImageNotFound (Requested image not found)' });
    expect(result.retryable).to.equal(false);
  });

  it('makes no DescribeImages call when no tag exists', async () => {
    const result = await run(['v1']);
    expect(ecr.calls).to.deep.equal(['BatchGetImage v1', 'DescribeImages 0']);
    expect(result.kind).to.equal('resolved');
  });

  it('maps ECR errors to reasons, removing secrets from messages', async () => {
    const cases: Array<[string, string, boolean]> = [
      ['RepositoryNotFoundException', 'RepositoryNotFound', false],
      ['AccessDeniedException', 'AccessDenied', false],
      ['UnrecognizedClientException', 'CredentialsRejected', false],
      ['ThrottlingException', 'Throttled', true],
      ['ServerException', 'EcrUnreachable', true],
    ];
    for (const [name, reason, retryable] of cases) {
      ecr.error = Object.assign(new Error(`failed for key AKIAABCDEFGHIJKLMNOP and secret s3cr3t-value`), { name });
      const result = await runImportCycle({ repository: 'team/app', tags: ['latest'], ecr, registry, secrets: ['s3cr3t-value'] });
      expect(result).to.include({ kind: 'failed', reason, retryable });
      if (result.kind === 'failed') {
        expect(result.message).to.match(new RegExp(`^BatchGetImage failed: ${name}: `));
        expect(result.message).to.not.include('AKIAABCDEFGHIJKLMNOP').and.not.include('s3cr3t-value');
      }
    }
  });

  it('retries soon when a tag moved between BatchGetImage and DescribeImages', async () => {
    ecr.tags.set('latest', { doc: app, mediaType: OCI_MANIFEST });
    ecr.describeError = Object.assign(new Error('gone'), { name: 'ImageNotFoundException' });
    expect(await run(['latest'])).to.include({ kind: 'failed', reason: 'EcrError', retryable: true });
  });

  it('reports a pull check failure per tag without losing the resolution', async () => {
    ecr.tags.set('latest', { doc: app, mediaType: OCI_MANIFEST });
    registry.failWith = new RegistryV2Error('GET /v2/team/app/blobs/x returned HTTP 401', { status: 401, retryable: false });
    const result = await run(['latest']);
    if (result.kind !== 'resolved') throw new Error(result.kind);
    expect(found(result.tags.get('latest'))).to.deep.include({ digest: app.digest, pull: { ok: false, message: 'GET /v2/team/app/blobs/x returned HTTP 401', retryable: false } });
  });

  it('marks the cycle retryable when a pull check failed for a passing reason', async () => {
    ecr.tags.set('latest', { doc: app, mediaType: OCI_MANIFEST });
    registry.failWith = new RegistryV2Error('GET failed: ECONNRESET', { retryable: true });
    expect(await run(['latest'])).to.include({ kind: 'resolved', retryable: true });
  });

  it('fails the pull check, not the import, when the pull secret cannot be used', async () => {
    ecr.tags.set('latest', { doc: app, mediaType: OCI_MANIFEST });
    const result = await runImportCycle({ repository: 'team/app', tags: ['latest'], ecr, registry: { unavailable: 'pull secret prod does not exist' }, secrets: [] });
    if (result.kind !== 'resolved') throw new Error(result.kind);
    expect(found(result.tags.get('latest')).pull).to.deep.equal({ ok: false, message: 'pull secret prod does not exist', retryable: false });
  });

  it('reports a manifest it cannot read as InvalidManifest', async () => {
    const schema1 = { text: '{"schemaVersion":1,"fsLayers":[]}', digest: `sha256:${'1'.repeat(64)}` };
    ecr.tags.set('old', { doc: schema1, mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' });
    const result = await run(['old']);
    if (result.kind !== 'resolved') throw new Error(result.kind);
    expect(result.tags.get('old')).to.include({ found: false, reason: 'InvalidManifest' });
  });
});
