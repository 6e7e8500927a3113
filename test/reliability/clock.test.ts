import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { silentLogger } from '../../src/observability/logger.ts';
import { type RunningOperator, startOperator } from '../../src/operator.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { recordScore, reliabilityProfile } from '../support/scorecard.ts';
import { abandonFleet, createFleet, type Fleet, registryKey, samplePullSecrets, waitForFleetReady } from './support/token-fleet.ts';

/**
 * Clock faults (issue 14): the leader's wall clock jumps 10 minutes forward or back, as an NTP step
 * or an administrator's `date -s` does, while its timers (the monotonic clock) keep running.
 *
 * How: the controllers run in this process on a FakeClock, against the real control plane and the ECR
 * emulator. Virtual time moves from one timer to the next (every timer of the operator is on the
 * injected clock), and between steps the test waits in real time until the operator is idle, so
 * each reconcile runs at the virtual instant its timer fired. The emulator's clock is the true time
 * (the monotonic clock since the start), so ECR issues real 12-hour tokens and judges their expiry
 * truthfully, whatever the leader's wall clock says. 12 hours is ECR's own token lifetime: the ratio
 * of the jump to the lifetime is the real one, and 14 virtual hours take seconds.
 */
const PROFILE = reliabilityProfile();
const REGISTRIES = PROFILE === 'full' ? 100 : 10;
const TOKEN_LIFETIME_S = 12 * 60 * 60;
const JUMP_MS = 10 * 60_000;
/** Sample the pull secrets at least this often in virtual time, so an expiry between timers is seen. */
const MAX_STEP_MS = 60 * 60_000;
/** Real time the operator must stay idle before virtual time moves on. */
const QUIET_MS = 40;
/** A refresh this much before its planned time counts as early: the reconciler's own rounding. */
const EARLY_TOLERANCE_MS = 1_000;
const SIMULATED_MS = 14 * 60 * 60_000;

interface Refresh {
  registry: string;
  /** True time (emulator clock) of the virtual instant the new token appeared. */
  atMs: number;
}

/** The operator in this process on a FakeClock, its registries, and what each step saw. */
class SteppedWorld {
  readonly refreshes: Refresh[] = [];
  expiredSamples = 0;
  invalidSamples = 0;
  samples = 0;
  steps = 0;
  private lastPasswords = new Map<string, string>();

  readonly clock: FakeClock;
  readonly startMs: number;
  readonly emulator: EcrEmulator;
  readonly operator: RunningOperator;
  readonly fleet: Fleet;

  constructor(parts: { clock: FakeClock; startMs: number; emulator: EcrEmulator; operator: RunningOperator; fleet: Fleet }) {
    this.clock = parts.clock;
    this.startMs = parts.startMs;
    this.emulator = parts.emulator;
    this.operator = parts.operator;
    this.fleet = parts.fleet;
  }

  /** The true time: the start plus monotonic time, which no wall-clock step moves. */
  trueNow(): number {
    return this.startMs + this.clock.monotonicNow();
  }

  /** Waits (real time) until no reconcile runs and no key is ready, for QUIET_MS in a row. */
  async settle(): Promise<void> {
    const controller = this.operator.registries.controller;
    const deadline = Date.now() + 60_000;
    let quietSince = Date.now();
    for (;;) {
      if (controller.inFlight() > 0 || controller.queue.len() > 0) quietSince = Date.now();
      else if (Date.now() - quietSince >= QUIET_MS) return;
      if (Date.now() > deadline) throw new Error('the operator did not settle within 60 s');
      await sleep(5);
    }
  }

  /** Reads every pull secret, counting expired ones and recording which changed since the last look. */
  async sample(): Promise<void> {
    const seen = await samplePullSecrets(this.fleet, this.emulator);
    this.samples += 1;
    this.expiredSamples += seen.expired.length;
    this.invalidSamples += seen.invalid.length;
    for (const [registry, password] of seen.passwords) {
      const before = this.lastPasswords.get(registry);
      if (before !== undefined && before !== password) this.refreshes.push({ registry, atMs: this.trueNow() });
      this.lastPasswords.set(registry, password);
    }
  }

  /** Moves virtual time to `trueMs`, timer by timer, letting the operator finish each step's work. */
  async advanceTo(trueMs: number): Promise<void> {
    for (;;) {
      await this.settle();
      await this.sample();
      const remaining = trueMs - this.trueNow();
      if (remaining <= 0) return;
      const next = this.clock.nextTimerInMs();
      this.steps += 1;
      if (process.env.CLOCK_DEBUG) process.stderr.write(`step ${this.steps} +${Math.min(remaining, next ?? remaining, MAX_STEP_MS)} ms at ${(this.trueNow() - this.startMs) / 1000} s; refreshes ${this.refreshes.length}; timers ${this.clock.pendingTimers()}\n`);
      this.clock.advance(Math.min(remaining, next ?? remaining, MAX_STEP_MS));
    }
  }

  refreshesOf(registry: string, afterMs: number): Refresh[] {
    return this.refreshes.filter((r) => r.registry === registry && r.atMs >= afterMs);
  }
}

describe(`reliability: a leader whose wall clock jumps 10 minutes (${PROFILE} profile)`, function () {
  this.timeout(PROFILE === 'full' ? 600_000 : 120_000);
  let emulator: EcrEmulator | undefined;
  let operator: RunningOperator | undefined;
  let namespace: string | undefined;
  let fleet: Fleet | undefined;

  afterEach(async () => {
    await operator?.stop(5_000);
    if (fleet) await abandonFleet(fleet.namespaces);
    await emulator?.stop();
    if (namespace) await deleteTestNamespace(namespace);
    operator = undefined;
    emulator = undefined;
    namespace = undefined;
    fleet = undefined;
  });

  async function startWorld(prefix: string): Promise<{ world: SteppedWorld; plannedMs: Map<string, number> }> {
    // Whole seconds, as the apiserver stores them: the planned times read back from status are exact.
    const clock = new FakeClock(Math.floor(Date.now() / 1000) * 1000);
    const startMs = clock.now();
    emulator = await EcrEmulator.start({ tokenLifetimeSeconds: TOKEN_LIFETIME_S, clock: { now: () => startMs + clock.monotonicNow() } });
    namespace = await createTestNamespace(prefix);
    fleet = await createFleet(emulator, { namespaces: [namespace], registries: REGISTRIES });
    operator = startOperator({
      kubeConfig: testEnv().kubeConfig(),
      settings: { workers: 4, allowedEndpoints: [emulator.url], namespaces: [namespace] },
      logger: silentLogger(),
      clock,
    });
    await operator.waitForSync(AbortSignal.timeout(30_000));
    const registries = await waitForFleetReady(fleet, 60_000);
    // Before any jump the wall clock is the true one, so status.nextRefreshTime is the true plan.
    const plannedMs = new Map(registries.map((r) => [registryKey({ namespace: r.metadata.namespace!, name: r.metadata.name! }), Date.parse(r.status!.nextRefreshTime!)]));
    const world = new SteppedWorld({ clock, startMs, emulator, operator, fleet });
    await world.advanceTo(world.trueNow());
    return { world, plannedMs };
  }

  /** The start of the 10-minute window holding the most planned refreshes, so a jump there has the most to release early. */
  function busiestWindowStart(plannedMs: Map<string, number>): number {
    const times = [...plannedMs.values()].sort((a, b) => a - b);
    let best = times[0]!;
    let bestCount = 0;
    for (const start of times) {
      const count = times.filter((t) => t >= start && t < start + JUMP_MS).length;
      if (count > bestCount) [best, bestCount] = [start, count];
    }
    return best - 2_000;
  }

  it('after a +10 min jump refreshes no token before it is due, and keeps refreshing', async () => {
    const { world, plannedMs } = await startWorld('clock-forward');
    const jumpAtMs = busiestWindowStart(plannedMs);
    await world.advanceTo(jumpAtMs);
    const dueInWindow = [...plannedMs.values()].filter((t) => t > jumpAtMs && t <= jumpAtMs + JUMP_MS).length;

    world.clock.stepWallClock(JUMP_MS);
    await world.advanceTo(world.startMs + SIMULATED_MS);

    const early: string[] = [];
    let worstEarlyMs = 0;
    for (const [registry, dueMs] of plannedMs) {
      const first = world.refreshesOf(registry, 0)[0];
      expect(first, `${registry} refreshed`).to.not.equal(undefined);
      if (first!.atMs < dueMs - EARLY_TOLERANCE_MS) {
        early.push(registry);
        worstEarlyMs = Math.max(worstEarlyMs, dueMs - first!.atMs);
      }
    }
    const perInstant = new Map<number, number>();
    for (const r of world.refreshes) perInstant.set(r.atMs, (perInstant.get(r.atMs) ?? 0) + 1);
    const plannedPerInstant = new Map<number, number>();
    for (const t of plannedMs.values()) plannedPerInstant.set(t, (plannedPerInstant.get(t) ?? 0) + 1);
    const largestBurst = Math.max(...perInstant.values());
    const largestPlanned = Math.max(...plannedPerInstant.values());
    const refreshCounts = [...plannedMs.keys()].map((registry) => world.refreshesOf(registry, 0).length);

    expect(early, `refreshed before their tokens were due (up to ${Math.round(worstEarlyMs / 1000)} s early)`).to.deep.equal([]);
    expect(largestBurst, 'refreshes at one instant').to.be.at.most(largestPlanned);
    expect(Math.min(...refreshCounts), 'every registry refreshed twice in 14 h (once on tokens issued after the jump)').to.be.at.least(2);
    expect(world.expiredSamples, 'samples holding an expired token').to.equal(0);
    expect(world.invalidSamples, 'samples holding a token ECR never issued').to.equal(0);
    const ecrCalls = world.emulator.callCount({ action: 'GetAuthorizationToken' });
    recordScore({
      fault: 'Clock: leader wall clock jumps +10 min',
      tried: `${REGISTRIES} registries on ECR's 12 h tokens, in-process controllers on an injected clock; wall clock stepped +10 min just before the busiest 10 min of refreshes (${dueInWindow} due in it); 14 virtual hours`,
      times: 1,
      held: `0 refreshes before their due time (of ${plannedMs.size}); at most ${largestBurst} refresh(es) at one instant (${largestPlanned} planned); every registry refreshed ${Math.min(...refreshCounts)}-${Math.max(...refreshCounts)} times; 0 expired samples of ${world.samples * REGISTRIES}; ${ecrCalls} GetAuthorizationToken calls`,
      lost: 'nothing',
      ok: true,
    });
  });

  it('after a -10 min jump keeps refreshing before expiry, and gives a new registry its first token on its backoff, not 10 minutes later', async () => {
    const { world, plannedMs } = await startWorld('clock-back');
    // An hour in, when no refresh is due for hours: a new registry whose first GetAuthorizationToken
    // calls are throttled, so it waits on its backoff (and on the token cache's shared failure) across the step.
    await world.advanceTo(world.startMs + 60 * 60_000);
    const fault = world.emulator.injectFault({ kind: 'throttle', action: 'GetAuthorizationToken' });
    const late = await createFleet(world.emulator, { namespaces: world.fleet.namespaces, registries: 1, prefix: 'late' });
    world.fleet.registries.push(...late.registries);
    world.fleet.keys.push(...late.keys);
    const lateKey = registryKey(late.registries[0]!);
    await world.advanceTo(world.trueNow() + 20_000);
    const failedCalls = fault.hits;
    expect(failedCalls, 'the new registry retried with backoff').to.be.at.least(4);

    const jumpAtMs = world.trueNow();
    world.clock.stepWallClock(-JUMP_MS);
    fault.clear();
    let firstTokenMs: number | undefined;
    while (firstTokenMs === undefined && world.trueNow() < jumpAtMs + 2 * JUMP_MS) {
      const next = world.clock.nextTimerInMs();
      await world.advanceTo(world.trueNow() + Math.max(1, Math.min(next ?? 60_000, 60_000)));
      const sample = await samplePullSecrets(world.fleet, world.emulator);
      if (sample.passwords.has(lateKey)) firstTokenMs = world.trueNow() - jumpAtMs;
    }
    expect(firstTokenMs, `${lateKey} got its first token`).to.not.equal(undefined);

    await world.advanceTo(world.startMs + SIMULATED_MS);
    let worstLateMs = 0;
    for (const [registry, dueMs] of plannedMs) {
      const first = world.refreshesOf(registry, 0)[0];
      expect(first, `${registry} refreshed after the jump`).to.not.equal(undefined);
      worstLateMs = Math.max(worstLateMs, first!.atMs - dueMs);
    }
    const refreshCounts = [...plannedMs.keys()].map((registry) => world.refreshesOf(registry, 0).length);

    expect(firstTokenMs!, 'the new registry retried on its backoff after ECR recovered').to.be.below(60_000);
    // A due time is judged by the wall clock, so a step back delays refreshes by the step, never more.
    expect(worstLateMs, 'refreshes delayed by at most the step').to.be.at.most(JUMP_MS + EARLY_TOLERANCE_MS);
    expect(Math.min(...refreshCounts), 'every registry refreshed twice in 14 h').to.be.at.least(2);
    expect(world.expiredSamples, 'samples holding an expired token').to.equal(0);
    expect(world.invalidSamples, 'samples holding a token ECR never issued').to.equal(0);
    recordScore({
      fault: 'Clock: leader wall clock jumps -10 min',
      tried: `${REGISTRIES} registries on ECR's 12 h tokens, in-process controllers on an injected clock; wall clock stepped -10 min while a new registry's first token was being retried (throttled ${failedCalls} times); 14 virtual hours`,
      times: 1,
      held: `the new registry got its first token ${(firstTokenMs! / 1000).toFixed(1)} s after ECR recovered (its backoff, not the 10 min step); refreshes at most ${(worstLateMs / 1000).toFixed(0)} s after plan (due times follow the wall clock, so a step back delays them by the step; 12 h tokens keep ~6 h of margin); every registry refreshed ${Math.min(...refreshCounts)}-${Math.max(...refreshCounts)} times; 0 expired samples of ${world.samples * REGISTRIES}`,
      lost: 'nothing',
      ok: true,
    });
  });
});
