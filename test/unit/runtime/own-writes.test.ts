import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { OwnWrites } from '../../../src/runtime/own-writes.ts';

const secret = (resourceVersion: string): KubernetesObject => ({ metadata: { namespace: 'a', name: 's', resourceVersion } });
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('OwnWrites: the watch echoes of this process\'s own writes', () => {
  it('takes the echo of an answered write for its own, and any other version for someone else\'s', async () => {
    const own = new OwnWrites();
    await own.record(secret(''), async () => secret('5'));
    await settle();
    const later: string[] = [];
    expect(own.changedByOthers({ type: 'MODIFIED', object: secret('5') }, () => later.push('5'))).to.equal(false);
    expect(own.changedByOthers({ type: 'MODIFIED', object: secret('6') }, () => later.push('6'))).to.equal(true);
    expect(own.changedByOthers({ type: 'DELETED', object: secret('7') }, () => later.push('7'))).to.equal(true);
    expect(later).to.deep.equal([]);
  });

  it('decides on an echo that arrives before its write\'s answer once the answer comes', async () => {
    const own = new OwnWrites();
    let answer!: (s: KubernetesObject) => void;
    const writing = own.record(secret(''), () => new Promise<KubernetesObject>((resolve) => (answer = resolve)));
    const later: string[] = [];
    expect(own.changedByOthers({ type: 'ADDED', object: secret('5') }, () => later.push('5'))).to.equal(false);
    expect(own.changedByOthers({ type: 'MODIFIED', object: secret('6') }, () => later.push('6'))).to.equal(false);
    answer(secret('5'));
    await writing;
    await settle();
    expect(later).to.deep.equal(['6']);
  });

  it('passes a failed write to its caller, leaves no rejection behind, and requeues what came meanwhile', async () => {
    const own = new OwnWrites();
    let fail!: (error: Error) => void;
    const writing = own.record(secret(''), () => new Promise<KubernetesObject>((_resolve, reject) => (fail = reject)));
    const later: string[] = [];
    expect(own.changedByOthers({ type: 'MODIFIED', object: secret('5') }, () => later.push('5'))).to.equal(false);
    fail(new Error('429'));
    const error = await writing.catch((e: unknown) => e);
    expect(error).to.be.instanceOf(Error);
    await settle();
    expect(later).to.deep.equal(['5']);
  });
});
