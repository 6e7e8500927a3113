import type { V1Secret } from '@kubernetes/client-node';
import { expect } from 'chai';
import { KeptReads } from '../../../src/runtime/kept-reads.ts';

/** A read the test answers by hand, so it can change the world while the read is under way. */
function manualReads() {
  const pending: Array<{ key: string; answer: (s: V1Secret | undefined) => void }> = [];
  const reads = new KeptReads<V1Secret>(
    (namespace, name) =>
      new Promise((resolve) => {
        pending.push({ key: `${namespace}/${name}`, answer: resolve });
      }),
  );
  return { reads, pending };
}

const secret = (resourceVersion: string): V1Secret => ({ metadata: { namespace: 'team-a', name: 'keys', resourceVersion } });

describe('KeptReads', () => {
  it('asks whether to keep an object when its read returns, not when it starts', async () => {
    const { reads, pending } = manualReads();
    let wanted = true;
    const read = reads.get('team-a', 'keys', '5', () => wanted);
    wanted = false;
    pending[0]!.answer(secret('5'));
    expect((await read)?.metadata?.resourceVersion).to.equal('5');
    expect(reads.size, 'let go of while it was being read').to.equal(0);
  });

  it('keeps nothing read without a version, and reads again when the kept copy is not the version the watch reports', async () => {
    const { reads, pending } = manualReads();
    const unlisted = reads.get('team-a', 'keys', undefined);
    pending[0]!.answer(secret('5'));
    await unlisted;
    expect(reads.size).to.equal(0);

    const first = reads.get('team-a', 'keys', '5');
    pending[1]!.answer(secret('5'));
    await first;
    expect(reads.size).to.equal(1);
    expect((await reads.get('team-a', 'keys', '5'))?.metadata?.resourceVersion, 'kept').to.equal('5');
    expect(pending).to.have.length(2);

    reads.observe('team-a/keys', '6');
    expect(reads.size, 'the watch reports a newer version').to.equal(0);
    const second = reads.get('team-a', 'keys', '6');
    const sharedSecond = reads.get('team-a', 'keys', '6');
    expect(pending, 'one read for both').to.have.length(3);
    pending[2]!.answer(secret('6'));
    expect([(await second)?.metadata?.resourceVersion, (await sharedSecond)?.metadata?.resourceVersion]).to.deep.equal(['6', '6']);

    reads.observe('team-a/keys', '6');
    expect(reads.size, 'an event for the kept version keeps it').to.equal(1);
    reads.observe('team-a/keys', undefined);
    expect(reads.size, 'deleted').to.equal(0);
  });
});
