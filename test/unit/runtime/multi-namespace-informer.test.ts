import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { type Controller, enqueueFromInformer } from '../../../src/runtime/controller.ts';
import { Informer, type InformerEvent, type ListResult } from '../../../src/runtime/informer.ts';
import { toKeyString } from '../../../src/runtime/keys.ts';
import { informerForNamespaces, MultiNamespaceInformer } from '../../../src/runtime/multi-namespace-informer.ts';
import { FakeClock, settle } from '../../support/fake-clock.ts';
import { FakeWatchSource } from '../../support/fake-watch-source.ts';

function secret(namespace: string, name: string, resourceVersion: string, owner = ''): KubernetesObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { namespace, name, resourceVersion, labels: { owner } } };
}

/** Two namespaces' informers over one fake API: what each namespace's list returns, and the watches opened. */
function setup(contents: Record<string, KubernetesObject[]>) {
  const clock = new FakeClock();
  const source = new FakeWatchSource();
  const listed: string[] = [];
  const created: Array<string | undefined> = [];
  const create = (namespace: string | undefined) => {
    created.push(namespace);
    return new Informer<KubernetesObject>({
      name: 'secrets',
      watchSource: source,
      clock,
      path: namespace ? `/api/v1/namespaces/${namespace}/secrets` : '/api/v1/secrets',
      list: async (): Promise<ListResult<KubernetesObject>> => {
        listed.push(namespace ?? '(all)');
        const items = namespace ? (contents[namespace] ?? []) : Object.values(contents).flat();
        return { items: structuredClone(items), metadata: { resourceVersion: '10' } };
      },
    });
  };
  return { source, listed, created, create };
}

const names = (objects: KubernetesObject[]) => objects.map((o) => `${o.metadata!.namespace}/${o.metadata!.name}`).sort();
const watchOf = (source: FakeWatchSource, namespace: string) => source.watches.find((w) => w.path === `/api/v1/namespaces/${namespace}/secrets`)!;

describe('MultiNamespaceInformer', () => {
  it('lists and watches each namespace on its own, and nothing else', async () => {
    const { source, listed, create } = setup({ a: [secret('a', 'one', '1')], b: [secret('b', 'two', '2')], c: [secret('c', 'other', '3')] });
    const informer = informerForNamespaces(['a', 'b'], create);
    informer.start();
    await informer.waitForSync();
    await settle();
    expect(listed.sort()).to.deep.equal(['a', 'b']);
    expect(source.watches.map((w) => w.path).sort()).to.deep.equal(['/api/v1/namespaces/a/secrets', '/api/v1/namespaces/b/secrets']);
    expect(names(informer.list())).to.deep.equal(['a/one', 'b/two']);
    informer.stop();
    expect(source.watches.every((w) => w.aborted), 'every watch stopped').to.equal(true);
  });

  it('reads an object from its namespace, and nothing from a namespace it does not watch', async () => {
    const { create } = setup({ a: [secret('a', 'one', '1')], b: [secret('b', 'one', '2')] });
    const informer = informerForNamespaces(['a', 'b'], create);
    informer.start();
    await informer.waitForSync();
    expect(informer.get('a', 'one')?.metadata?.resourceVersion).to.equal('1');
    expect(informer.get('b', 'one')?.metadata?.resourceVersion).to.equal('2');
    expect(informer.get('c', 'one')).to.equal(undefined);
    expect(informer.get(undefined, 'one')).to.equal(undefined);
    expect(names(informer.list('b'))).to.deep.equal(['b/one']);
    expect(informer.list('c')).to.deep.equal([]);
    informer.stop();
  });

  it("delivers every namespace's events to one handler, with what was cached before it subscribed", async () => {
    const { source, create } = setup({ a: [secret('a', 'one', '1')], b: [] });
    const informer = informerForNamespaces(['a', 'b'], create);
    informer.start();
    await informer.waitForSync();
    await settle();
    const events: string[] = [];
    const unsubscribe = informer.on((event: InformerEvent<KubernetesObject>) => events.push(`${event.type} ${event.object.metadata!.namespace}/${event.object.metadata!.name}`));
    watchOf(source, 'b').send('ADDED', secret('b', 'two', '11'));
    watchOf(source, 'a').send('MODIFIED', secret('a', 'one', '12'));
    watchOf(source, 'b').send('DELETED', secret('b', 'two', '13'));
    unsubscribe();
    watchOf(source, 'a').send('ADDED', secret('a', 'late', '14'));
    expect(events).to.deep.equal(['ADDED a/one', 'ADDED b/two', 'MODIFIED a/one', 'DELETED b/two']);
    expect(names(informer.list())).to.deep.equal(['a/late', 'a/one']);
    informer.stop();
  });

  it('is synced only once every namespace is listed', async () => {
    const { create } = setup({ a: [], b: [] });
    let releaseB: () => void = () => {};
    const slowB = new Promise<void>((resolve) => {
      releaseB = resolve;
    });
    const informers = new Map([
      ['a', create('a')],
      [
        'b',
        new Informer<KubernetesObject>({
          name: 'secrets',
          watchSource: new FakeWatchSource(),
          path: '/api/v1/namespaces/b/secrets',
          list: async () => {
            await slowB;
            return { items: [], metadata: { resourceVersion: '1' } };
          },
        }),
      ],
    ]);
    const informer = new MultiNamespaceInformer('secrets', informers);
    informer.start();
    await informers.get('a')!.waitForSync();
    expect(informer.hasSynced(), 'b not listed yet').to.equal(false);
    releaseB();
    await informer.waitForSync();
    expect(informer.hasSynced()).to.equal(true);
    informer.stop();
  });

  it('answers an index from every namespace, kept up to date by each', async () => {
    const { source, create } = setup({ a: [secret('a', 'one', '1', 'registry-x')], b: [secret('b', 'two', '2', 'registry-x'), secret('b', 'three', '3', 'registry-y')] });
    const informer = informerForNamespaces(['a', 'b'], create);
    informer.addIndex('owner', (o) => [o.metadata?.labels?.owner ?? '']);
    informer.start();
    await informer.waitForSync();
    await settle();
    expect(names(informer.byIndex('owner', 'registry-x'))).to.deep.equal(['a/one', 'b/two']);
    watchOf(source, 'b').send('MODIFIED', secret('b', 'two', '12', 'registry-y'));
    expect(names(informer.byIndex('owner', 'registry-x'))).to.deep.equal(['a/one']);
    expect(names(informer.byIndex('owner', 'registry-y'))).to.deep.equal(['b/three', 'b/two']);
    informer.stop();
  });

  it('feeds a controller like any informer', async () => {
    const { source, create } = setup({ a: [secret('a', 'one', '1')], b: [] });
    const informer = informerForNamespaces(['a', 'b'], create);
    const keys: string[] = [];
    const controller: Pick<Controller, 'enqueue'> = { enqueue: (key) => keys.push(toKeyString(key)) };
    enqueueFromInformer(informer, controller);
    informer.start();
    await informer.waitForSync();
    await settle();
    watchOf(source, 'b').send('ADDED', secret('b', 'two', '11'));
    expect(keys).to.deep.equal(['a/one', 'b/two']);
    informer.stop();
  });
});

describe('informerForNamespaces', () => {
  it('builds one cluster-wide informer when every namespace is watched', () => {
    const { created, create } = setup({});
    const informer = informerForNamespaces(undefined, create);
    expect(informer).to.be.instanceOf(Informer);
    expect(created).to.deep.equal([undefined]);
  });

  it("builds one namespace's informer for a list of one, and one per namespace for more, each once", () => {
    const one = setup({});
    expect(informerForNamespaces(['a'], one.create)).to.be.instanceOf(Informer);
    expect(one.created).to.deep.equal(['a']);
    const many = setup({});
    const informer = informerForNamespaces(['a', 'b', 'a'], many.create);
    expect(informer).to.be.instanceOf(MultiNamespaceInformer);
    expect((informer as MultiNamespaceInformer<KubernetesObject>).namespaces()).to.deep.equal(['a', 'b']);
    expect(many.created).to.deep.equal(['a', 'b']);
  });

  it('refuses an empty list, which would watch nothing', () => {
    expect(() => informerForNamespaces([], setup({}).create)).to.throw(/empty namespace list/);
  });
});
