import { expect } from 'chai';
import { ExponentialBackoffRateLimiter } from '../../../src/runtime/rate-limiter.ts';
import { WorkQueue } from '../../../src/runtime/work-queue.ts';
import { FakeClock, settle } from '../../support/fake-clock.ts';

function newQueue(clock = new FakeClock()): WorkQueue {
  return new WorkQueue({
    name: 'test',
    clock,
    rateLimiter: new ExponentialBackoffRateLimiter({ baseDelayMs: 100, maxDelayMs: 1000, jitter: 0 }),
  });
}

/** Takes every ready key without waiting. */
async function drain(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.len() > 0) keys.push((await queue.get())!);
  return keys;
}

describe('WorkQueue', () => {
  it('does not add a key that is already waiting', async () => {
    const queue = newQueue();
    queue.add('ns/a');
    queue.add('ns/a');
    queue.add('ns/b');
    expect(queue.len()).to.equal(2);
    expect(await drain(queue)).to.deep.equal(['ns/a', 'ns/b']);
  });

  it('hands out ready keys in the order they were added', async () => {
    const queue = newQueue();
    for (const key of ['c', 'a', 'b']) queue.add(key);
    expect(await drain(queue)).to.deep.equal(['c', 'a', 'b']);
  });

  it('resolves a waiting getter when a key is added', async () => {
    const queue = newQueue();
    const next = queue.get();
    queue.add('ns/a');
    expect(await next).to.equal('ns/a');
  });

  it('never hands a key being processed to a second worker, and re-queues it on done if it was added meanwhile', async () => {
    const queue = newQueue();
    queue.add('ns/a');
    const first = await queue.get();
    expect(first).to.equal('ns/a');

    let second: string | undefined;
    void queue.get().then((key) => {
      second = key;
    });
    queue.add('ns/a');
    queue.add('ns/a');
    await settle();
    expect(second, 'handed out while still processing').to.equal(undefined);
    expect(queue.len()).to.equal(0);

    queue.done('ns/a');
    await settle();
    expect(second).to.equal('ns/a');
    queue.done('ns/a');
    expect(queue.len()).to.equal(0);
  });

  it('does not re-queue a processed key that was not added again', async () => {
    const queue = newQueue();
    queue.add('ns/a');
    await queue.get();
    queue.done('ns/a');
    expect(queue.len()).to.equal(0);
    expect(queue.isProcessing('ns/a')).to.equal(false);
  });

  it('adds a delayed key once its delay has passed', () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    queue.addAfter('ns/a', 1000);
    clock.advance(999);
    expect(queue.len()).to.equal(0);
    clock.advance(1);
    expect(queue.len()).to.equal(1);
  });

  it('keeps the earliest deadline when a waiting key is added again with a later one', async () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    queue.addAfter('ns/a', 500);
    queue.addAfter('ns/a', 1000);
    clock.advance(500);
    expect(await drain(queue)).to.deep.equal(['ns/a']);
    queue.done('ns/a');
    clock.advance(1000);
    expect(queue.len(), 'the later deadline was dropped').to.equal(0);
  });

  it('moves a waiting key to an earlier deadline', () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    queue.addAfter('ns/a', 1000);
    queue.addAfter('ns/a', 200);
    clock.advance(200);
    expect(queue.len()).to.equal(1);
    expect(queue.waitingLen()).to.equal(0);
  });

  it('adds at once when the delay is zero or negative', () => {
    const queue = newQueue();
    queue.addAfter('ns/a', 0);
    queue.addAfter('ns/b', -5);
    expect(queue.len()).to.equal(2);
  });

  it('keeps one timer for many delayed keys and releases them in deadline order', async () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    for (let i = 0; i < 1000; i++) queue.addAfter(`ns/k${i}`, 1000 + ((i * 7919) % 1000));
    queue.addAfter('ns/first', 10);
    expect(clock.pendingTimers()).to.equal(1);
    clock.advance(10);
    expect(await drain(queue)).to.deep.equal(['ns/first']);
    clock.advance(2000);
    const released = await drain(queue);
    expect(released).to.have.length(1000);
    expect(released[0]).to.equal('ns/k0');
    expect(clock.pendingTimers()).to.equal(0);
  });

  it('backs off rate-limited keys exponentially up to the cap, and forget resets the backoff', () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    const observed: number[] = [];
    for (let i = 0; i < 6; i++) {
      const start = clock.now();
      queue.addRateLimited('ns/a');
      const waitMs = clock.nextTimerInMs()!;
      clock.advance(waitMs);
      expect(queue.len()).to.equal(1);
      observed.push(clock.now() - start);
      void queue.get();
      queue.done('ns/a');
    }
    expect(observed).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
    expect(queue.numRequeues('ns/a')).to.equal(6);

    queue.forget('ns/a');
    expect(queue.numRequeues('ns/a')).to.equal(0);
    queue.addRateLimited('ns/a');
    expect(clock.nextTimerInMs()).to.equal(100);
  });

  // Issue 14's clock fault: delays are durations, so an NTP step of the wall clock must not move them.
  it('releases no delayed key early when the wall clock steps forward', async () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    queue.addAfter('ns/soon', 1_000);
    for (let i = 0; i < 100; i++) queue.addAfter(`ns/k${i}`, 60_000 + i * 1_000);
    clock.stepWallClock(10 * 60_000);
    clock.advance(1_000);
    expect(await drain(queue), 'only the key whose delay passed').to.deep.equal(['ns/soon']);
    expect(queue.waitingLen()).to.equal(100);
  });

  it('still releases a delayed key on time when the wall clock steps back', () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    queue.addAfter('ns/a', 1_000);
    clock.stepWallClock(-10 * 60_000);
    clock.advance(1_000);
    expect(queue.len(), 'released after its delay, not 10 minutes later').to.equal(1);
  });

  it('releases waiting getters with undefined on shutdown and ignores later adds', async () => {
    const clock = new FakeClock();
    const queue = newQueue(clock);
    const waiting = [queue.get(), queue.get()];
    queue.addAfter('ns/later', 100);
    queue.shutDown();
    expect(await Promise.all(waiting)).to.deep.equal([undefined, undefined]);
    expect(queue.shuttingDown()).to.equal(true);
    queue.add('ns/a');
    expect(queue.len()).to.equal(0);
    expect(await queue.get()).to.equal(undefined);
    expect(clock.pendingTimers(), 'delay timer cancelled').to.equal(0);
  });
});
