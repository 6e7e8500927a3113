import type { KubernetesObject, V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ListResult } from '../../../src/runtime/informer.ts';
import { ReferenceWatches } from '../../../src/runtime/reference-watches.ts';
import { FakeClock, settle } from '../../support/fake-clock.ts';
import { FakeWatchSource } from '../../support/fake-watch-source.ts';

function secret(namespace: string, name: string, resourceVersion: string, data: Record<string, string> = {}): V1Secret {
  return { metadata: { namespace, name, resourceVersion, uid: `uid-${name}`, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(data) } }, data };
}

/** The apiserver as far as ReferenceWatches sees it: Secrets by namespace, metadata-only lists, whole-object reads. */
function setup(labelSelector?: string) {
  const clock = new FakeClock();
  const source = new FakeWatchSource();
  const stored = new Map<string, V1Secret>();
  const reads: string[] = [];
  const lists: string[] = [];
  const listSelectors: (string | undefined)[] = [];
  const changes: string[][] = [];
  const watches = new ReferenceWatches<V1Secret>({
    name: 'secrets',
    metadataWatchSource: source,
    clock,
    pathFor: (namespace) => `/api/v1/namespaces/${namespace}/secrets`,
    ...(labelSelector ? { labelSelector } : {}),
    listMetadataFor: (namespace) => async (options): Promise<ListResult<KubernetesObject>> => {
      lists.push(namespace);
      listSelectors.push(options.labelSelector);
      const items = [...stored.values()].filter((s) => s.metadata?.namespace === namespace).map((s) => ({ metadata: structuredClone(s.metadata) }));
      return { items, metadata: { resourceVersion: '100' } };
    },
    read: async (namespace, name) => {
      reads.push(`${namespace}/${name}`);
      return structuredClone(stored.get(`${namespace}/${name}`));
    },
    onChange: (holders) => changes.push([...holders].sort()),
  });
  const put = (s: V1Secret) => stored.set(`${s.metadata!.namespace}/${s.metadata!.name}`, s);
  return { clock, source, watches, put, reads, lists, listSelectors, changes, stored };
}

describe('ReferenceWatches', () => {
  it('watches each namespace once, metadata only, however many of its objects are referenced, and stops with the last reference', async () => {
    const { source, watches, lists } = setup();
    watches.setReferences('team-a/one', [{ namespace: 'team-a', name: 'keys-1' }]);
    watches.setReferences('team-a/two', [{ namespace: 'team-a', name: 'keys-2' }]);
    watches.setReferences('team-a/three', [{ namespace: 'team-a', name: 'keys-1' }]);
    watches.setReferences('team-b/one', [{ namespace: 'team-b', name: 'keys-1' }]);
    await settle();
    expect(watches.watchedNamespaces).to.equal(2);
    expect(lists.sort()).to.deep.equal(['team-a', 'team-b']);
    expect(source.watches.map((w) => w.path).sort()).to.deep.equal(['/api/v1/namespaces/team-a/secrets', '/api/v1/namespaces/team-b/secrets']);
    expect(source.watches.every((w) => w.params.fieldSelector === undefined), 'one watch for the namespace, not one per name').to.equal(true);

    watches.setReferences('team-a/one', []);
    watches.setReferences('team-a/three', []);
    expect(watches.watchedNamespaces, 'keys-2 is still referenced').to.equal(2);
    watches.setReferences('team-a/two', []);
    expect(watches.watchedNamespaces).to.equal(1);
    expect(source.watches.find((w) => w.path.includes('team-a'))?.aborted).to.equal(true);
    watches.stop();
  });

  it('reads a referenced object once and serves it until its resourceVersion changes', async () => {
    const { source, watches, put, reads, changes } = setup();
    put(secret('team-a', 'keys', '5', { key: 'old' }));
    watches.setReferences('team-a/registry', [{ namespace: 'team-a', name: 'keys' }]);
    await settle();
    expect(changes, 'the initial list shows the referenced object').to.deep.equal([['team-a/registry']]);

    expect((await watches.get('team-a', 'keys'))?.data).to.deep.equal({ key: 'old' });
    expect((await watches.get('team-a', 'keys'))?.data).to.deep.equal({ key: 'old' });
    expect(reads).to.deep.equal(['team-a/keys']);

    put(secret('team-a', 'keys', '6', { key: 'new' }));
    source.last.send('MODIFIED', { metadata: { namespace: 'team-a', name: 'keys', resourceVersion: '6' } });
    expect(changes.at(-1)).to.deep.equal(['team-a/registry']);
    expect((await watches.get('team-a', 'keys'))?.data).to.deep.equal({ key: 'new' });
    expect(reads).to.deep.equal(['team-a/keys', 'team-a/keys']);
    expect(watches.keptObjects).to.equal(1);
    watches.stop();
  });

  it('answers a missing object from the watch without reading it, and reads directly before the watch has listed', async () => {
    const { source, watches, reads, changes, put } = setup();
    watches.setReferences('team-a/registry', [{ namespace: 'team-a', name: 'keys' }]);
    expect(await watches.get('team-a', 'keys'), 'not listed yet: read directly').to.equal(undefined);
    expect(reads).to.deep.equal(['team-a/keys']);
    await settle();
    expect(await watches.get('team-a', 'keys')).to.equal(undefined);
    expect(reads, 'the synced watch says it does not exist').to.have.length(1);

    put(secret('team-a', 'keys', '7', { key: 'v' }));
    source.last.send('ADDED', { metadata: { namespace: 'team-a', name: 'keys', resourceVersion: '7' } });
    expect(changes).to.deep.equal([['team-a/registry']]);
    expect((await watches.get('team-a', 'keys'))?.data).to.deep.equal({ key: 'v' });

    source.last.send('DELETED', { metadata: { namespace: 'team-a', name: 'keys', resourceVersion: '8' } });
    expect(changes).to.have.length(2);
    expect(await watches.get('team-a', 'keys')).to.equal(undefined);
    expect(watches.keptObjects).to.equal(0);
    watches.stop();
  });

  it('ignores changes to objects nobody references, and does not keep them', async () => {
    const { source, watches, changes, put, reads } = setup();
    put(secret('team-a', 'other', '3', { password: 'not ours to hold' }));
    watches.setReferences('team-a/registry', [{ namespace: 'team-a', name: 'keys' }]);
    await settle();
    source.last.send('MODIFIED', { metadata: { namespace: 'team-a', name: 'other', resourceVersion: '9', annotations: { big: 'x'.repeat(1000) } } });
    expect(changes).to.deep.equal([]);
    expect(await watches.get('team-a', 'other'), 'an unreferenced object is read, not kept').to.not.equal(undefined);
    expect(watches.keptObjects).to.equal(0);
    expect(reads).to.deep.equal(['team-a/other']);
    watches.stop();
  });

  it('drops a kept object when its last holder lets go', async () => {
    const { watches, put } = setup();
    put(secret('team-a', 'keys', '5'));
    watches.setReferences('team-a/registry', [{ namespace: 'team-a', name: 'keys' }]);
    await settle();
    await watches.get('team-a', 'keys');
    expect(watches.keptObjects).to.equal(1);
    watches.setReferences('team-a/registry', [{ namespace: 'team-a', name: 'other-keys' }]);
    expect(watches.keptObjects).to.equal(0);
    expect(watches.watchedNamespaces).to.equal(1);
    watches.stop();
  });

  it('makes one read for concurrent gets of the same object, before and after the watch has listed, and a new one for a new version', async () => {
    const { source, watches, put, reads } = setup();
    put(secret('team-a', 'keys', '5', { key: 'old' }));
    watches.setReferences('team-a/registry', [{ namespace: 'team-a', name: 'keys' }]);
    const early = await Promise.all([1, 2, 3].map(() => watches.get('team-a', 'keys')));
    expect(early.map((s) => s?.data)).to.deep.equal([{ key: 'old' }, { key: 'old' }, { key: 'old' }]);
    expect(reads, 'not listed yet: one direct read for all three').to.deep.equal(['team-a/keys']);
    await settle();

    const listed = await Promise.all([1, 2, 3, 4].map(() => watches.get('team-a', 'keys')));
    expect(listed.every((s) => s?.data?.key === 'old')).to.equal(true);
    expect(reads, 'one read for the four, then kept').to.have.length(2);

    put(secret('team-a', 'keys', '6', { key: 'new' }));
    source.last.send('MODIFIED', { metadata: { namespace: 'team-a', name: 'keys', resourceVersion: '6' } });
    const changed = await Promise.all([1, 2].map(() => watches.get('team-a', 'keys')));
    expect(changed.map((s) => s?.data)).to.deep.equal([{ key: 'new' }, { key: 'new' }]);
    expect(reads).to.have.length(3);
    watches.stop();
  });

  it('lists and watches with its label selector', async () => {
    const { source, watches, listSelectors } = setup('app.kubernetes.io/managed-by!=ecr-pullsecrets-operator');
    watches.setReferences('team-a/registry', [{ namespace: 'team-a', name: 'keys' }]);
    await settle();
    expect(listSelectors).to.deep.equal(['app.kubernetes.io/managed-by!=ecr-pullsecrets-operator']);
    expect(source.last.params.labelSelector).to.equal('app.kubernetes.io/managed-by!=ecr-pullsecrets-operator');
    watches.stop();
  });
});
