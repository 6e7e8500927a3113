import { expect } from 'chai';
import type { ImageImportSpec, ImageImportStatus } from '../../../src/api/image-import.ts';
import { type CycleOutcome, nextImportStatus, shortDigest } from '../../../src/imageimport/import-status.ts';
import type { TagResolution } from '../../../src/imageimport/tag-status.ts';

const HOST = '111122223333.dkr.ecr.us-east-1.amazonaws.com';
const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const C = `sha256:${'c'.repeat(64)}`;
const T0 = new Date('2025-01-01T08:00:00Z');
const T1 = new Date('2025-01-01T09:00:00Z');

const spec: ImageImportSpec = { registryRef: { name: 'prod' }, repository: 'team/app', tags: ['latest', 'v1'], importPolicy: { interval: '1h' } };

function ctx(now: Date, extra: Partial<Parameters<typeof nextImportStatus>[1]> = {}) {
  return { now, generation: 1, spec, host: HOST, pullSecretName: 'prod', nextImportTime: new Date(now.getTime() + 3_600_000), ...extra };
}

const ok = (digest: string): TagResolution => ({ found: true, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', pull: { ok: true, config: {} } });
const resolved = (tags: Record<string, TagResolution>): CycleOutcome => ({ kind: 'resolved', tags: new Map(Object.entries(tags)) });
const ready = (status: ImageImportStatus) => status.conditions?.find((c) => c.type === 'Ready');

describe('nextImportStatus', () => {
  const first = nextImportStatus(undefined, ctx(T0), resolved({ latest: ok(A), v1: ok(B) })).status;

  it('reports every tag, the default tag and its short digest, the pull secret and the schedule', () => {
    expect(first).to.deep.include({
      observedGeneration: 1,
      lastImportTime: '2025-01-01T08:00:00Z',
      nextImportTime: '2025-01-01T09:00:00Z',
      pullSecretName: 'prod',
      defaultTag: 'latest',
      defaultDigest: A,
      defaultShortDigest: 'a'.repeat(12),
    });
    expect(first.tags?.map((t) => `${t.tag}@${t.digest}`)).to.deep.equal([`latest@${A}`, `v1@${B}`]);
    expect(ready(first)).to.include({ status: 'True', reason: 'Imported' });
    expect(ready(first)?.message).to.equal(`Imported 2 tags of team/app; latest is ${A}, pullable with pull secret prod`);
  });

  it('uses spec.defaultTag when set', () => {
    const status = nextImportStatus(undefined, ctx(T0, { spec: { ...spec, defaultTag: 'v1' } }), resolved({ latest: ok(A), v1: ok(B) })).status;
    expect(status).to.include({ defaultTag: 'v1', defaultDigest: B });
  });

  it('names the missing tags and keeps the others resolved', () => {
    const { status } = nextImportStatus(first, ctx(T1), resolved({ latest: ok(A), v1: { found: false, reason: 'TagNotFound', message: 'tag v1: ImageNotFound' } }));
    expect(ready(status)).to.include({ status: 'False', reason: 'TagNotFound', message: 'Tag v1 not found in repository team/app; 1 of 2 tags resolved' });
    expect(status.tags?.[0]?.conditions?.find((c) => c.type === 'Resolved')?.status).to.equal('True');
    expect(status.tags?.[1]).to.include({ digest: B });
    expect(status.tags?.[1]?.conditions?.find((c) => c.type === 'Resolved')).to.include({ status: 'False', reason: 'TagNotFound' });
  });

  it('reports a failed pull check when every tag resolved', () => {
    const unpulled: TagResolution = { ...ok(B), pull: { ok: false, message: 'GET /v2/team/app/blobs/x returned HTTP 401', retryable: false } } as TagResolution;
    const { status } = nextImportStatus(first, ctx(T1), resolved({ latest: ok(A), v1: unpulled }));
    expect(ready(status)).to.include({ status: 'False', reason: 'PullCheckFailed' });
    expect(ready(status)?.message).to.equal('Pull check with pull secret prod failed for tag v1: GET /v2/team/app/blobs/x returned HTTP 401');
    expect(status.tags?.[1]?.pullable).to.equal(false);
  });

  it('returns the tags that moved', () => {
    const { status, moves } = nextImportStatus(first, ctx(T1), resolved({ latest: ok(C), v1: ok(B) }));
    expect(moves).to.deep.equal([{ tag: 'latest', from: A, to: C }]);
    expect(status.tags?.[0]?.history).to.deep.equal([{ digest: A, firstSeen: '2025-01-01T08:00:00Z' }]);
    expect(status.defaultDigest).to.equal(C);
    // Still Ready: the transition time stays at the first import.
    expect(ready(status)?.lastTransitionTime).to.equal('2025-01-01T08:00:00Z');
  });

  it('marks every tag with the reason when the whole cycle fails, keeping their last good fields', () => {
    const { status, moves } = nextImportStatus(first, ctx(T1), { kind: 'failed', reason: 'AccessDenied', message: 'BatchGetImage failed: AccessDeniedException: no' });
    expect(moves).to.deep.equal([]);
    expect(ready(status)).to.include({ status: 'False', reason: 'AccessDenied' });
    expect(status.lastImportTime).to.equal('2025-01-01T09:00:00Z');
    for (const tag of status.tags ?? []) {
      expect(tag.digest).to.match(/^sha256:/);
      expect(tag.conditions?.find((c) => c.type === 'Resolved')).to.include({ status: 'False', reason: 'AccessDenied' });
    }
  });

  it('leaves tags and lastImportTime alone while it waits for the registry, and drops the schedule', () => {
    const { status } = nextImportStatus(first, ctx(T1, { nextImportTime: undefined }), { kind: 'waiting', reason: 'RegistryNotReady', message: 'EcrRegistry prod is not Ready' });
    expect(status.tags).to.deep.equal(first.tags);
    expect(status.lastImportTime).to.equal(first.lastImportTime);
    expect(status.nextImportTime).to.equal(undefined);
    expect(ready(status)).to.include({ status: 'False', reason: 'RegistryNotReady' });
  });

  it('changes nothing when no import was due', () => {
    const { status } = nextImportStatus(first, ctx(T1, { nextImportTime: new Date('2025-01-01T09:00:00Z') }), { kind: 'unchanged' });
    expect(status).to.deep.equal(first);
  });

  it('drops tags removed from the spec and follows the spec order', () => {
    const narrowed = { ...spec, tags: ['v1'] };
    const { status } = nextImportStatus(first, ctx(T1, { spec: narrowed }), { kind: 'unchanged' });
    expect(status.tags?.map((t) => t.tag)).to.deep.equal(['v1']);
    expect(status).to.include({ defaultTag: 'v1', defaultDigest: B });
  });

  it('adds a Suspended condition while suspended, and removes it after', () => {
    const suspended = { ...spec, importPolicy: { suspend: true } };
    const { status } = nextImportStatus(first, ctx(T1, { spec: suspended, nextImportTime: undefined }), resolved({ latest: ok(A), v1: ok(B) }));
    expect(status.conditions?.find((c) => c.type === 'Suspended')).to.include({ status: 'True', reason: 'Suspended' });
    expect(status.nextImportTime).to.equal(undefined);
    const resumed = nextImportStatus(status, ctx(T1), { kind: 'unchanged' }).status;
    expect(resumed.conditions?.map((c) => c.type)).to.deep.equal(['Ready']);
  });

  it('defaults tags to latest', () => {
    const { status } = nextImportStatus(undefined, ctx(T0, { spec: { registryRef: { name: 'prod' }, repository: 'team/app' } }), resolved({ latest: ok(A) }));
    expect(status.tags?.map((t) => t.tag)).to.deep.equal(['latest']);
    expect(ready(status)?.message).to.match(/^Imported 1 tag of team\/app/);
  });
});

describe('shortDigest', () => {
  it('keeps the first 12 hex digits', () => {
    expect(shortDigest(`sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945`)).to.equal('4f53cda18c2b');
  });
});
