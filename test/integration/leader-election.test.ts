import { setTimeout as sleep } from 'node:timers/promises';
import { CoordinationV1Api, CoreV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { expect } from 'chai';
import { makeApiClient, mergePatch } from '../../src/kube/clients.ts';
import { type LeaseApi, LeaderElector, type StoppedLeadingReason } from '../../src/runtime/leader-election.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { eventually } from '../support/eventually.ts';
import { StallProxy } from '../support/stall-proxy.ts';

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

  let proxies: StallProxy[];

  beforeEach(async () => {
    namespace = await createTestNamespace('leader-election');
    replicas = [];
    proxies = [];
  });

  afterEach(async () => {
    await Promise.all(replicas.map((r) => r.elector.stop()));
    await Promise.all(proxies.map((p) => p.close()));
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
    // The released Lease is taken at the standby's next attempt, without waiting out the lease duration.
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
    // (How soon after that it takes over is a figure, not a property: the eventually above bounds it.)
    expect(handoverMs).to.be.at.least(LEASE_DURATION_MS - RETRY_PERIOD_MS * (1 + JITTER) - 100);
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

  describe("when the leader's connection to the apiserver stalls", () => {
    const WORK_INTERVAL_MS = 200;
    const WORK_CONFIGMAP = 'leader-work';

    /** A span of time on this process's monotonic clock; `endMs` unset while still open. */
    interface Span {
      startMs: number;
      endMs?: number;
    }
    interface Write extends Span {
      resourceVersion?: string;
    }
    interface WorkingReplica {
      elector: LeaderElector;
      stopped: StoppedLeadingReason[];
      /** From started leading to stopped leading (the leading signal aborted). */
      leading: Span[];
      /** Successful Lease writes (create or replace), from sent to answered. */
      leaseWrites: Write[];
      /** The work a leader does: one ConfigMap patch every WORK_INTERVAL_MS while its signal is not aborted. */
      workWrites: Write[];
      workErrors: string[];
    }

    /**
     * A replica whose Lease requests go through `leaseKubeConfig`, and whose work writes go
     * straight to the apiserver: the harshest case, where only the Lease connection stalls and the
     * work would carry on landing if the leader did not stop.
     */
    function workingReplica(identity: string, leaseKubeConfig: KubeConfig): WorkingReplica {
      const leases = makeApiClient(leaseKubeConfig, CoordinationV1Api);
      const core = makeApiClient(testEnv().kubeConfig(), CoreV1Api);
      const stopped: StoppedLeadingReason[] = [];
      const leading: Span[] = [];
      const leaseWrites: Write[] = [];
      const workWrites: Write[] = [];
      const workErrors: string[] = [];
      const recorded = async (writes: Write[], request: () => Promise<V1Lease>): Promise<V1Lease> => {
        const startMs = performance.now();
        const lease = await request();
        writes.push({ startMs, endMs: performance.now(), ...(lease.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}) });
        return lease;
      };
      const api: LeaseApi = {
        readNamespacedLease: (param) => leases.readNamespacedLease(param),
        createNamespacedLease: (param) => recorded(leaseWrites, () => leases.createNamespacedLease(param)),
        replaceNamespacedLease: (param) => recorded(leaseWrites, () => leases.replaceNamespacedLease(param)),
      };
      const work = async (signal: AbortSignal): Promise<void> => {
        for (let seq = 0; !signal.aborted; seq++) {
          const write: Write = { startMs: performance.now() };
          workWrites.push(write);
          const body = { metadata: { annotations: { 'leader-election.test/writer': `${identity}-${seq}` } } };
          const configMap = await core.patchNamespacedConfigMap({ name: WORK_CONFIGMAP, namespace, body }, mergePatch());
          write.endMs = performance.now();
          if (configMap.metadata?.resourceVersion) write.resourceVersion = configMap.metadata.resourceVersion;
          await sleep(WORK_INTERVAL_MS, undefined, { signal }).catch(() => {});
        }
      };
      const elector = new LeaderElector({
        api,
        namespace,
        name: LEASE_NAME,
        identity,
        leaseDurationMs: LEASE_DURATION_MS,
        renewDeadlineMs: RENEW_DEADLINE_MS,
        retryPeriodMs: RETRY_PERIOD_MS,
        jitter: JITTER,
        callbacks: {
          onStartedLeading: (signal) => {
            const span: Span = { startMs: performance.now() };
            leading.push(span);
            signal.addEventListener('abort', () => {
              span.endMs = performance.now();
            });
            work(signal).catch((error: unknown) => workErrors.push(String(error)));
          },
          onStoppedLeading: (reason) => stopped.push(reason),
        },
      });
      replicas.push({ elector, stopped });
      void elector.run();
      return { elector, stopped, leading, leaseWrites, workWrites, workErrors };
    }

    /** The admin KubeConfig, pointed at the proxy: its certificate has a SAN for 127.0.0.1, so TLS still verifies. */
    function kubeConfigThrough(proxy: StallProxy): KubeConfig {
      const kubeConfig = testEnv().kubeConfig();
      const cluster = kubeConfig.getCurrentCluster();
      if (!cluster) throw new Error('the test kubeconfig has no current cluster');
      kubeConfig.clusters = kubeConfig.clusters.map((c) => (c.name === cluster.name ? { ...c, server: proxy.url() } : c));
      return kubeConfig;
    }

    function overlapping(a: Span[], b: Span[]): number {
      const end = (s: Span) => s.endMs ?? Number.POSITIVE_INFINITY;
      return a.reduce((count, x) => count + b.filter((y) => x.startMs < end(y) && y.startMs < end(x)).length, 0);
    }

    it('stops the old leader writing before a new leader can start', async () => {
      const proxy = await StallProxy.start(Number(new URL(testEnv().server).port));
      proxies.push(proxy);
      await makeApiClient(testEnv().kubeConfig(), CoreV1Api).createNamespacedConfigMap({ namespace, body: { metadata: { name: WORK_CONFIGMAP } } });

      const a = workingReplica('replica-a', kubeConfigThrough(proxy));
      await eventually(() => expect(a.elector.isLeader()).to.equal(true), { message: 'a leads' });
      const b = workingReplica('replica-b', testEnv().kubeConfig());
      await eventually(() => expect(b.elector.leader()).to.equal('replica-a'), { message: 'b stands by' });
      await eventually(() => expect(a.workWrites.filter((w) => w.endMs !== undefined)).to.have.length.of.at.least(5), { message: 'a works' });

      const stalledAtMs = performance.now();
      proxy.stall();
      await eventually(() => expect(b.elector.isLeader()).to.equal(true), {
        timeoutMs: LEASE_DURATION_MS + 5_000,
        intervalMs: 10,
        message: 'b takes over from the stalled leader',
      });
      await eventually(() => expect(b.workWrites.filter((w) => w.endMs !== undefined)).to.have.length.of.at.least(5), { message: 'b works' });

      expect(a.stopped).to.deep.equal(['lost']);
      expect(a.elector.isLeader()).to.equal(false);
      const aStoppedMs = a.leading[0]!.endMs!;
      const aLastRenewalSentMs = Math.max(...a.leaseWrites.map((w) => w.startMs));
      const bStartedMs = b.leading[0]!.startMs;
      const bFirstWorkMs = b.workWrites[0]!.startMs;
      // Every write a sent was answered before b sent its first one, and the apiserver stored them in that order.
      const aLateWork = a.workWrites.filter((w) => w.endMs === undefined || w.endMs > bFirstWorkMs).length;
      const bFirstVersion = BigInt(b.workWrites[0]!.resourceVersion!);
      const aStoredAfterB = a.workWrites.filter((w) => w.resourceVersion !== undefined && BigInt(w.resourceVersion) > bFirstVersion).length;
      const aLeaseAfterB = a.leaseWrites.filter((w) => w.endMs! > bStartedMs).length;
      const overlaps = {
        leading: overlapping(a.leading, b.leading),
        workWrites: overlapping(a.workWrites, b.workWrites),
        aLateWork,
        aStoredAfterB,
        aLeaseAfterB,
      };
      figures.push(
        `stall: a stopped leading ${Math.round(aStoppedMs - stalledAtMs)} ms after the stall, ` +
          `${Math.round(aStoppedMs - aLastRenewalSentMs)} ms after its last successful Lease write was sent (renew deadline ${RENEW_DEADLINE_MS} ms); ` +
          `b started leading ${Math.round(bStartedMs - aStoppedMs)} ms after a stopped; ` +
          `overlaps: leading ${overlaps.leading}, work writes ${overlaps.workWrites} ` +
          `(a's work writes ${a.workWrites.length}, b's ${b.workWrites.length}; a's writes stored after b's first: ${aStoredAfterB})`,
      );
      expect(overlaps).to.deep.equal({ leading: 0, workWrites: 0, aLateWork: 0, aStoredAfterB: 0, aLeaseAfterB: 0 });
      expect([...a.workErrors, ...b.workErrors]).to.deep.equal([]);
      // a's deadline runs from when its last successful renewal was sent; only timer lateness adds to it.
      expect(aStoppedMs - aLastRenewalSentMs).to.be.at.most(RENEW_DEADLINE_MS + 250);
      expect(bStartedMs - aStoppedMs, 'the gap a standby leaves').to.be.at.least(LEASE_DURATION_MS - RENEW_DEADLINE_MS - 250);
    });
  });
});
