import { type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { expect } from 'chai';
import { type LeaseApi, LeaderElector, type LeaderElectorOptions, type StoppedLeadingReason } from '../../../src/runtime/leader-election.ts';
import { silentLogger } from '../../../src/observability/logger.ts';
import { abortWhenLeadingEnds } from '../../../src/operator.ts';
import { Controller } from '../../../src/runtime/controller.ts';
import { FakeClock, settle } from '../../support/fake-clock.ts';

const NAMESPACE = 'ops';
const NAME = 'ecr-pullsecrets-operator';

function apiError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}

type Verb = 'read' | 'create' | 'replace';

/** One Lease held in memory, with the apiserver's optimistic concurrency on resourceVersion. */
class FakeLeaseApi implements LeaseApi {
  lease: V1Lease | undefined;
  private version = 0;
  /** While set, every call fails with this status. */
  failWith: number | undefined;
  /** While set, calls never answer. */
  hang = false;
  /** Per verb: how long the apiserver takes before it acts and answers (Infinity: never). */
  latencyMs: Partial<Record<Verb, number>> = {};
  readonly calls: string[] = [];
  private readonly clock: FakeClock;

  constructor(clock: FakeClock) {
    this.clock = clock;
  }

  async readNamespacedLease(param: { name: string; namespace: string }): Promise<V1Lease> {
    await this.gate('read', param);
    if (!this.lease) throw apiError(404, 'not found');
    return this.wire(this.lease);
  }

  async createNamespacedLease(param: { namespace: string; body: V1Lease }): Promise<V1Lease> {
    await this.gate('create', { namespace: param.namespace, name: param.body.metadata?.name ?? '' });
    if (this.lease) throw apiError(409, 'already exists');
    return this.store(param.body);
  }

  async replaceNamespacedLease(param: { name: string; namespace: string; body: V1Lease }): Promise<V1Lease> {
    await this.gate('replace', param);
    if (!this.lease) throw apiError(404, 'not found');
    if (param.body.metadata?.resourceVersion !== this.lease.metadata?.resourceVersion) throw apiError(409, 'conflict');
    return this.store(param.body);
  }

  /** Writes the Lease as another process would. */
  seed(spec: V1Lease['spec']): void {
    this.store({ metadata: { name: NAME, namespace: NAMESPACE }, spec });
  }

  holder(): string | undefined {
    return this.lease?.spec?.holderIdentity;
  }

  private async gate(verb: Verb, param: { name: string; namespace: string }): Promise<void> {
    expect(param).to.include({ name: NAME, namespace: NAMESPACE });
    this.calls.push(verb);
    const latencyMs = this.latencyMs[verb] ?? 0;
    if (this.hang || latencyMs === Number.POSITIVE_INFINITY) await new Promise(() => {});
    if (latencyMs > 0) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, latencyMs));
    if (this.failWith !== undefined) throw apiError(this.failWith, 'injected failure');
  }

  private store(body: V1Lease): V1Lease {
    this.version++;
    this.lease = this.wire({ ...body, metadata: { ...body.metadata, resourceVersion: String(this.version) } });
    return this.wire(this.lease);
  }

  /** What goes over the wire: JSON, so times become the MicroTime strings the apiserver returns. */
  private wire(lease: V1Lease): V1Lease {
    return JSON.parse(JSON.stringify(lease)) as V1Lease;
  }
}

interface Candidate {
  elector: LeaderElector;
  events: string[];
  signal(): AbortSignal | undefined;
  done: Promise<void>;
}

function candidate(api: LeaseApi, clock: FakeClock, identity: string, overrides: Partial<LeaderElectorOptions> = {}): Candidate {
  const events: string[] = [];
  let leadingSignal: AbortSignal | undefined;
  const elector = new LeaderElector({
    api,
    clock,
    namespace: NAMESPACE,
    name: NAME,
    identity,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    random: () => 0,
    callbacks: {
      onStartedLeading: (signal) => {
        leadingSignal = signal;
        events.push('started');
      },
      onStoppedLeading: (reason: StoppedLeadingReason) => events.push(`stopped:${reason}`),
      onNewLeader: (leader) => events.push(`leader:${leader}`),
    },
    ...overrides,
  });
  return { elector, events, signal: () => leadingSignal, done: elector.run() };
}

describe('LeaderElector', () => {
  let clock: FakeClock;
  let api: FakeLeaseApi;

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2025, 0, 1, 12, 0, 0));
    api = new FakeLeaseApi(clock);
  });

  it('creates the Lease when there is none and starts leading', async () => {
    const a = candidate(api, clock, 'a');
    await settle();
    expect(a.events).to.deep.equal(['leader:a', 'started']);
    expect(a.elector.isLeader()).to.equal(true);
    expect(api.lease?.spec).to.deep.equal({
      holderIdentity: 'a',
      leaseDurationSeconds: 15,
      acquireTime: '2025-01-01T12:00:00.000000Z',
      renewTime: '2025-01-01T12:00:00.000000Z',
      leaseTransitions: 0,
    });
    await a.elector.stop();
  });

  it('renews every retry period, keeping acquireTime and the transition count', async () => {
    const a = candidate(api, clock, 'a');
    await settle();
    await clock.advanceAsync(2_000);
    expect(api.lease?.spec?.renewTime).to.equal('2025-01-01T12:00:02.000000Z');
    await clock.advanceAsync(2_000);
    expect(api.lease?.spec).to.include({ renewTime: '2025-01-01T12:00:04.000000Z', acquireTime: '2025-01-01T12:00:00.000000Z', leaseTransitions: 0 });
    await a.elector.stop();
  });

  it('leaves a Lease that its holder keeps renewing alone, and reports the holder', async () => {
    const a = candidate(api, clock, 'a');
    await settle();
    const b = candidate(api, clock, 'b');
    await clock.advanceAsync(60_000);
    expect(a.elector.isLeader()).to.equal(true);
    expect(b.elector.isLeader()).to.equal(false);
    expect(b.events).to.deep.equal(['leader:a']);
    expect(b.elector.leader()).to.equal('a');
    expect(b.elector.lastAttemptSucceeded()).to.equal(true);
    await b.elector.stop();
    await a.elector.stop();
  });

  it("takes an abandoned Lease a lease duration after it first saw it, whatever the holder's renewTime says", async () => {
    // The holder's clock is an hour behind: counting from renewTime would take the Lease at once.
    const anHourAgo = new V1MicroTime(Date.UTC(2025, 0, 1, 11, 0, 0));
    api.seed({ holderIdentity: 'ghost', leaseDurationSeconds: 15, renewTime: anHourAgo, acquireTime: anHourAgo, leaseTransitions: 3 });
    const b = candidate(api, clock, 'b');
    await settle();
    await clock.advanceAsync(14_000);
    expect(b.elector.isLeader(), 'still within the lease duration').to.equal(false);
    await clock.advanceAsync(2_000);
    expect(b.elector.isLeader()).to.equal(true);
    expect(b.events).to.deep.equal(['leader:ghost', 'leader:b', 'started']);
    expect(api.lease?.spec).to.include({ holderIdentity: 'b', leaseTransitions: 4, acquireTime: '2025-01-01T12:00:16.000000Z' });
    await b.elector.stop();
  });

  it('takes over within lease duration + retry period when the leader dies without releasing', async () => {
    const a = candidate(api, clock, 'a');
    await settle();
    const b = candidate(api, clock, 'b');
    await settle();
    const diedAtMs = clock.now();
    // Simulate kill -9: the leader stops writing, nothing is released.
    const realReplace = api.replaceNamespacedLease.bind(api);
    api.replaceNamespacedLease = async (param) => {
      if (param.body.spec?.holderIdentity === 'a') return new Promise<V1Lease>(() => {});
      return realReplace(param);
    };
    let tookOverAtMs: number | undefined;
    for (let i = 0; i < 40 && tookOverAtMs === undefined; i++) {
      await clock.advanceAsync(500);
      if (b.elector.isLeader()) tookOverAtMs = clock.now();
    }
    expect(tookOverAtMs, 'standby took over').to.not.equal(undefined);
    const handoverMs = tookOverAtMs! - diedAtMs;
    expect(handoverMs).to.be.at.least(15_000);
    expect(handoverMs).to.be.at.most(15_000 + 2_000);
    // The old leader noticed it could not renew, and stopped before the standby could start.
    expect(a.events).to.include('stopped:lost');
    expect(api.lease?.spec?.leaseTransitions).to.equal(1);
    await b.elector.stop();
  });

  it('stops leading when renewals fail for the renew deadline, and not before', async () => {
    const a = candidate(api, clock, 'a');
    await settle();
    api.failWith = 500;
    await clock.advanceAsync(8_000);
    expect(a.elector.isLeader(), 'within the renew deadline').to.equal(true);
    await clock.advanceAsync(2_000);
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.events).to.deep.equal(['leader:a', 'started', 'stopped:lost']);
    expect(a.signal()?.aborted).to.equal(true);
    await a.done;
  });

  it('keeps leading through a failed renewal that is followed by a good one', async () => {
    const a = candidate(api, clock, 'a');
    await settle();
    api.failWith = 503;
    await clock.advanceAsync(6_000);
    api.failWith = undefined;
    await clock.advanceAsync(2_000);
    await clock.advanceAsync(20_000);
    expect(a.elector.isLeader()).to.equal(true);
    expect(a.events).to.deep.equal(['leader:a', 'started']);
    await a.elector.stop();
  });

  it('gives up a renewal that hangs past the renew deadline', async () => {
    const a = candidate(api, clock, 'a');
    await settle();
    api.hang = true;
    await clock.advanceAsync(10_000);
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.events.at(-1)).to.equal('stopped:lost');
  });

  it('stops leading at once when the Lease names another holder', async () => {
    const a = candidate(api, clock, 'a');
    await settle();
    api.seed({ holderIdentity: 'usurper', leaseDurationSeconds: 15, leaseTransitions: 1 });
    await clock.advanceAsync(2_000);
    expect(a.elector.isLeader()).to.equal(false);
    expect(a.events).to.deep.equal(['leader:a', 'started', 'leader:usurper', 'stopped:lost']);
    expect(api.holder(), 'the other holder is left alone').to.equal('usurper');
  });

  it('lets only one of two candidates win a race for a free Lease', async () => {
    const a = candidate(api, clock, 'a');
    const b = candidate(api, clock, 'b');
    await settle();
    await clock.advanceAsync(10_000);
    const leaders = [a, b].filter((c) => c.elector.isLeader());
    expect(leaders).to.have.length(1);
    expect(api.holder()).to.equal(leaders[0]!.elector.identity);
    await a.elector.stop();
    await b.elector.stop();
  });

  it('releases the Lease on stop so a standby takes it at its next attempt', async () => {
    const a = candidate(api, clock, 'a');
    await settle();
    const b = candidate(api, clock, 'b');
    await clock.advanceAsync(1_000);
    await a.elector.stop();
    expect(a.events).to.deep.equal(['leader:a', 'started', 'stopped:stopped']);
    expect(a.signal()?.aborted).to.equal(true);
    expect(api.lease?.spec).to.include({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
    // b's next attempt is one retry period after its first.
    await clock.advanceAsync(1_000);
    expect(b.elector.isLeader()).to.equal(true);
    expect(api.lease?.spec).to.include({ holderIdentity: 'b', leaseTransitions: 1 });
    await b.elector.stop();
  });

  it('aborts its leading signal before it releases the Lease', async () => {
    const a = candidate(api, clock, 'a');
    await settle();
    const replace = api.replaceNamespacedLease.bind(api);
    let abortedWhenReleased: boolean | undefined;
    api.replaceNamespacedLease = async (param) => {
      if (param.body.spec?.holderIdentity === '') abortedWhenReleased = a.signal()?.aborted;
      return replace(param);
    };
    await a.elector.stop();
    expect(abortedWhenReleased).to.equal(true);
  });

  it('keeps the Lease on stop when releaseOnStop is false', async () => {
    const a = candidate(api, clock, 'a', { releaseOnStop: false });
    await settle();
    await a.elector.stop();
    expect(api.holder()).to.equal('a');
    expect(a.events.at(-1)).to.equal('stopped:stopped');
  });

  it('waits between attempts for the retry period plus jitter', async () => {
    api.seed({ holderIdentity: 'other', leaseDurationSeconds: 15 });
    candidate(api, clock, 'b', { random: () => 1, jitter: 0.5 });
    await settle();
    expect(clock.nextTimerInMs()).to.equal(3_000);
  });

  it('stops competing without touching a Lease it does not hold', async () => {
    api.seed({ holderIdentity: 'other', leaseDurationSeconds: 15 });
    const b = candidate(api, clock, 'b');
    await settle();
    const writes = api.calls.filter((c) => c !== 'read').length;
    await b.elector.stop();
    await b.done;
    expect(api.calls.filter((c) => c !== 'read').length).to.equal(writes);
    expect(b.events).to.deep.equal(['leader:other']);
    expect(clock.pendingTimers()).to.equal(0);
  });

  it('reports a failing apiserver through lastAttemptSucceeded', async () => {
    api.failWith = 403;
    const b = candidate(api, clock, 'b');
    await settle();
    expect(b.elector.lastAttemptSucceeded()).to.equal(false);
    api.failWith = undefined;
    await clock.advanceAsync(2_000);
    expect(b.elector.lastAttemptSucceeded()).to.equal(true);
    await b.elector.stop();
  });

  it('does not call itself a standby while its write taking a released Lease is still in flight', async () => {
    // A leader that stopped with SIGTERM left the Lease released (no holder). /readyz reads
    // lastAttemptSucceeded() to say "ok: standby"; the replica taking the Lease is not one.
    api.seed({ holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 });
    api.latencyMs.replace = 500;
    const b = candidate(api, clock, 'b');
    await settle();
    expect(api.calls).to.deep.equal(['read', 'replace']);
    expect(b.elector.lastAttemptSucceeded(), 'while the replace is in flight').to.equal(false);
    await clock.advanceAsync(500);
    expect(b.elector.isLeader()).to.equal(true);
    expect(b.elector.lastAttemptSucceeded()).to.equal(true);
    api.latencyMs.replace = 0;
    await b.elector.stop();
  });

  it('refuses timings where the leader could outlive its Lease', () => {
    expect(() => candidate(api, clock, 'a', { renewDeadlineMs: 15_000 })).to.throw(/leaseDuration must be longer than renewDeadline/);
    expect(() => candidate(api, clock, 'a', { retryPeriodMs: 10_000 })).to.throw(/renewDeadline must be longer than retryPeriod/);
    // client-go's jitter factor: 10 s is not longer than 1.2 × 9 s.
    expect(() => candidate(api, clock, 'a', { retryPeriodMs: 9_000 })).to.throw(/renewDeadline must be longer than retryPeriod × 1.2/);
  });

  describe('time it measures', () => {
    it('counts its renew deadline from when the winning request was sent, not from when the answer came', async () => {
      api.latencyMs.create = 3_000;
      const a = candidate(api, clock, 'a');
      await clock.advanceAsync(3_000);
      expect(a.elector.isLeader(), 'the answer came 3 s after the request').to.equal(true);
      api.failWith = 500;
      // The Lease may have been stored the moment the request left: the deadline is 10 s after that.
      await clock.advanceAsync(7_000);
      expect(a.elector.isLeader()).to.equal(false);
      expect(a.signal()?.aborted).to.equal(true);
      expect(a.events.at(-1)).to.equal('stopped:lost');
    });

    it("counts a standby's wait from when the answer arrived, not from when it asked", async () => {
      api.seed({ holderIdentity: 'ghost', leaseDurationSeconds: 15 });
      api.latencyMs.read = 4_000;
      // Reads leave at 0, 6, 12, 18 s and their answers arrive 4 s later; the first one is seen at 4 s.
      const b = candidate(api, clock, 'b');
      await clock.advanceAsync(16_000);
      expect(b.elector.isLeader(), 'the read answered at 16 s saw the Lease for 12 s only').to.equal(false);
      await clock.advanceAsync(6_000);
      expect(b.elector.isLeader(), 'the read answered at 22 s saw it for 18 s').to.equal(true);
      await b.elector.stop();
    });

    it('does not sleep past its renew deadline after a failed renewal', async () => {
      // Renewals at 3, 6 and 9 s fail; the next retry period would end at 12 s, after the deadline.
      const a = candidate(api, clock, 'a', { retryPeriodMs: 3_000 });
      await settle();
      api.failWith = 500;
      await clock.advanceAsync(9_999);
      expect(a.elector.isLeader(), 'within the renew deadline').to.equal(true);
      await clock.advanceAsync(1);
      expect(a.elector.isLeader()).to.equal(false);
      expect(a.signal()?.aborted).to.equal(true);
      expect(a.events.at(-1)).to.equal('stopped:lost');
    });

    it('gives up at the renew deadline when a slow read is followed by a hanging write', async () => {
      const a = candidate(api, clock, 'a');
      await settle();
      api.latencyMs.read = 5_000;
      api.latencyMs.replace = Number.POSITIVE_INFINITY;
      // The renewal leaves at 2 s, its read answers at 7 s, and its write never answers.
      await clock.advanceAsync(10_000);
      expect(a.elector.isLeader()).to.equal(false);
      expect(a.signal()?.aborted).to.equal(true);
    });

    it('ignores a wall clock stepped back when measuring its renew deadline', async () => {
      const a = candidate(api, clock, 'a');
      await settle();
      api.failWith = 500;
      clock.stepWallClock(-3_600_000);
      await clock.advanceAsync(10_000);
      expect(a.elector.isLeader(), 'stopped 10 s after the last renewal on the monotonic clock').to.equal(false);
      expect(a.events.at(-1)).to.equal('stopped:lost');
    });

    it("ignores a wall clock stepped forward when measuring a standby's wait", async () => {
      api.seed({ holderIdentity: 'ghost', leaseDurationSeconds: 15 });
      const b = candidate(api, clock, 'b');
      await clock.advanceAsync(1_000);
      clock.stepWallClock(3_600_000);
      await clock.advanceAsync(13_000);
      expect(b.elector.isLeader(), 'an hour jumped on the wall clock is not an hour waited').to.equal(false);
      await clock.advanceAsync(2_000);
      expect(b.elector.isLeader()).to.equal(true);
      expect(api.lease?.spec?.acquireTime, 'the Lease is stamped with wall time').to.equal('2025-01-01T13:00:16.000000Z');
      await b.elector.stop();
    });
  });

  describe('losing the Lease during a graceful shutdown', () => {
    it('aborts the reconciles a shutdown is waiting for, at once', async () => {
      const logger = silentLogger();
      let reconcileAbortedAtMs: number | undefined;
      const controller = new Controller({
        name: 'slow',
        clock,
        workers: 1,
        // A reconcile that runs until its signal aborts: a long ECR call, say.
        reconcile: (_key, signal) =>
          new Promise<void>((resolve) => {
            signal.addEventListener('abort', () => {
              reconcileAbortedAtMs = clock.monotonicNow();
              resolve();
            });
          }),
      });
      const a = candidate(api, clock, 'a', {
        callbacks: {
          onStartedLeading: (signal) => {
            abortWhenLeadingEnds(signal, [{ stop: (deadlineMs) => controller.stop({ deadlineMs }) }], logger);
            controller.start();
            controller.enqueue('ns/slow');
          },
          onStoppedLeading: () => {},
        },
      });
      await settle();
      expect(controller.inFlight(), 'a reconcile is running').to.equal(1);

      // SIGTERM: the shutdown gives in-flight reconciles 20 s while the Lease is renewed...
      let stopped = false;
      void controller.stop({ deadlineMs: 20_000 }).then(() => {
        stopped = true;
      });
      // ...but another replica takes the Lease; the leader sees it at its next renewal, at 2 s.
      api.seed({ holderIdentity: 'usurper', leaseDurationSeconds: 15, leaseTransitions: 1 });
      await clock.advanceAsync(2_000);
      expect(a.elector.isLeader()).to.equal(false);
      expect(reconcileAbortedAtMs, 'the in-flight reconcile was aborted when the Lease was lost').to.equal(2_000);
      expect(stopped, 'the shutdown no longer waits').to.equal(true);
    });
  });
});
