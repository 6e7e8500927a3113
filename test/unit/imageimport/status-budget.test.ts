import { expect } from 'chai';
import type { ImageImportStatus, TagStatus } from '../../../src/api/image-import.ts';
import { boundStatus, STATUS_BUDGET_BYTES } from '../../../src/imageimport/status-budget.ts';

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');
const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

/** Labels of about `kib` KiB: 1 KiB values under distinct keys. */
function labels(kib: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: kib }, (_, i) => [`label-${String(i).padStart(2, '0')}`, 'x'.repeat(1000)]));
}

function tag(name: string, extra: Partial<TagStatus> = {}): TagStatus {
  return {
    tag: name,
    digest: digest(name.length),
    image: `111122223333.dkr.ecr.us-east-1.amazonaws.com/team/app@${digest(name.length)}`,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    pullable: true,
    ...extra,
    config: { cmd: ['app'], ...(extra.config ?? {}) },
  };
}

function status(tags: TagStatus[], defaultTag = tags[0]?.tag): ImageImportStatus {
  return { observedGeneration: 1, conditions: [], defaultTag, tags };
}

const truncated = (s: ImageImportStatus) => Object.fromEntries((s.tags ?? []).filter((t) => t.truncatedFields).map((t) => [t.tag, t.truncatedFields]));

describe('boundStatus', () => {
  it('returns a status within budget as it is, with its exact size', () => {
    const small = status([tag('latest', { config: { labels: labels(2) } }), tag('v1')]);
    const bounded = boundStatus(small, 64 * 1024);
    expect(bounded.status).to.equal(small);
    expect(bounded.cuts).to.deep.equal([]);
    expect(bounded.bytes).to.equal(bytes(small));
    expect(bounded.fullBytes).to.equal(bytes(small));
  });

  it('drops the labels of the tag with the most first, and only as many as needed', () => {
    const s = status([tag('latest', { config: { labels: labels(4) } }), tag('big', { config: { labels: labels(40) } }), tag('v1', { config: { labels: labels(8) } })]);
    const bounded = boundStatus(s, 30 * 1024);
    expect(bounded.cuts).to.deep.equal([{ tag: 'big', field: 'config.labels' }]);
    expect(truncated(bounded.status)).to.deep.equal({ big: ['config.labels'] });
    const big = bounded.status.tags?.find((t) => t.tag === 'big');
    expect(big?.config).to.deep.equal({ cmd: ['app'] });
    expect(bounded.status.tags?.find((t) => t.tag === 'v1')?.config?.labels).to.deep.equal(labels(8));
    expect(bounded.bytes).to.equal(bytes(bounded.status)).and.to.be.at.most(30 * 1024);
  });

  it('spends a budget fairly among equal tags: the default tag and the first listed keep theirs', () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const s = status(
      names.map((n) => tag(n, { config: { labels: labels(10) } })),
      'c',
    );
    const bounded = boundStatus(s, 25 * 1024);
    expect(bounded.cuts.map((c) => c.tag)).to.deep.equal(['e', 'd', 'b']);
    expect(Object.keys(truncated(bounded.status)).sort()).to.deep.equal(['b', 'd', 'e']);
  });

  it('then drops whole configs, then history, then platforms, recording each', () => {
    const history = Array.from({ length: 10 }, (_, i) => ({ digest: digest(100 + i), firstSeen: '2025-01-01T00:00:00Z' }));
    const platforms = Array.from({ length: 50 }, (_, i) => ({ os: 'linux', architecture: `arch${i}`, digest: digest(200 + i) }));
    const s = status([tag('latest', { config: { cmd: ['x'.repeat(20_000)], labels: labels(20) }, history, platforms })]);
    const withoutConfig = boundStatus(s, bytes(s) - 25 * 1024);
    expect(truncated(withoutConfig.status)).to.deep.equal({ latest: ['config'] });
    expect(withoutConfig.status.tags?.[0]?.config).to.equal(undefined);
    expect(withoutConfig.status.tags?.[0]?.history).to.have.length(10);

    const onlyTheBasics = boundStatus(s, 1024);
    expect(onlyTheBasics.cuts.map((c) => c.field)).to.deep.equal(['config.labels', 'config', 'history', 'platforms']);
    expect(truncated(onlyTheBasics.status)).to.deep.equal({ latest: ['config', 'history', 'platforms'] });
    expect(Object.keys(onlyTheBasics.status.tags?.[0] ?? {}).sort()).to.deep.equal(['digest', 'image', 'mediaType', 'pullable', 'tag', 'truncatedFields']);
  });

  it('never makes a cut that saves less than the note recording it', () => {
    const s = status([tag('latest', { config: { labels: { a: 'b' } } }), tag('v1', { config: { labels: labels(4) } })]);
    const bounded = boundStatus(s, 1);
    expect(bounded.cuts).to.not.deep.include({ tag: 'latest', field: 'config.labels' });
    expect(bounded.bytes).to.be.below(bytes(s));
  });

  it('keeps what an earlier cut recorded, and never records a cut twice', () => {
    const earlier = tag('latest', { config: { cmd: ['app'] }, truncatedFields: ['config.labels'] });
    const s = status([earlier, tag('v1', { config: { labels: labels(40) } })]);
    const bounded = boundStatus(s, 8 * 1024);
    expect(truncated(bounded.status)).to.deep.equal({ latest: ['config.labels'], v1: ['config.labels'] });
  });

  it('gives the same status again from the same input, so repeated cycles write nothing new', () => {
    const s = status(Array.from({ length: 20 }, (_, i) => tag(`v${i}`, { config: { labels: labels(60) } })));
    const once = boundStatus(s);
    expect(boundStatus(s).status).to.deep.equal(once.status);
    expect(boundStatus(once.status).cuts, 'a bounded status is left alone').to.deep.equal([]);
  });

  it('keeps 20 tags of the largest config the parser allows well under the budget', () => {
    // 64 labels of 1 KiB keys and values, and 64-argument entrypoint and command of 1 KiB each: ~256 KiB a tag.
    const k = (i: number, c: string) => `${c}${i}`.padEnd(1024, c);
    const huge = {
      entrypoint: Array.from({ length: 64 }, (_, i) => k(i, 'e')),
      cmd: Array.from({ length: 64 }, (_, i) => k(i, 'c')),
      labels: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [k(i, 'k'), k(i, 'v')])),
    };
    const s = status(Array.from({ length: 20 }, (_, i) => tag(`v${i}`, { config: huge })));
    const bounded = boundStatus(s);
    expect(bounded.fullBytes).to.equal(bytes(s)).and.to.be.above(5 * 1024 * 1024);
    expect(bounded.bytes).to.equal(bytes(bounded.status)).and.to.be.at.most(STATUS_BUDGET_BYTES);
    expect(bounded.status.tags).to.have.length(20);
    for (const t of bounded.status.tags ?? []) expect(t.digest, t.tag).to.be.a('string');
    // Every tag lost its labels; only as many whole configs as needed went after that.
    expect(bounded.cuts.filter((c) => c.field === 'config.labels')).to.have.length(20);
    const keptConfigs = bounded.status.tags?.filter((t) => t.config).map((t) => t.tag);
    expect(keptConfigs).to.include('v0');
    expect(keptConfigs?.length).to.be.within(1, 19);
  });
});
