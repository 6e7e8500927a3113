import type { KubernetesObject, V1ServiceAccount } from '@kubernetes/client-node';
import { expect } from 'chai';
import type { ListResult } from '../../../src/runtime/informer.ts';
import { MetadataBackedReads } from '../../../src/runtime/metadata-backed-reads.ts';
import { FakeClock, settle } from '../../support/fake-clock.ts';
import { FakeWatchSource } from '../../support/fake-watch-source.ts';

function account(namespace: string, name: string, resourceVersion: string, roleArn: string): V1ServiceAccount {
  return { metadata: { namespace, name, resourceVersion, uid: `uid-${name}`, annotations: { 'eks.amazonaws.com/role-arn': roleArn } } };
}

/** The apiserver as MetadataBackedReads sees it: ServiceAccounts in every namespace, metadata-only lists, whole-object reads. */
function setup() {
  const source = new FakeWatchSource();
  const stored = new Map<string, V1ServiceAccount>();
  const reads: string[] = [];
  const accounts = new MetadataBackedReads<V1ServiceAccount>({
    name: 'serviceaccounts',
    path: '/api/v1/serviceaccounts',
    metadataWatchSource: source,
    clock: new FakeClock(),
    listMetadata: async (): Promise<ListResult<KubernetesObject>> => ({
      items: [...stored.values()].map((a) => ({ metadata: structuredClone(a.metadata) })),
      metadata: { resourceVersion: '100' },
    }),
    read: async (namespace, name) => {
      reads.push(`${namespace}/${name}`);
      return structuredClone(stored.get(`${namespace}/${name}`));
    },
  });
  const put = (a: V1ServiceAccount) => stored.set(`${a.metadata!.namespace}/${a.metadata!.name}`, a);
  return { source, accounts, put, reads };
}

const roleOf = (a: V1ServiceAccount | undefined) => a?.metadata?.annotations?.['eks.amazonaws.com/role-arn'];

describe('MetadataBackedReads', () => {
  it('reads an object once, serves the kept copy until the watch reports a new version, and answers a missing one without reading', async () => {
    const { source, accounts, put, reads } = setup();
    put(account('team-a', 'puller', '5', 'arn:aws:iam::111122223333:role/old'));
    accounts.start();
    await settle();
    expect(roleOf(await accounts.get('team-a', 'puller'))).to.equal('arn:aws:iam::111122223333:role/old');
    expect(roleOf(await accounts.get('team-a', 'puller'))).to.equal('arn:aws:iam::111122223333:role/old');
    expect(await accounts.get('team-b', 'puller'), 'the watch lists no such object').to.equal(undefined);
    expect(reads).to.deep.equal(['team-a/puller']);

    put(account('team-a', 'puller', '6', 'arn:aws:iam::111122223333:role/new'));
    source.last.send('MODIFIED', { metadata: { namespace: 'team-a', name: 'puller', resourceVersion: '6' } });
    expect(roleOf(await accounts.get('team-a', 'puller'))).to.equal('arn:aws:iam::111122223333:role/new');
    expect(reads).to.have.length(2);

    source.last.send('DELETED', { metadata: { namespace: 'team-a', name: 'puller', resourceVersion: '7' } });
    expect(await accounts.get('team-a', 'puller')).to.equal(undefined);
    expect(reads).to.have.length(2);
    accounts.stop();
  });

  it('makes one read for concurrent gets of the same object, before and after the watch has listed', async () => {
    const { accounts, put, reads } = setup();
    put(account('team-a', 'puller', '5', 'arn:aws:iam::111122223333:role/one'));
    accounts.start();
    const early = await Promise.all([1, 2, 3].map(() => accounts.get('team-a', 'puller')));
    expect(early.map(roleOf)).to.deep.equal(Array(3).fill('arn:aws:iam::111122223333:role/one'));
    expect(reads, 'not listed yet: one direct read for all three').to.deep.equal(['team-a/puller']);
    await settle();

    // A ClusterEcrRegistry reconciled across namespaces, and its peers, ask for the same account at once.
    const listed = await Promise.all([1, 2, 3, 4].map(() => accounts.get('team-a', 'puller')));
    expect(listed.map(roleOf)).to.deep.equal(Array(4).fill('arn:aws:iam::111122223333:role/one'));
    expect(reads, 'one read for the four, then kept').to.have.length(2);
    await accounts.get('team-a', 'puller');
    expect(reads).to.have.length(2);
    accounts.stop();
  });
});
