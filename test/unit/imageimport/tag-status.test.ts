import { expect } from 'chai';
import { TAG_HISTORY_LIMIT, type TagStatus } from '../../../src/api/image-import.ts';
import { nextTagStatus, pushHistory, type TagResolution } from '../../../src/imageimport/tag-status.ts';

const HOST = '111122223333.dkr.ecr.us-east-1.amazonaws.com';
const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const T0 = new Date('2025-01-01T08:00:00.000Z');
const T1 = new Date('2025-01-01T09:00:00.400Z');

const ctx = (now: Date) => ({ now, generation: 3, imageRef: (d: string) => `${HOST}/team/app@${d}` });

function found(digest: string, extra: Partial<Extract<TagResolution, { found: true }>> = {}): TagResolution {
  return { found: true, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', pull: { ok: true, config: { cmd: ['app'] } }, ...extra };
}

describe('nextTagStatus', () => {
  it('records a first resolution with a pinned reference and the time it was first seen', () => {
    const { status, moved } = nextTagStatus(undefined, 'latest', found(A, { sizeBytes: 1234, pushedAt: new Date('2024-12-31T23:59:59.750Z') }), ctx(T0));
    expect(moved).to.equal(undefined);
    expect(status).to.deep.include({
      tag: 'latest',
      digest: A,
      image: `${HOST}/team/app@${A}`,
      pushedAt: '2024-12-31T23:59:59Z',
      sizeBytes: 1234,
      pullable: true,
      config: { cmd: ['app'] },
      digestChangedAt: '2025-01-01T08:00:00Z',
    });
    expect(status.history).to.equal(undefined);
    expect(status.conditions?.map((c) => `${c.type}=${c.status}/${c.reason}`)).to.deep.equal(['Resolved=True/Resolved', 'Pullable=True/Pulled']);
    expect(status.conditions?.[0]?.observedGeneration).to.equal(3);
  });

  it('keeps digestChangedAt while the digest stays', () => {
    const first = nextTagStatus(undefined, 'latest', found(A), ctx(T0)).status;
    const second = nextTagStatus(first, 'latest', found(A), ctx(T1));
    expect(second.moved).to.equal(undefined);
    expect(second.status.digestChangedAt).to.equal('2025-01-01T08:00:00Z');
    expect(second.status).to.deep.equal(first);
  });

  it('pushes the old digest into history with its first-seen time when the tag moves', () => {
    const first = nextTagStatus(undefined, 'latest', found(A), ctx(T0)).status;
    const { status, moved } = nextTagStatus(first, 'latest', found(B), ctx(T1));
    expect(moved).to.deep.equal({ tag: 'latest', from: A, to: B });
    expect(status.digest).to.equal(B);
    expect(status.digestChangedAt).to.equal('2025-01-01T09:00:00Z');
    expect(status.history).to.deep.equal([{ digest: A, firstSeen: '2025-01-01T08:00:00Z' }]);
  });

  it('keeps the last good result when the tag is not found, and says why', () => {
    const first = nextTagStatus(undefined, 'v1', found(A), ctx(T0)).status;
    const { status } = nextTagStatus(first, 'v1', { found: false, reason: 'TagNotFound', message: 'tag v1: ImageNotFound' }, ctx(T1));
    expect(status).to.deep.include({ digest: A, image: first.image, pullable: true, config: { cmd: ['app'] } });
    const resolved = status.conditions?.find((c) => c.type === 'Resolved');
    expect(resolved).to.include({ status: 'False', reason: 'TagNotFound', message: 'tag v1: ImageNotFound', lastTransitionTime: '2025-01-01T09:00:00Z' });
  });

  it('gives a never-seen missing tag only its condition', () => {
    const { status } = nextTagStatus(undefined, 'v9', { found: false, reason: 'TagNotFound', message: 'missing' }, ctx(T0));
    expect(Object.keys(status)).to.deep.equal(['tag', 'conditions']);
  });

  it('marks a failed pull check, keeping the config only while it belongs to the same digest', () => {
    const first = nextTagStatus(undefined, 'latest', found(A), ctx(T0)).status;
    const failedPull = { ok: false as const, message: 'GET /v2/team/app/blobs/… returned HTTP 401', retryable: false };
    const same = nextTagStatus(first, 'latest', found(A, { pull: failedPull }), ctx(T1)).status;
    expect(same).to.deep.include({ pullable: false, config: { cmd: ['app'] } });
    expect(same.conditions?.find((c) => c.type === 'Pullable')).to.include({ status: 'False', reason: 'PullCheckFailed' });
    const moved = nextTagStatus(first, 'latest', found(B, { pull: failedPull }), ctx(T1)).status;
    expect(moved.pullable).to.equal(false);
    expect(moved.config).to.equal(undefined);
  });

  it('keeps the record of a cut config only while it keeps that config', () => {
    const cut: TagStatus = { ...nextTagStatus(undefined, 'latest', found(A), ctx(T0)).status, config: { cmd: ['app'] }, truncatedFields: ['config.labels', 'history'] };
    const failedPull = { ok: false as const, message: 'HTTP 503', retryable: true };
    expect(nextTagStatus(cut, 'latest', found(A, { pull: failedPull }), ctx(T1)).status.truncatedFields).to.deep.equal(['config.labels']);
    expect(nextTagStatus(cut, 'latest', found(A), ctx(T1)).status.truncatedFields, 'a fresh config').to.equal(undefined);
    expect(nextTagStatus(cut, 'latest', { found: false, reason: 'TagNotFound', message: 'gone' }, ctx(T1)).status.truncatedFields, 'the last good result').to.deep.equal([
      'config.labels',
      'history',
    ]);
  });

  it('lists platforms for an index', () => {
    const platforms = [{ os: 'linux', architecture: 'arm64', variant: 'v8', digest: B }];
    expect(nextTagStatus(undefined, 'latest', found(A, { platforms }), ctx(T0)).status.platforms).to.deep.equal(platforms);
  });
});

describe('pushHistory', () => {
  const entry = (n: number) => ({ digest: `sha256:${n.toString(16).padStart(64, '0')}`, firstSeen: `2025-01-01T00:00:${String(n % 60).padStart(2, '0')}Z` });

  it(`keeps at most ${TAG_HISTORY_LIMIT} entries, newest first`, () => {
    let history: TagStatus['history'] = [];
    for (let n = 1; n <= 25; n++) history = pushHistory(history, entry(n));
    expect(history).to.have.length(TAG_HISTORY_LIMIT);
    expect(history[0]).to.deep.equal(entry(25));
    expect(history.at(-1)).to.deep.equal(entry(16));
  });

  it('lists a digest the tag returns to once, at its latest position', () => {
    const history = pushHistory([entry(2), entry(1)], { ...entry(1), firstSeen: '2025-02-01T00:00:00Z' });
    expect(history).to.deep.equal([{ ...entry(1), firstSeen: '2025-02-01T00:00:00Z' }, entry(2)]);
  });

  it('honours a smaller limit', () => {
    expect(pushHistory([entry(1), entry(2)], entry(3), 2)).to.deep.equal([entry(3), entry(1)]);
  });
});
