import { ApiException } from '@kubernetes/client-node';
import { expect } from 'chai';
import {
  Controller,
  type ControllerMetrics,
  type ObjectKey,
  type ReconcileResult,
  RetryError,
  TerminalError,
} from '../../../src/runtime/controller.ts';
import { ExponentialBackoffRateLimiter } from '../../../src/runtime/rate-limiter.ts';
import { WorkQueue } from '../../../src/runtime/work-queue.ts';
import { FakeClock, settle } from '../../support/fake-clock.ts';

interface Call {
  key: ObjectKey;
  atMs: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

function setup(
  reconcile: (key: ObjectKey, signal: AbortSignal) => Promise<ReconcileResult>,
  options: { workers?: number; metrics?: ControllerMetrics } = {},
) {
  const clock = new FakeClock();
  const queue = new WorkQueue({
    name: 'test',
    clock,
    rateLimiter: new ExponentialBackoffRateLimiter({ baseDelayMs: 100, maxDelayMs: 1000, jitter: 0 }),
  });
  const controller = new Controller({ name: 'test', reconcile, queue, clock, ...options });
  return { clock, queue, controller };
}

describe('Controller', () => {
  it('reconciles an enqueued key once, as an ObjectKey', async () => {
    const calls: ObjectKey[] = [];
    const { controller } = setup(async (key) => {
      calls.push(key);
    });
    controller.start();
    controller.enqueue({ namespace: 'team-a', name: 'registry' });
    controller.enqueue('cluster-scoped');
    await settle();
    expect(calls).to.deep.equal([
      { namespace: 'team-a', name: 'registry' },
      { namespace: '', name: 'cluster-scoped' },
    ]);
    await controller.stop({ deadlineMs: 1000 });
  });

  it('reconciles again after requeueAfterMs', async () => {
    const calls: Call[] = [];
    const { clock, controller } = setup(async (key) => {
      calls.push({ key, atMs: clock.now() });
      return { requeueAfterMs: 60_000 };
    });
    const start = clock.now();
    controller.start();
    controller.enqueue('ns/a');
    await settle();
    await clock.advanceAsync(59_999);
    expect(calls).to.have.length(1);
    await clock.advanceAsync(1);
    expect(calls.map((c) => c.atMs - start)).to.deep.equal([0, 60_000]);
    await controller.stop({ deadlineMs: 1000 });
  });

  it('retries a failing key with growing backoff, and forgets the backoff on success', async () => {
    const calls: number[] = [];
    let failuresLeft = 3;
    const { clock, queue, controller } = setup(async () => {
      calls.push(clock.now());
      if (failuresLeft-- > 0) throw new Error('ECR unavailable');
    });
    const start = clock.now();
    controller.start();
    controller.enqueue('ns/a');
    await clock.advanceAsync(10_000);
    expect(calls.map((at) => at - start)).to.deep.equal([0, 100, 300, 700]);
    expect(queue.numRequeues('ns/a')).to.equal(0);
    await controller.stop({ deadlineMs: 1000 });
  });

  it('waits at least the Retry-After a throttled apiserver answered before retrying the key', async () => {
    const calls: number[] = [];
    let failuresLeft = 2;
    const { clock, controller } = setup(async () => {
      calls.push(clock.now());
      if (failuresLeft-- > 0) throw new ApiException(429, 'Too Many Requests', '', { 'retry-after': '2' });
    });
    const start = clock.now();
    controller.start();
    controller.enqueue('ns/a');
    await clock.advanceAsync(10_000);
    // Without Retry-After the backoff alone would have retried after 100 and 200 ms.
    expect(calls.map((at) => at - start)).to.deep.equal([0, 2_000, 4_000]);
    await controller.stop({ deadlineMs: 1000 });
  });

  // Issue 14: ECR down while the backoff has grown; Ready must turn False when the served token expires.
  it('retries a RetryError no later than its retryWithinMs, however long the backoff has grown', async () => {
    const calls: number[] = [];
    const { clock, controller } = setup(async () => {
      calls.push(clock.now());
      // The backoff reaches its 1 s cap; the error asks for a look within 250 ms from the fourth failure on.
      throw new RetryError('ECR unavailable', calls.length >= 4 ? { retryWithinMs: 250 } : {});
    });
    const start = clock.now();
    controller.start();
    controller.enqueue('ns/a');
    await clock.advanceAsync(1_700);
    expect(calls.map((at) => at - start)).to.deep.equal([0, 100, 300, 700, 950, 1_200, 1_450, 1_700]);
    await controller.stop({ deadlineMs: 1000 });
  });

  // Issue 14's soak: a throttled credential set's failure is shared for 5 s; retries that only met it
  // grew each registry's backoff past its token's expiry. Waiting on a shared failure costs nothing.
  it('waits a RetryError without backoff for its retryWithinMs, and does not grow the backoff', async () => {
    const calls: number[] = [];
    const { clock, queue, controller } = setup(async () => {
      calls.push(clock.now());
      if (calls.length === 1) throw new RetryError('ECR throttled');
      if (calls.length <= 3) throw new RetryError('ECR throttled (shared)', { retryWithinMs: 2_000, backoff: false });
      if (calls.length === 4) throw new RetryError('ECR throttled');
    });
    const start = clock.now();
    controller.start();
    controller.enqueue('ns/a');
    await clock.advanceAsync(10_000);
    // 100 ms after the first failure; 2 s waits that leave the backoff alone; then 200 ms, the second step.
    expect(calls.map((at) => at - start)).to.deep.equal([0, 100, 2_100, 4_100, 4_300]);
    expect(queue.numRequeues('ns/a')).to.equal(0);
    await controller.stop({ deadlineMs: 1000 });
  });

  it('does not retry a TerminalError until the key is enqueued again', async () => {
    let calls = 0;
    const { clock, queue, controller } = setup(async () => {
      calls++;
      throw new TerminalError('spec.region is not a region');
    });
    controller.start();
    controller.enqueue('ns/a');
    await clock.advanceAsync(600_000);
    expect(calls).to.equal(1);
    expect(queue.numRequeues('ns/a')).to.equal(0);
    controller.enqueue('ns/a');
    await settle();
    expect(calls).to.equal(2);
    await controller.stop({ deadlineMs: 1000 });
  });

  it('never reconciles one key on two workers at once, but runs different keys in parallel', async () => {
    const gates = new Map<string, Deferred>();
    const running: string[] = [];
    let maxSameKey = 0;
    const { controller } = setup(
      async (key) => {
        running.push(key.name);
        maxSameKey = Math.max(maxSameKey, running.filter((n) => n === key.name).length);
        const gate = deferred();
        gates.set(key.name, gate);
        await gate.promise;
        running.splice(running.indexOf(key.name), 1);
      },
      { workers: 3 },
    );
    controller.start();
    controller.enqueue('ns/a');
    controller.enqueue('ns/b');
    await settle();
    controller.enqueue('ns/a');
    await settle();
    expect([...running].sort()).to.deep.equal(['a', 'b']);
    gates.get('a')!.resolve();
    await settle();
    expect(running.filter((n) => n === 'a')).to.have.length(1);
    gates.get('a')!.resolve();
    gates.get('b')!.resolve();
    await settle();
    expect(maxSameKey).to.equal(1);
    expect(running).to.deep.equal([]);
    await controller.stop({ deadlineMs: 1000 });
  });

  it('stop waits for in-flight reconciles and takes no new work', async () => {
    const gate = deferred();
    let calls = 0;
    const { controller } = setup(async () => {
      calls++;
      await gate.promise;
    });
    controller.start();
    controller.enqueue('ns/a');
    await settle();
    let stopped = false;
    const stopping = controller.stop({ deadlineMs: 30_000 }).then(() => {
      stopped = true;
    });
    controller.enqueue('ns/b');
    await settle();
    expect(stopped).to.equal(false);
    expect(controller.inFlight()).to.equal(1);
    gate.resolve();
    await stopping;
    expect(calls).to.equal(1);
  });

  it('stop returns at the deadline and aborts the signal of reconciles still running', async () => {
    let signal: AbortSignal | undefined;
    const { clock, controller } = setup(async (_key, s) => {
      signal = s;
      await new Promise<void>(() => {});
    });
    controller.start();
    controller.enqueue('ns/a');
    await settle();
    let stopped = false;
    const stopping = controller.stop({ deadlineMs: 5000 }).then(() => {
      stopped = true;
    });
    await clock.advanceAsync(4999);
    expect(stopped).to.equal(false);
    await clock.advanceAsync(1);
    await stopping;
    expect(signal?.aborted).to.equal(true);
  });

  it('reports each reconcile outcome and duration to the metrics', async () => {
    const finished: Array<[string, string, number]> = [];
    const metrics: ControllerMetrics = {
      reconcileFinished: (controller, outcome, seconds) => finished.push([controller, outcome, seconds]),
      queueDepth: () => {},
    };
    let call = 0;
    const { clock, controller } = setup(
      async () => {
        call++;
        clock.advance(250);
        if (call === 1) throw new Error('boom');
        if (call === 2) return { requeueAfterMs: 1_000_000 };
        return undefined;
      },
      { metrics },
    );
    controller.start();
    controller.enqueue('ns/a');
    await clock.advanceAsync(1000);
    controller.enqueue('ns/b');
    await settle();
    expect(finished).to.deep.equal([
      ['test', 'error', 0.25],
      ['test', 'requeue_after', 0.25],
      ['test', 'success', 0.25],
    ]);
    await controller.stop({ deadlineMs: 1000 });
  });
});
