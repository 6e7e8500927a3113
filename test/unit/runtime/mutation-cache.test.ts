import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { MutationCache } from '../../../src/runtime/mutation-cache.ts';

const at = (resourceVersion: string, note = ''): KubernetesObject => ({ metadata: { namespace: 'ns', name: 'a', resourceVersion, annotations: { note } } });

describe('MutationCache', () => {
  it('prefers our own write while the cache holds an older version', () => {
    const cache = new MutationCache();
    cache.assume(at('12', 'written'));
    expect(cache.newest('ns/a', at('11', 'cached'))?.metadata?.annotations?.note).to.equal('written');
  });

  it('compares resourceVersions as integers, not as text', () => {
    const cache = new MutationCache();
    cache.assume(at('100', 'written'));
    expect(cache.newest('ns/a', at('99', 'cached'))?.metadata?.annotations?.note).to.equal('written');
  });

  it('returns the cached object once it has caught up, and forgets the write', () => {
    const cache = new MutationCache();
    cache.assume(at('12', 'written'));
    expect(cache.newest('ns/a', at('13', 'cached'))?.metadata?.annotations?.note).to.equal('cached');
    expect(cache.newest('ns/a', at('11', 'older'))?.metadata?.annotations?.note).to.equal('older');
  });

  it('keeps the newest of two writes', () => {
    const cache = new MutationCache();
    cache.assume(at('14', 'second'));
    cache.assume(at('13', 'first'));
    expect(cache.newest('ns/a', at('12'))?.metadata?.annotations?.note).to.equal('second');
  });

  it('treats a missing cached object as deleted', () => {
    const cache = new MutationCache();
    cache.assume(at('12', 'written'));
    expect(cache.newest('ns/a', undefined)).to.equal(undefined);
  });

  it('never prefers a write whose resourceVersion is not an integer', () => {
    const cache = new MutationCache();
    cache.assume(at('abc', 'written'));
    expect(cache.newest('ns/a', at('1', 'cached'))?.metadata?.annotations?.note).to.equal('cached');
  });

  it('forgets a write once the informer delivers it or a newer version, and keeps it while the informer lags', () => {
    const cache = new MutationCache();
    cache.assume(at('12', 'written'));
    cache.observe({ type: 'MODIFIED', object: at('11', 'older echo') });
    expect(cache.size, 'the informer has not caught up').to.equal(1);
    cache.observe({ type: 'MODIFIED', object: at('12', 'echo') });
    expect(cache.size).to.equal(0);

    cache.assume(at('14', 'written'));
    cache.observe({ type: 'ADDED', object: at('15', 'newer') });
    expect(cache.size).to.equal(0);

    cache.assume(at('16', 'written'));
    cache.observe({ type: 'DELETED', object: at('15', 'deleted') });
    expect(cache.size).to.equal(0);
    expect(cache.newest('ns/a', undefined)).to.equal(undefined);
  });
});
