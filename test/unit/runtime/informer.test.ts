import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { Controller, enqueueFromInformer } from '../../../src/runtime/controller.ts';
import { WATCH_INACTIVITY_TIMEOUT_MS } from '../../../src/kube/clients.ts';
import {
  Informer,
  type InformerEvent,
  type ListResult,
  MIN_WATCH_TIMEOUT_SECONDS,
} from '../../../src/runtime/informer.ts';
import { ExponentialBackoffRateLimiter } from '../../../src/runtime/rate-limiter.ts';
import { FakeClock, settle } from '../../support/fake-clock.ts';
import { FakeWatchSource } from '../../support/fake-watch-source.ts';

function secret(namespace: string, name: string, resourceVersion: string): KubernetesObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { namespace, name, resourceVersion } };
}

function setup(initial: ListResult<KubernetesObject>) {
  const clock = new FakeClock();
  const source = new FakeWatchSource();
  const lists: Array<ListResult<KubernetesObject> | Error> = [initial];
  const listCalls: Array<{ labelSelector?: string; fieldSelector?: string }> = [];
  const informer = new Informer<KubernetesObject>({
    name: 'secrets',
    watchSource: source,
    path: '/api/v1/secrets',
    labelSelector: 'app.kubernetes.io/managed-by=ecr-pullsecrets-operator',
    list: async (options) => {
      listCalls.push(options);
      const next = lists.length > 1 ? lists.shift()! : lists[0]!;
      if (next instanceof Error) throw next;
      return structuredClone(next);
    },
    clock,
    backoff: new ExponentialBackoffRateLimiter({ baseDelayMs: 1000, maxDelayMs: 30_000, jitter: 0 }),
  });
  const events: string[] = [];
  informer.on((event: InformerEvent<KubernetesObject>) => {
    const m = event.object.metadata!;
    events.push(`${event.type} ${m.namespace}/${m.name}@${m.resourceVersion}${event.old ? ` (was ${event.old.metadata!.resourceVersion})` : ''}`);
  });
  /** Sets what the following list calls return, in order (the last one repeats). */
  const nextLists = (...results: Array<ListResult<KubernetesObject> | Error>) => {
    lists.splice(0, lists.length, ...results);
  };
  return { clock, source, informer, events, listCalls, nextLists };
}

describe('Informer', () => {
  it('lists, delivers the items as ADDED, is synced, then watches from the list resourceVersion', async () => {
    const { source, informer, events, listCalls } = setup({
      items: [secret('a', 'one', '5'), secret('b', 'two', '7')],
      metadata: { resourceVersion: '10' },
    });
    expect(informer.hasSynced()).to.equal(false);
    informer.start();
    await informer.waitForSync();
    expect(informer.hasSynced()).to.equal(true);
    expect(events).to.deep.equal(['ADDED a/one@5', 'ADDED b/two@7']);
    expect(listCalls).to.deep.equal([{ labelSelector: 'app.kubernetes.io/managed-by=ecr-pullsecrets-operator', fieldSelector: undefined }]);
    await settle();
    expect(source.watches).to.have.length(1);
    expect(source.last.path).to.equal('/api/v1/secrets');
    expect(source.last.params).to.deep.include({
      resourceVersion: '10',
      allowWatchBookmarks: true,
      labelSelector: 'app.kubernetes.io/managed-by=ecr-pullsecrets-operator',
    });
    informer.stop();
  });

  it('asks the apiserver to end each watch after 5 to 10 minutes, spread at random, as client-go does', async () => {
    const draws = [0, 0.5, 0.999];
    const source = new FakeWatchSource();
    const informer = new Informer<KubernetesObject>({
      name: 'secrets',
      watchSource: source,
      path: '/api/v1/secrets',
      list: async () => ({ items: [], metadata: { resourceVersion: '10' } }),
      clock: new FakeClock(),
      random: () => draws.shift()!,
    });
    informer.start();
    await informer.waitForSync();
    await settle();
    const timeouts = [source.last.params.timeoutSeconds];
    for (let i = 0; i < 2; i++) {
      source.last.send('BOOKMARK', { metadata: { resourceVersion: `${11 + i}` } });
      source.last.end(null);
      await settle();
      timeouts.push(source.last.params.timeoutSeconds);
    }
    expect(timeouts).to.deep.equal([300, 450, 599]);
    expect(source.watches).to.have.length(3);
    // The client never gives up on a quiet watch before the apiserver ends it.
    expect(2 * MIN_WATCH_TIMEOUT_SECONDS * 1000).to.be.below(WATCH_INACTIVITY_TIMEOUT_MS);
    informer.stop();
  });

  it('applies watch events to the cache and emits them, with the old object on MODIFIED', async () => {
    const { source, informer, events } = setup({ items: [secret('a', 'one', '5')], metadata: { resourceVersion: '10' } });
    informer.start();
    await informer.waitForSync();
    await settle();
    source.last.send('ADDED', secret('a', 'two', '11'));
    source.last.send('MODIFIED', secret('a', 'one', '12'));
    source.last.send('DELETED', secret('a', 'two', '13'));
    source.last.send('ADDED', secret('b', 'three', '14'));
    expect(events.slice(1)).to.deep.equal([
      'ADDED a/two@11',
      'MODIFIED a/one@12 (was 5)',
      'DELETED a/two@13',
      'ADDED b/three@14',
    ]);
    expect(informer.get('a', 'one')?.metadata?.resourceVersion).to.equal('12');
    expect(informer.get('a', 'two')).to.equal(undefined);
    expect(informer.list('a').map((o) => o.metadata!.name)).to.deep.equal(['one']);
    expect(informer.list()).to.have.length(2);
    expect(informer.lastSyncResourceVersion()).to.equal('14');
    informer.stop();
  });

  it('caches listed and watched objects without their managedFields', async () => {
    const managed = (o: KubernetesObject) => ({ ...o, metadata: { ...o.metadata, managedFields: [{ manager: 'kubectl', operation: 'Apply' }] } });
    const { source, informer } = setup({ items: [managed(secret('a', 'one', '5'))], metadata: { resourceVersion: '10' } });
    informer.start();
    await informer.waitForSync();
    await settle();
    source.last.send('ADDED', managed(secret('a', 'two', '11')));
    for (const name of ['one', 'two']) {
      const cached = informer.get('a', name);
      expect(cached?.metadata?.resourceVersion, name).to.be.a('string');
      expect(cached?.metadata, name).to.not.have.property('managedFields');
    }
    informer.stop();
  });

  it('syncs empty from a list whose items are null, as a metadata-only list of an empty collection comes', async () => {
    const { source, informer, events } = setup({ items: null as unknown as KubernetesObject[], metadata: { resourceVersion: '10' } });
    informer.start();
    await informer.waitForSync();
    expect(informer.list()).to.deep.equal([]);
    await settle();
    source.last.send('ADDED', secret('a', 'one', '11'));
    expect(events).to.deep.equal(['ADDED a/one@11']);
    informer.stop();
  });

  it('caches what its transform keeps of listed and watched objects', async () => {
    const clock = new FakeClock();
    const source = new FakeWatchSource();
    const annotated = (name: string, resourceVersion: string): KubernetesObject => ({ metadata: { namespace: 'a', name, resourceVersion, annotations: { note: 'large' } } });
    const informer = new Informer<KubernetesObject>({
      name: 'metadata',
      watchSource: source,
      path: '/api/v1/namespaces/a/secrets',
      list: async () => ({ items: [annotated('one', '5')], metadata: { resourceVersion: '10' } }),
      transform: ({ metadata }) => ({ metadata: { namespace: metadata?.namespace, name: metadata?.name, resourceVersion: metadata?.resourceVersion } }),
      clock,
    });
    informer.start();
    await informer.waitForSync();
    await settle();
    source.last.send('ADDED', annotated('two', '11'));
    expect(informer.list().map((o) => o.metadata)).to.deep.equal([
      { namespace: 'a', name: 'one', resourceVersion: '5' },
      { namespace: 'a', name: 'two', resourceVersion: '11' },
    ]);
    informer.stop();
  });

  it('takes only the resourceVersion from a BOOKMARK and resumes the next watch from it', async () => {
    const { clock, source, informer, events } = setup({ items: [], metadata: { resourceVersion: '10' } });
    informer.start();
    await informer.waitForSync();
    await settle();
    clock.advance(60_000);
    source.last.send('BOOKMARK', { kind: 'Secret', apiVersion: 'v1', metadata: { resourceVersion: '99' } });
    expect(events).to.deep.equal([]);
    source.last.end();
    await settle();
    expect(source.watches).to.have.length(2);
    expect(source.last.params.resourceVersion).to.equal('99');
    informer.stop();
  });

  it('relists on an ERROR 410 event and emits the differences as synthetic events', async () => {
    const { source, informer, events, listCalls, nextLists } = setup({
      items: [secret('a', 'kept', '1'), secret('a', 'changed', '2'), secret('a', 'removed', '3')],
      metadata: { resourceVersion: '10' },
    });
    informer.start();
    await informer.waitForSync();
    await settle();
    events.length = 0;
    nextLists({
      items: [secret('a', 'kept', '1'), secret('a', 'changed', '20'), secret('a', 'new', '21')],
      metadata: { resourceVersion: '30' },
    });
    const expired = source.last;
    expired.send('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version: 10 (25)' });
    expect(expired.aborted).to.equal(true);
    await settle();
    expect(listCalls).to.have.length(2);
    expect(events).to.deep.equal(['MODIFIED a/changed@20 (was 2)', 'ADDED a/new@21', 'DELETED a/removed@3']);
    expect(informer.list().map((o) => o.metadata!.name).sort()).to.deep.equal(['changed', 'kept', 'new']);
    expect(source.watches).to.have.length(2);
    expect(source.last.params.resourceVersion).to.equal('30');
    informer.stop();
  });

  it('relists when the watch ends with a 410 error', async () => {
    const { source, informer, listCalls } = setup({ items: [], metadata: { resourceVersion: '10' } });
    informer.start();
    await informer.waitForSync();
    await settle();
    source.last.end(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await settle();
    expect(listCalls).to.have.length(2);
    expect(source.watches).to.have.length(2);
    informer.stop();
  });

  it('backs off its relists while every watch after a list is answered 410, and relists at once again after a watch served', async () => {
    const { clock, source, informer, listCalls } = setup({ items: [], metadata: { resourceVersion: '10' } });
    const gone = { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' };
    informer.start();
    await informer.waitForSync();
    await settle();
    // The first 410 relists at once; each following one, with no watch serving in between, waits longer.
    const relistDelays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const lists = listCalls.length;
      source.last.send('ERROR', gone);
      await settle();
      const waitMs = listCalls.length > lists ? 0 : clock.nextTimerInMs()!;
      if (waitMs > 0) {
        await clock.advanceAsync(waitMs - 1);
        expect(listCalls.length, 'no relist before the backoff').to.equal(lists);
        await clock.advanceAsync(1);
      }
      expect(listCalls.length).to.equal(lists + 1);
      relistDelays.push(waitMs);
    }
    expect(relistDelays).to.deep.equal([0, 1000, 2000, 4000]);

    // A watch that delivers an event ends the run: the next 410 relists at once again.
    source.last.send('ADDED', secret('a', 'one', '11'));
    const lists = listCalls.length;
    source.last.end(Object.assign(new Error('Gone'), { statusCode: 410 }));
    await settle();
    expect(listCalls.length).to.equal(lists + 1);
    informer.stop();
  });

  it('restarts a watch that ends normally at once, from the last resourceVersion, without relisting', async () => {
    const { clock, source, informer, listCalls } = setup({ items: [], metadata: { resourceVersion: '10' } });
    informer.start();
    await informer.waitForSync();
    await settle();
    source.last.send('ADDED', secret('a', 'one', '11'));
    clock.advance(30_000);
    source.last.end(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    await settle();
    expect(listCalls).to.have.length(1);
    expect(source.watches).to.have.length(2);
    expect(source.last.params.resourceVersion).to.equal('11');
    informer.stop();
  });

  it('restarts a failed watch with growing backoff, reset once the watch delivers events', async () => {
    const { clock, source, informer } = setup({ items: [], metadata: { resourceVersion: '10' } });
    informer.start();
    await informer.waitForSync();
    await settle();
    const restartDelays: number[] = [];
    for (let i = 0; i < 4; i++) {
      source.last.end(new Error('connection reset'));
      await settle();
      const before = source.watches.length;
      const waitMs = clock.nextTimerInMs()!;
      await clock.advanceAsync(waitMs - 1);
      expect(source.watches.length, 'no restart before the backoff').to.equal(before);
      await clock.advanceAsync(1);
      expect(source.watches.length).to.equal(before + 1);
      restartDelays.push(waitMs);
    }
    expect(restartDelays).to.deep.equal([1000, 2000, 4000, 8000]);

    source.last.send('ADDED', secret('a', 'one', '11'));
    source.last.end(new Error('connection reset'));
    await settle();
    expect(clock.nextTimerInMs()).to.equal(1000);
    informer.stop();
  });

  it('backs off when a watch closes cleanly at once without delivering anything', async () => {
    const { clock, source, informer } = setup({ items: [], metadata: { resourceVersion: '10' } });
    informer.start();
    await informer.waitForSync();
    await settle();
    source.last.end();
    await settle();
    expect(source.watches).to.have.length(1);
    await clock.advanceAsync(1000);
    expect(source.watches).to.have.length(2);
    informer.stop();
  });

  it('retries a failed list with backoff and is synced only after a list succeeds', async () => {
    const { clock, source, informer, listCalls, nextLists } = setup({ items: [], metadata: { resourceVersion: '1' } });
    nextLists(new Error('connection refused'), new Error('connection refused'), { items: [secret('a', 'one', '1')], metadata: { resourceVersion: '2' } });
    let synced = false;
    void informer.waitForSync().then(() => {
      synced = true;
    });
    informer.start();
    await settle();
    expect(listCalls).to.have.length(1);
    expect(synced).to.equal(false);
    await clock.advanceAsync(1000);
    expect(listCalls).to.have.length(2);
    await clock.advanceAsync(1999);
    expect(listCalls).to.have.length(2);
    await clock.advanceAsync(1);
    expect(listCalls).to.have.length(3);
    expect(synced).to.equal(true);
    expect(source.watches).to.have.length(1);
    informer.stop();
  });

  it('rejects a pending waitForSync when stopped before syncing', async () => {
    const { informer } = setup({ items: [], metadata: { resourceVersion: '10' } });
    const pending = informer.waitForSync();
    informer.stop();
    let rejected = false;
    await pending.catch(() => {
      rejected = true;
    });
    expect(rejected).to.equal(true);
  });

  it('aborts the watch on stop and ignores its late events', async () => {
    const { source, informer, events } = setup({ items: [], metadata: { resourceVersion: '10' } });
    informer.start();
    await informer.waitForSync();
    await settle();
    const watch = source.last;
    informer.stop();
    expect(watch.aborted).to.equal(true);
    watch.aborted = false; // a real stream may still deliver a buffered line after abort
    watch.send('ADDED', secret('a', 'late', '11'));
    watch.end(new Error('closed'));
    await settle();
    expect(events).to.deep.equal([]);
    expect(source.watches).to.have.length(1);
  });

  it('rejects waitForSync when its signal aborts', async () => {
    const { informer } = setup({ items: [], metadata: { resourceVersion: '10' } });
    const controller = new AbortController();
    const waiting = informer.waitForSync(controller.signal);
    controller.abort(new Error('shutting down'));
    let reason: unknown;
    await waiting.catch((err: unknown) => {
      reason = err;
    });
    expect((reason as Error).message).to.equal('shutting down');
  });

  it('replays the cache to a handler added after sync', async () => {
    const { informer } = setup({ items: [secret('a', 'one', '5')], metadata: { resourceVersion: '10' } });
    informer.start();
    await informer.waitForSync();
    const added: string[] = [];
    informer.onAdd((object) => added.push(object.metadata!.name!));
    expect(added).to.deep.equal(['one']);
    informer.stop();
  });

  it('feeds controllers with object keys, or with the keys a map function returns', async () => {
    const { source, informer } = setup({ items: [secret('a', 'one', '5')], metadata: { resourceVersion: '10' } });
    const clock = new FakeClock();
    const recordingController = (name: string, keys: string[]) =>
      new Controller({
        name,
        clock,
        reconcile: async (key) => {
          keys.push(`${key.namespace}/${key.name}`);
        },
      });
    const ownKeys: string[] = [];
    const ownerKeys: string[] = [];
    const byObject = recordingController('own', ownKeys);
    const byOwner = recordingController('owner', ownerKeys);
    byObject.start();
    byOwner.start();
    enqueueFromInformer(informer, byObject);
    enqueueFromInformer(informer, byOwner, (event) =>
      event.type === 'DELETED' ? undefined : [{ namespace: 'registries', name: event.object.metadata!.name! }],
    );
    informer.start();
    await informer.waitForSync();
    await settle();
    source.last.send('ADDED', secret('b', 'two', '11'));
    await settle();
    source.last.send('DELETED', secret('b', 'two', '12'));
    await settle();
    expect(ownKeys).to.deep.equal(['a/one', 'b/two', 'b/two']);
    expect(ownerKeys).to.deep.equal(['registries/one', 'registries/two']);
    informer.stop();
    await byObject.stop({ deadlineMs: 1000 });
    await byOwner.stop({ deadlineMs: 1000 });
  });
});

describe('Informer indexes', () => {
  /** A Secret whose `team` label is what the index keys it by (none, one or several comma-separated values). */
  function labelled(namespace: string, name: string, resourceVersion: string, team?: string): KubernetesObject {
    return { apiVersion: 'v1', kind: 'Secret', metadata: { namespace, name, resourceVersion, ...(team !== undefined ? { labels: { team } } : {}) } };
  }
  const byTeam = (object: KubernetesObject) => (object.metadata?.labels?.team ? object.metadata.labels.team.split(',') : []);
  const names = (objects: KubernetesObject[]) => objects.map((o) => `${o.metadata!.namespace}/${o.metadata!.name}`).sort();

  async function started(initial: ListResult<KubernetesObject>) {
    const s = setup(initial);
    s.informer.addIndex('team', byTeam);
    s.informer.start();
    await s.informer.waitForSync();
    await settle();
    return s;
  }

  it('answers from the listed objects once synced', async () => {
    const { informer } = await started({ items: [labelled('a', 'one', '1', 'red'), labelled('b', 'two', '2', 'red'), labelled('a', 'three', '3', 'blue')], metadata: { resourceVersion: '10' } });
    expect(names(informer.byIndex('team', 'red'))).to.deep.equal(['a/one', 'b/two']);
    expect(names(informer.byIndex('team', 'blue'))).to.deep.equal(['a/three']);
    expect(informer.byIndex('team', 'green')).to.deep.equal([]);
    informer.stop();
  });

  it('adds an object under each value its index function returns, and none for an empty list', async () => {
    const { source, informer } = await started({ items: [], metadata: { resourceVersion: '10' } });
    source.last.send('ADDED', labelled('a', 'both', '11', 'red,blue'));
    source.last.send('ADDED', labelled('a', 'none', '12'));
    expect(names(informer.byIndex('team', 'red'))).to.deep.equal(['a/both']);
    expect(names(informer.byIndex('team', 'blue'))).to.deep.equal(['a/both']);
    expect(informer.byIndex('team', '')).to.deep.equal([]);
    informer.stop();
  });

  it('moves an object whose value changes, and returns its current version', async () => {
    const { source, informer } = await started({ items: [labelled('a', 'one', '1', 'red')], metadata: { resourceVersion: '10' } });
    source.last.send('MODIFIED', labelled('a', 'one', '11', 'blue'));
    expect(informer.byIndex('team', 'red')).to.deep.equal([]);
    expect(informer.byIndex('team', 'blue').map((o) => o.metadata!.resourceVersion)).to.deep.equal(['11']);
    source.last.send('MODIFIED', labelled('a', 'one', '12', 'blue'));
    expect(informer.byIndex('team', 'blue').map((o) => o.metadata!.resourceVersion)).to.deep.equal(['12']);
    informer.stop();
  });

  it('forgets a deleted object under the value it was cached with', async () => {
    const { source, informer } = await started({ items: [labelled('a', 'one', '1', 'red'), labelled('a', 'two', '2', 'red')], metadata: { resourceVersion: '10' } });
    // The DELETED event carries the object's last state; the index drops it wherever the cache had it.
    source.last.send('DELETED', labelled('a', 'one', '11', 'blue'));
    expect(names(informer.byIndex('team', 'red'))).to.deep.equal(['a/two']);
    expect(informer.byIndex('team', 'blue')).to.deep.equal([]);
    informer.stop();
  });

  it('follows a relist: changed, new and vanished objects', async () => {
    const { source, informer, nextLists } = await started({
      items: [labelled('a', 'kept', '1', 'red'), labelled('a', 'changed', '2', 'red'), labelled('a', 'removed', '3', 'red')],
      metadata: { resourceVersion: '10' },
    });
    nextLists({ items: [labelled('a', 'kept', '1', 'red'), labelled('a', 'changed', '20', 'blue'), labelled('a', 'new', '21', 'blue')], metadata: { resourceVersion: '30' } });
    source.last.send('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 410, reason: 'Expired', message: 'too old resource version' });
    await settle();
    expect(names(informer.byIndex('team', 'red'))).to.deep.equal(['a/kept']);
    expect(names(informer.byIndex('team', 'blue'))).to.deep.equal(['a/changed', 'a/new']);
    informer.stop();
  });

  it('is up to date when handlers receive the event that changed it', async () => {
    const { source, informer } = await started({ items: [labelled('a', 'one', '1', 'red')], metadata: { resourceVersion: '10' } });
    const seen: string[] = [];
    informer.on((event) => {
      if (event.type === 'ADDED') return;
      seen.push(`${event.type}: red=${names(informer.byIndex('team', 'red')).join(',')} blue=${names(informer.byIndex('team', 'blue')).join(',')}`);
    });
    source.last.send('MODIFIED', labelled('a', 'one', '11', 'blue'));
    source.last.send('DELETED', labelled('a', 'one', '12', 'blue'));
    expect(seen).to.deep.equal(['MODIFIED: red= blue=a/one', 'DELETED: red= blue=']);
    informer.stop();
  });

  it('indexes what is already cached when the index is added after sync', async () => {
    const { informer } = setup({ items: [labelled('a', 'one', '1', 'red')], metadata: { resourceVersion: '10' } });
    informer.start();
    await informer.waitForSync();
    informer.addIndex('team', byTeam);
    expect(names(informer.byIndex('team', 'red'))).to.deep.equal(['a/one']);
    informer.stop();
  });

  it('refuses an index name twice, and a lookup in an index it does not have', () => {
    const { informer } = setup({ items: [], metadata: { resourceVersion: '10' } });
    informer.addIndex('team', byTeam);
    expect(() => informer.addIndex('team', byTeam)).to.throw(/index team already exists/);
    expect(() => informer.byIndex('owner', 'x')).to.throw(/no index named owner/);
  });
});
