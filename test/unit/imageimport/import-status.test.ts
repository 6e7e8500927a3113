import { expect } from 'chai';
import type { ImageImportSpec, ImageImportStatus } from '../../../src/api/image-import.ts';
import { type CycleOutcome, nextImportStatus, shortDigest } from '../../../src/imageimport/import-status.ts';
import { ImportReason, PROGRESS_BY_REASON } from '../../../src/imageimport/reasons.ts';
import { STATUS_BUDGET_BYTES } from '../../../src/imageimport/status-budget.ts';
import type { TagResolution } from '../../../src/imageimport/tag-status.ts';
import { statusPatch } from '../../../src/runtime/status-patch.ts';

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
/** Both tags imported at T0, from no status. */
const imported = () => nextImportStatus(undefined, ctx(T0), resolved({ latest: ok(A), v1: ok(B) })).status;

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

describe('nextImportStatus: kstatus Reconciling and Stalled', () => {
  const progress = (status: ImageImportStatus) =>
    (status.conditions ?? []).filter((c) => c.type === 'Reconciling' || c.type === 'Stalled').map((c) => `${c.type}=${c.status}/${c.reason}@${c.observedGeneration}`);
  const missing = (reason: string): TagResolution => ({ found: false, reason, message: `tag: ${reason}` });
  const unpulled = (retryable: boolean): TagResolution => ({ ...ok(B), pull: { ok: false, message: 'GET /v2/team/app/blobs/x returned HTTP 503', retryable } }) as TagResolution;
  const fresh: ImageImportStatus = { observedGeneration: -1 };
  const statusAfter = (outcome: CycleOutcome, previous: ImageImportStatus | undefined = fresh, extra: Partial<Parameters<typeof nextImportStatus>[1]> = {}) =>
    nextImportStatus(previous, ctx(T0, extra), outcome).status;

  it('sets neither once Ready, and removes what an earlier failure set', () => {
    expect(progress(imported())).to.deep.equal([]);
    const throttled = statusAfter({ kind: 'failed', reason: 'Throttled', message: 'BatchGetImage failed: ThrottlingException: slow down' });
    expect(progress(nextImportStatus(throttled, ctx(T1), resolved({ latest: ok(A), v1: ok(B) })).status)).to.deep.equal([]);
  });

  it('is Reconciling while a transient failure is retried, with the Ready reason and message', () => {
    for (const reason of ['Throttled', 'EcrUnreachable', 'EcrError']) {
      const status = statusAfter({ kind: 'failed', reason, message: `BatchGetImage failed: ${reason}` });
      expect(progress(status), reason).to.deep.equal([`Reconciling=True/${reason}@1`]);
      expect(status.conditions?.find((c) => c.type === 'Reconciling')?.message).to.equal(`BatchGetImage failed: ${reason}`);
    }
  });

  it('is Reconciling while it waits for a registry that is getting ready, and Stalled when that registry is Stalled', () => {
    expect(progress(statusAfter({ kind: 'waiting', reason: 'RegistryNotReady', message: 'EcrRegistry prod is not Ready' }))).to.deep.equal(['Reconciling=True/RegistryNotReady@1']);
    expect(progress(statusAfter({ kind: 'waiting', reason: 'RegistryNotReady', message: 'EcrRegistry prod is not Ready', stalled: true }))).to.deep.equal(['Stalled=True/RegistryNotReady@1']);
  });

  it('is Stalled when a person must act', () => {
    const failures = ['RepositoryNotFound', 'AccessDenied', 'CredentialsRejected', 'CredentialsSecretNotFound', 'CredentialsKeyMissing'];
    for (const reason of failures) expect(progress(statusAfter({ kind: 'failed', reason, message: reason })), reason).to.deep.equal([`Stalled=True/${reason}@1`]);
    for (const reason of ['RegistryNotFound', 'RegistryDeleting']) {
      expect(progress(statusAfter({ kind: 'waiting', reason, message: reason })), reason).to.deep.equal([`Stalled=True/${reason}@1`]);
    }
  });

  it('is Stalled when any tag is missing or unreadable, even while the others resolve', () => {
    expect(progress(statusAfter(resolved({ latest: missing('TagNotFound'), v1: missing('TagNotFound') })))).to.deep.equal(['Stalled=True/TagNotFound@1']);
    expect(progress(statusAfter(resolved({ latest: ok(A), v1: missing('TagNotFound') })))).to.deep.equal(['Stalled=True/TagNotFound@1']);
    expect(progress(statusAfter(resolved({ latest: ok(A), v1: missing('InvalidManifest') })))).to.deep.equal(['Stalled=True/InvalidManifest@1']);
  });

  it('reads a failed pull check as Reconciling when retrying can fix it, and Stalled when it was refused', () => {
    expect(progress(statusAfter(resolved({ latest: ok(A), v1: unpulled(true) })))).to.deep.equal(['Reconciling=True/PullCheckFailed@1']);
    expect(progress(statusAfter(resolved({ latest: ok(A), v1: unpulled(false) })))).to.deep.equal(['Stalled=True/PullCheckFailed@1']);
  });

  it('is Stalled for the tag that needs a person when another tag is only throttled', () => {
    const status = statusAfter(resolved({ latest: missing('Throttled'), v1: unpulled(false) }));
    expect(ready(status)).to.include({ status: 'False', reason: 'Throttled' });
    expect(progress(status)).to.deep.equal(['Stalled=True/PullCheckFailed@1']);
    expect(progress(statusAfter(resolved({ latest: missing('Throttled'), v1: ok(B) })))).to.deep.equal(['Reconciling=True/Throttled@1']);
  });

  it('moves from Stalled to Reconciling and back, never holding both', () => {
    const stalled = statusAfter({ kind: 'failed', reason: 'AccessDenied', message: 'denied' });
    const retrying = nextImportStatus(stalled, ctx(T1), { kind: 'failed', reason: 'Throttled', message: 'slow down' }).status;
    expect(progress(retrying)).to.deep.equal(['Reconciling=True/Throttled@1']);
    const again = nextImportStatus(retrying, ctx(T1), { kind: 'failed', reason: 'AccessDenied', message: 'denied' }).status;
    expect(progress(again)).to.deep.equal(['Stalled=True/AccessDenied@1']);
  });

  it('sets neither while suspended, whatever the outcome', () => {
    const suspended = { spec: { ...spec, importPolicy: { suspend: true } }, nextImportTime: undefined };
    const status = statusAfter({ kind: 'failed', reason: 'AccessDenied', message: 'denied' }, fresh, suspended);
    expect(ready(status)).to.include({ status: 'False', reason: 'AccessDenied' });
    expect(progress(status)).to.deep.equal([]);
  });

  it('decides every reason Ready can be False for', () => {
    const notFailures = new Set(['Imported', 'Suspended', 'TagUpdated', 'Resolved', 'Pulled']);
    const failures = Object.values(ImportReason).filter((r) => !notFailures.has(r));
    expect(Object.keys(PROGRESS_BY_REASON).sort()).to.deep.equal([...failures].sort());
  });

  it('leaves them as the last import set them when no import was due', () => {
    const throttled = statusAfter({ kind: 'failed', reason: 'Throttled', message: 'slow down' });
    expect(progress(nextImportStatus(throttled, ctx(T1), { kind: 'unchanged' }).status)).to.deep.equal(['Reconciling=True/Throttled@1']);
  });
});

describe('nextImportStatus from the CRD default status {observedGeneration: -1}', () => {
  const fresh: ImageImportStatus = { observedGeneration: -1 };

  it('imports as from no status at all', () => {
    const fromDefault = nextImportStatus(fresh, ctx(T0), resolved({ latest: ok(A), v1: ok(B) })).status;
    expect(fromDefault).to.deep.equal(imported());
  });

  it('writes what it found while waiting for the registry, and keeps -1 when nothing was due', () => {
    const waiting = nextImportStatus(fresh, ctx(T0, { nextImportTime: undefined }), { kind: 'waiting', reason: 'RegistryNotReady', message: 'not yet' }).status;
    expect(waiting).to.include({ observedGeneration: 1, defaultTag: 'latest' });
    expect(waiting.tags).to.deep.equal([]);
    expect(statusPatch(fresh, waiting)).to.include({ observedGeneration: 1 });
    const unchanged = nextImportStatus(fresh, ctx(T0, { nextImportTime: undefined }), { kind: 'unchanged' }).status;
    expect(unchanged.observedGeneration).to.equal(-1);
  });
});

describe('nextImportStatus: size budget', () => {
  const tags = Array.from({ length: 20 }, (_, i) => `v${i}`);
  const wide = { ...spec, tags };
  // What the config parser lets through for one image: 64 labels of 1 KiB names and 1 KiB values.
  const labels = Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`label-${i}`.padEnd(1024, 'k'), 'v'.repeat(1024)]));
  const labelled = (digest: string): TagResolution => ({ found: true, digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', pull: { ok: true, config: { cmd: ['app'], labels } } });
  const all = (digest: string) => resolved(Object.fromEntries(tags.map((t) => [t, labelled(digest)])));
  const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

  it('keeps the status of 20 tags with large labels under its budget and records what it left out', () => {
    const { status, cuts } = nextImportStatus(undefined, ctx(T0, { spec: wide }), all(A));
    expect(bytes(status)).to.be.at.most(STATUS_BUDGET_BYTES);
    expect(ready(status)).to.include({ status: 'True', reason: 'Imported' });
    expect(status.tags?.map((t) => t.digest)).to.deep.equal(tags.map(() => A));
    const cut = status.tags?.filter((t) => t.truncatedFields?.includes('config.labels')).map((t) => t.tag);
    expect(cut).to.deep.equal(cuts.map((c) => c.tag).sort((a, b) => tags.indexOf(a) - tags.indexOf(b)));
    expect(cut?.length).to.be.within(1, 19);
    expect(status.tags?.[0]?.config?.labels, 'the default tag keeps its labels').to.deep.equal(labels);
    for (const t of status.tags ?? []) expect(t.config?.cmd, t.tag).to.deep.equal(['app']);
  });

  it('writes nothing on the next cycle when the images are the same', () => {
    const firstCycle = nextImportStatus(undefined, ctx(T0, { spec: wide }), all(A)).status;
    const secondCycle = nextImportStatus(firstCycle, ctx(T0, { spec: wide }), all(A)).status;
    expect(statusPatch(firstCycle, secondCycle)).to.equal(undefined);
  });

  it('keeps the record of a cut config while a failed pull check keeps that config', () => {
    const firstCycle = nextImportStatus(undefined, ctx(T0, { spec: wide }), all(A)).status;
    const refused: TagResolution = { found: true, digest: A, mediaType: 'application/vnd.oci.image.manifest.v1+json', pull: { ok: false, message: 'HTTP 403', retryable: false } };
    const { status } = nextImportStatus(firstCycle, ctx(T1, { spec: wide }), resolved(Object.fromEntries(tags.map((t) => [t, refused]))));
    const last = status.tags?.at(-1);
    expect(last).to.deep.include({ pullable: false, config: { cmd: ['app'] }, truncatedFields: ['config.labels'] });
  });
});
