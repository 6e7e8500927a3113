import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { testEnv } from '../support/env.ts';
import { type FaultHandle, type FaultProxy, type RequestRecord, reachedApiServer } from '../support/fault-proxy.ts';
import type { OperatorProcess } from '../support/operator-process.ts';
import { recordScore, reliabilityProfile } from '../support/scorecard.ts';
import { FaultFleet, type FleetState } from './support/fault-fleet.ts';

/**
 * Apiserver faults (issue 14): the operator runs as a separate process and reaches the apiserver
 * through a fault-injecting proxy. Each test starts a refresh wave (every credential set gets a new
 * access key, so every registry must write a new token) while the fault is on, lifts it, and then
 * requires the fleet to converge: no lost update (each pull secret holds a token of its set's current
 * key, still valid, and status records that very token), no duplicate Secret, all Ready, and the work
 * queue drained. Apiserver requests and ECR calls are counted over the whole episode and bounded,
 * which is what catches a hot loop; timings are reported, not asserted.
 */

const full = reliabilityProfile() === 'full';
// The fast profile (inside npm test) keeps each fault short and leaves the restarts to the full one.
const SIZE = full
  ? { registries: 100, perCredentials: 5, namespaces: 4, tokenLifetimeSeconds: 30, faultMs: 10_000, stallMs: 10_000 }
  : { registries: 12, perCredentials: 4, namespaces: 2, tokenLifetimeSeconds: 30, faultMs: 2_000, stallMs: 3_000 };
const fullOnly = full ? it : it.skip;
/** Informers per watched namespace that the watch faults hit: registries, pull secrets, credentials Secrets. */
const WATCHED_PER_NAMESPACE = 3;
/** Each registry's reconcile writes at most its pull secret, its status and one Event. */
const WRITES_PER_RECONCILE = 3;
/** The controllers' per-key backoff (runtime/rate-limiter.ts defaults): 100 ms doubling. */
const BACKOFF_BASE_MS = 100;

describe('apiserver faults, with the operator behind a fault-injecting proxy', function () {
  this.timeout(full ? 600_000 : 180_000);
  let world: FaultFleet;
  let proxy: FaultProxy;
  let operator: OperatorProcess;
  const figures: string[] = [];

  before(async function () {
    this.timeout(120_000);
    world = await FaultFleet.start({ prefix: 'apiserver-faults', ...SIZE });
    proxy = await world.startProxy();
    operator = await world.startOperator({ name: 'faults-operator', proxy, flags: ['--leader-elect=false'] });
    const readyMs = await operator.waitUntilReady(60_000);
    const converged = await world.waitConverged([operator], 60_000);
    figures.push(`operator ready ${readyMs} ms after spawn; ${SIZE.registries} registries converged ${converged.tookMs} ms later`);
  });

  after(async function () {
    this.timeout(120_000);
    if (figures.length > 0) process.stderr.write(`      figures:\n${figures.map((f) => `        ${f}`).join('\n')}\n`);
    if (this.currentTest?.state === 'failed' || process.env.OPERATOR_LOGS === '1') process.stderr.write(`${operator?.logTail(40) ?? ''}\n`);
    await world?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') process.stderr.write(`      operator log tail:\n${operator.logTail(30)}\n`);
    proxy.clearFaults();
  });

  interface Episode {
    /** What the fault did, for the scorecard. */
    fault: string;
    /** How many requests it hit (or how many restarts). */
    times: number;
    state: FleetState & { tookMs: number };
    requests: RequestRecord[];
    ecrCalls: number;
    durationMs: number;
    /** Milliseconds from the end of the fault to convergence. */
    recoveryMs: number;
  }

  /**
   * Starts a key rotation wave, runs `during` (which injects the fault and resolves when it is over,
   * returning how many times it hit), then waits for the fleet to converge and counts what it took.
   */
  async function episode(fault: string, during: () => Promise<number>, options: { rotateFirst?: boolean } = {}): Promise<Episode> {
    const startedMs = performance.now();
    const ecrBefore = world.ecrCalls();
    // The rotation is written as the admin, around the proxy; a restart must wait until it has landed.
    const rotation = world.rotateKeys();
    if (options.rotateFirst) await rotation;
    const times = await during();
    await rotation;
    const faultEndedMs = performance.now();
    const state = await world.waitConverged([operator], full ? 180_000 : 90_000);
    const endedMs = performance.now();
    return {
      fault,
      times,
      state,
      requests: proxy.requests({ client: 'faults-operator', sinceMs: startedMs }),
      ecrCalls: world.ecrCalls() - ecrBefore,
      durationMs: Math.round(endedMs - startedMs),
      recoveryMs: Math.round(endedMs - faultEndedMs),
    };
  }

  /** Keeps a fault on for `ms`, then removes it; resolves with how many requests it hit. */
  async function forAWhile(handles: FaultHandle[], ms: number): Promise<number> {
    await sleep(ms);
    for (const handle of handles) handle.remove();
    return handles.reduce((sum, h) => sum + h.hits, 0);
  }

  /** Attempts within `ms` under exponential backoff from `baseMs`, plus the first. */
  function attemptsWithin(ms: number, baseMs = BACKOFF_BASE_MS): number {
    return Math.floor(Math.log2(ms / baseMs + 1)) + 1;
  }

  /**
   * The bars every episode shares, asserted before its score is recorded: the fleet converged (checked
   * by waitConverged), ECR was called about once per credential set per refresh, and the writes stay
   * within what per-key backoff allows over the episode (a hot loop would exceed it by orders).
   */
  function assertBars(e: Episode, faultMs: number): { writes: number; attempted: number } {
    const refreshesPerSet = 1 + Math.ceil(e.durationMs / (SIZE.tokenLifetimeSeconds * 1000 * 0.45));
    const ecrBudget = world.sets.length * (1 + refreshesPerSet);
    const writes = e.requests.filter((r) => isWriteRecord(r));
    const attempted = writes.length;
    const reconcilesPerRegistry = attemptsWithin(faultMs) + refreshesPerSet + 2;
    const writeBudget = SIZE.registries * WRITES_PER_RECONCILE * reconcilesPerRegistry;
    expect(e.times, 'times the fault hit').to.be.greaterThan(0);
    expect(e.state.problems, 'the fleet converged').to.deep.equal([]);
    expect(e.state.duplicateSecrets, 'duplicate pull secrets').to.equal(0);
    expect(e.state.ready).to.equal(SIZE.registries);
    expect(e.ecrCalls, `ECR calls (budget ${ecrBudget}: ${world.sets.length} sets × ${1 + refreshesPerSet})`).to.be.at.most(ecrBudget);
    expect(attempted, `operator writes attempted (budget ${writeBudget})`).to.be.at.most(writeBudget);
    return { writes: writes.filter(reachedApiServer).length, attempted };
  }

  function score(e: Episode, tried: string, bars: { writes: number; attempted: number }, extra = ''): void {
    const forwarded = e.requests.filter(reachedApiServer).length;
    const summary =
      `all ${e.state.ready} Ready ${e.recoveryMs} ms after the fault ended; ${e.state.newest} hold the newest token, ${e.state.olderValid} an older valid one; ` +
      `1 pull secret each; queue 0; ${e.ecrCalls} ECR calls for ${world.sets.length} credential sets; ` +
      `${forwarded} requests reached the apiserver (${bars.writes} writes; ${bars.attempted} writes attempted)${extra ? `; ${extra}` : ''}`;
    figures.push(`${e.fault}: ${summary}; by kind: ${JSON.stringify(countsOf(e.requests))}`);
    recordScore({ fault: e.fault, tried, times: e.times, held: summary, lost: 'nothing', ok: true });
  }

  const wave = () => `${SIZE.registries} registries (${world.sets.length} credential sets, ${SIZE.tokenLifetimeSeconds} s tokens), key rotation wave`;

  it('converges after every write is answered 429 with Retry-After', async () => {
    const retryAfterSeconds = 1;
    let faulted: RequestRecord[] = [];
    const e = await episode('apiserver 429 with Retry-After', () => {
      const handle = proxy.inject({ match: { client: 'faults-operator', write: true }, action: { kind: 'status', code: 429, retryAfterSeconds } });
      return forAWhile([handle], SIZE.faultMs);
    });
    faulted = e.requests.filter((r) => r.fault === 'status 429');
    const bars = assertBars(e, SIZE.faultMs);
    // How often a key was tried again sooner than the Retry-After it was given: reported, since it is client-side policy.
    const early = retriedBeforeRetryAfter(e.requests, faulted, retryAfterSeconds * 1000);
    // A key may be enqueued early by an event (its credentials Secret rotating), at most about once;
    // ignoring Retry-After (backoff from 100 ms) retried each key several times within the second.
    expect(early, 'writes retried sooner than the Retry-After they were given').to.be.at.most(SIZE.registries);
    score(e, `${wave()}; every operator write answered 429 (Retry-After ${retryAfterSeconds} s) for ${SIZE.faultMs / 1000} s`, bars, `${early} retries came sooner than Retry-After`);
  });

  it('converges after every write is answered 500', async () => {
    const e = await episode('apiserver 500 on writes', () => {
      const handle = proxy.inject({ match: { client: 'faults-operator', write: true }, action: { kind: 'status', code: 500 } });
      return forAWhile([handle], SIZE.faultMs);
    });
    const bars = assertBars(e, SIZE.faultMs);
    score(e, `${wave()}; every operator write answered 500 InternalError for ${SIZE.faultMs / 1000} s`, bars);
  });

  it(`converges after requests stall for ${SIZE.stallMs / 1000} seconds`, async () => {
    const e = await episode(`apiserver ${SIZE.stallMs / 1000} s stalls`, async () => {
      // Every request the operator sends while the fault is on is held before it is forwarded.
      const handle = proxy.inject({ match: { client: 'faults-operator', verb: ['get', 'list', 'create', 'update', 'patch', 'delete'] }, action: { kind: 'stall', ms: SIZE.stallMs } });
      const hits = await forAWhile([handle], SIZE.faultMs);
      await sleep(SIZE.stallMs);
      return hits;
    });
    const bars = assertBars(e, SIZE.faultMs + SIZE.stallMs);
    score(e, `${wave()}; every operator request (watches aside) sent in a ${SIZE.faultMs / 1000} s window held ${SIZE.stallMs / 1000} s before forwarding`, bars);
  });

  it('converges after watch streams are cut mid-event', async () => {
    const e = await episode('watch streams cut mid-event', async () => {
      // Registries, pull secrets and the credentials Secrets' metadata: every watch the refresh depends on.
      const handle = proxy.inject({ match: { client: 'faults-operator', verb: 'watch', resource: ['ecrregistries', 'secrets'] }, action: { kind: 'cut-watch' } });
      await forAWhile([handle], SIZE.faultMs);
      // Streams armed but given no event in the window were not cut: count the cuts themselves.
      return proxy.requests({ client: 'faults-operator', verb: 'watch' }).filter((r) => r.fault === handle.name && r.broken).length;
    });
    const bars = assertBars(e, SIZE.faultMs);
    const resumed = e.requests.filter((r) => r.verb === 'watch').length;
    const lists = e.requests.filter((r) => r.verb === 'list').length;
    score(e, `${wave()}; every watch of registries and Secrets broken off halfway through its first event, for ${SIZE.faultMs / 1000} s`, bars, `${resumed} watches resumed, ${lists} lists`);
  });

  it('converges after watches answer 410 Gone and force relists', async () => {
    const e = await episode('watch 410 Gone (Expired) relist', () => {
      const asEvent = proxy.inject({ match: { client: 'faults-operator', verb: 'watch', resource: 'ecrregistries' }, action: { kind: 'gone', as: 'event' } });
      const asStatus = proxy.inject({ match: { client: 'faults-operator', verb: 'watch', resource: 'secrets' }, action: { kind: 'gone', as: 'status' } });
      return forAWhile([asEvent, asStatus], SIZE.faultMs);
    });
    const bars = assertBars(e, SIZE.faultMs);
    const relists = e.requests.filter((r) => r.verb === 'list').length;
    // The first 410 relists at once; 410s in a row back off (0.5-1 s, doubling, with jitter), not loop.
    const informers = WATCHED_PER_NAMESPACE * SIZE.namespaces;
    const relistBudget = informers * (1 + attemptsWithin(SIZE.faultMs, 500));
    expect(relists, `lists during the episode (budget ${relistBudget} for ${informers} informers)`).to.be.at.most(relistBudget);
    score(e, `${wave()}; every watch of registries (ERROR event) and Secrets (HTTP 410) answered Gone for ${SIZE.faultMs / 1000} s`, bars, `${relists} relists`);
  });

  fullOnly('converges after the apiserver restarts mid-refresh', async () => {
    let restartMs = 0;
    const e = await episode('apiserver restart mid-refresh', async () => {
      const started = performance.now();
      await testEnv().restartApiServer();
      restartMs = Math.round(performance.now() - started);
      return 1;
    }, { rotateFirst: true });
    const bars = assertBars(e, restartMs);
    const broken = e.requests.filter((r) => r.broken).length;
    score(e, `${wave()}; kube-apiserver stopped and started again (${restartMs} ms) while the wave was being written`, bars, `${broken} requests broken off by the restart`);
  });

  fullOnly('converges after etcd restarts mid-refresh', async () => {
    let restartMs = 0;
    const e = await episode('etcd restart mid-refresh', async () => {
      const started = performance.now();
      await testEnv().restartEtcd();
      restartMs = Math.round(performance.now() - started);
      return 1;
    }, { rotateFirst: true });
    const bars = assertBars(e, restartMs);
    const failed = e.requests.filter((r) => (r.status ?? 0) >= 500 || r.broken).length;
    score(e, `${wave()}; etcd stopped and started again (${restartMs} ms, apiserver kept running) while the wave was being written`, bars, `${failed} requests failed with 5xx or broke`);
  });
});

function isWriteRecord(record: RequestRecord): boolean {
  return ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(record.verb);
}

/** Requests by "verb resource", whether or not they reached the apiserver. */
function countsOf(records: RequestRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) counts[`${r.verb} ${r.resource}`] = (counts[`${r.verb} ${r.resource}`] ?? 0) + 1;
  return counts;
}

/** Requests for the same object and verb that came sooner after a 429 than its Retry-After said. */
function retriedBeforeRetryAfter(all: RequestRecord[], throttled: RequestRecord[], retryAfterMs: number): number {
  let early = 0;
  for (const t of throttled) {
    const next = all.find((r) => r.id > t.id && r.verb === t.verb && r.resource === t.resource && r.namespace === t.namespace && r.name === t.name);
    if (next && next.receivedMs - (t.answeredMs ?? t.receivedMs) < retryAfterMs) early += 1;
  }
  return early;
}
