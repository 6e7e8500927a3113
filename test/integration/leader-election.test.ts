import { CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import { expect } from 'chai';
import { LeaderElector, type StoppedLeadingReason } from '../../src/runtime/leader-election.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';

// Short timings so handovers take seconds; the same ratios as the 15 s / 10 s / 2 s defaults.
const LEASE_DURATION_MS = 3_000;
const RENEW_DEADLINE_MS = 2_000;
const RETRY_PERIOD_MS = 500;
const JITTER = 0.2;
const LEASE_NAME = 'ecr-pullsecrets-operator';

interface Replica {
  elector: LeaderElector;
  stopped: StoppedLeadingReason[];
  startedLeadingAtMs?: number;
}

describe('leader election against the apiserver', function () {
  this.timeout(60_000);
  let namespace: string;
  let replicas: Replica[];
  const figures: string[] = [];

  function replica(identity: string, releaseOnStop = true): Replica {
    const r: Replica = {
      stopped: [],
      elector: new LeaderElector({
        api: testEnv().kubeConfig().makeApiClient(CoordinationV1Api),
        namespace,
        name: LEASE_NAME,
        identity,
        leaseDurationMs: LEASE_DURATION_MS,
        renewDeadlineMs: RENEW_DEADLINE_MS,
        retryPeriodMs: RETRY_PERIOD_MS,
        jitter: JITTER,
        releaseOnStop,
        callbacks: {
          onStartedLeading: () => {
            r.startedLeadingAtMs = Date.now();
          },
          onStoppedLeading: (reason) => {
            r.stopped.push(reason);
          },
        },
      }),
    };
    replicas.push(r);
    void r.elector.run();
    return r;
  }

  async function readLease(): Promise<V1Lease> {
    return testEnv().kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ name: LEASE_NAME, namespace });
  }

  async function leaderOf(candidates: Replica[]): Promise<{ leader: Replica; standby: Replica }> {
    return eventually(
      () => {
        const leading = candidates.filter((r) => r.elector.isLeader());
        expect(leading, 'exactly one leader').to.have.length(1);
        const standby = candidates.find((r) => !r.elector.isLeader())!;
        return { leader: leading[0]!, standby };
      },
      { timeoutMs: 10_000, message: 'one replica leads' },
    );
  }

  beforeEach(async () => {
    namespace = await createTestNamespace('leader-election');
    replicas = [];
  });

  afterEach(async () => {
    await Promise.all(replicas.map((r) => r.elector.stop()));
    await deleteTestNamespace(namespace);
  });

  after(() => {
    if (figures.length > 0) process.stderr.write(`      leader election figures: ${figures.join('; ')}\n`);
  });

  it('lets exactly one of two replicas lead, and records it in the Lease', async () => {
    const a = replica('replica-a');
    const b = replica('replica-b');
    const { leader, standby } = await leaderOf([a, b]);

    // Watch both for several renewals: never two leaders, never a change of leader.
    const until = Date.now() + 4 * RETRY_PERIOD_MS;
    while (Date.now() < until) {
      expect(a.elector.isLeader() && b.elector.isLeader(), 'two leaders at once').to.equal(false);
      expect(leader.elector.isLeader(), 'the leader kept the Lease').to.equal(true);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(standby.elector.leader()).to.equal(leader.elector.identity);

    const lease = await readLease();
    expect(lease.spec?.holderIdentity).to.equal(leader.elector.identity);
    expect(lease.spec?.leaseDurationSeconds).to.equal(LEASE_DURATION_MS / 1000);
    expect(lease.spec?.leaseTransitions).to.equal(0);
    // The apiserver hands MicroTimes back as strings with microseconds.
    expect(String(lease.spec?.renewTime)).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const renewed = Date.parse(String(lease.spec?.renewTime));
    expect(Date.now() - renewed, 'renewed within the last retry periods').to.be.below(3 * RETRY_PERIOD_MS + 1_000);
  });

  it('hands over at once when the leader stops and releases the Lease', async () => {
    const a = replica('replica-a');
    const b = replica('replica-b');
    const { leader, standby } = await leaderOf([a, b]);

    const stopAtMs = Date.now();
    await leader.elector.stop();
    const releasedMs = Date.now() - stopAtMs;
    expect(leader.stopped).to.deep.equal(['stopped']);
    await eventually(() => expect(standby.elector.isLeader()).to.equal(true), { timeoutMs: 5_000, intervalMs: 10, message: 'the standby takes over' });
    const handoverMs = standby.startedLeadingAtMs! - stopAtMs;
    figures.push(`release handover ${handoverMs} ms (release write ${releasedMs} ms, retry period ${RETRY_PERIOD_MS} ms)`);
    // Bounded by the standby's next attempt, not by the lease duration.
    expect(handoverMs).to.be.below(RETRY_PERIOD_MS * (1 + JITTER) + 1_000);
    expect(handoverMs).to.be.below(LEASE_DURATION_MS);

    const lease = await readLease();
    expect(lease.spec?.holderIdentity).to.equal(standby.elector.identity);
    expect(lease.spec?.leaseTransitions).to.equal(1);
    expect(lease.spec?.leaseDurationSeconds, 'the new holder restores the duration').to.equal(LEASE_DURATION_MS / 1000);
  });

  it('hands over after the lease duration when the leader dies without releasing', async () => {
    const a = replica('replica-a', false);
    const b = replica('replica-b', false);
    const { leader, standby } = await leaderOf([a, b]);

    // Like kill -9: the leader stops renewing and leaves the Lease as it was.
    const killAtMs = Date.now();
    await leader.elector.stop();
    expect((await readLease()).spec?.holderIdentity, 'nothing released').to.equal(leader.elector.identity);

    await eventually(() => expect(standby.elector.isLeader()).to.equal(true), {
      timeoutMs: LEASE_DURATION_MS + 5_000,
      intervalMs: 10,
      message: 'the standby takes over an expired Lease',
    });
    const handoverMs = standby.startedLeadingAtMs! - killAtMs;
    figures.push(`kill handover ${handoverMs} ms (lease duration ${LEASE_DURATION_MS} ms)`);
    // The standby counts the lease duration from the last renewal it saw: at most one retry period before the kill.
    expect(handoverMs).to.be.at.least(LEASE_DURATION_MS - RETRY_PERIOD_MS * (1 + JITTER) - 100);
    expect(handoverMs).to.be.below(LEASE_DURATION_MS + RETRY_PERIOD_MS * (1 + JITTER) + 1_000);
    expect((await readLease()).spec?.leaseTransitions).to.equal(1);
  });

  it('makes a leader whose Lease is taken from it stop leading', async () => {
    const a = replica('replica-a');
    await eventually(() => expect(a.elector.isLeader()).to.equal(true), { message: 'a leads' });

    // Someone else overwrites the Lease (an operator from another install, a human with kubectl).
    const api = testEnv().kubeConfig().makeApiClient(CoordinationV1Api);
    const lease = await readLease();
    await api.replaceNamespacedLease({
      name: LEASE_NAME,
      namespace,
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1 } },
    });
    await eventually(() => expect(a.stopped).to.deep.equal(['lost']), { timeoutMs: 5_000, message: 'a stops leading' });
    expect(a.elector.isLeader()).to.equal(false);
    expect((await readLease()).spec?.holderIdentity, 'the loser does not overwrite the new holder').to.equal('intruder');
  });
});
