import { type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { expect } from 'chai';
import { type LeaseApi, LeaderElector, type LeaderElectorOptions, type StoppedLeadingReason } from '../../../src/runtime/leader-election.ts';
import { FakeClock, settle } from '../../support/fake-clock.ts';

const NAMESPACE = 'ops';
const NAME = 'ecr-pullsecrets-operator';

function apiError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** One Lease held in memory, with the apiserver's optimistic concurrency on resourceVersion. */
class FakeLeaseApi implements LeaseApi {
  lease: V1Lease | undefined;
  private version = 0;
  /** While set, every call fails with this status. */
  failWith: number | undefined;
  /** While set, calls never answer. */
  hang = false;
  readonly calls: string[] = [];

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

  private async gate(verb: string, param: { name: string; namespace: string }): Promise<void> {
    expect(param).to.include({ name: NAME, namespace: NAMESPACE });
    this.calls.push(verb);
    if (this.hang) await new Promise(() => {});
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
    api = new FakeLeaseApi();
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

  it('refuses timings where the leader could outlive its Lease', () => {
    expect(() => candidate(api, clock, 'a', { renewDeadlineMs: 15_000 })).to.throw(/leaseDuration must be longer than renewDeadline/);
    expect(() => candidate(api, clock, 'a', { retryPeriodMs: 10_000 })).to.throw(/renewDeadline must be longer than retryPeriod/);
  });
});
