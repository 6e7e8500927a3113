import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import type { EcrRegistry } from '../../src/api/ecr-registry.ts';
import { toKubeTime } from '../../src/runtime/kube-time.ts';
import { ExponentialBackoffRateLimiter } from '../../src/runtime/rate-limiter.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace } from '../support/env.ts';
import { listEvents } from '../support/fixtures.ts';
import type { OperatorProcess } from '../support/operator-process.ts';
import { recordScore, reliabilityProfile } from '../support/scorecard.ts';
import { EcrGate } from './support/ecr-gate.ts';
import { metricSum, parseMetrics, percentile, startOperatorRun } from './support/operator-runs.ts';
import {
  abandonFleet,
  conditionOf,
  createFleet,
  type Fleet,
  listRegistries,
  registryKey,
  samplePullSecrets,
  waitForFleetReady,
} from './support/token-fleet.ts';

/**
 * ECR down for longer than a token's life (issue 14), two ways at once, each with an operator process
 * of its own: ECR answering 500 (ServerException) to GetAuthorizationToken, and ECR's endpoint
 * refusing connections (a TCP gate that stops listening). Judged: the last token stays in the pull
 * secret until it expires and is never replaced by an empty or invalid one; conditions, Events and
 * ecr_operator_token_expiry_seconds say what happened and when the secret expires; once ECR is back,
 * every registry recovers within one retry period; and the retries made meanwhile stay within what
 * the backoff schedule allows (no retry storm).
 */
const PROFILE = reliabilityProfile();
const SIZE =
  PROFILE === 'full'
    ? { registriesPerMode: 50, perCredentials: 5, namespacesPerMode: 5, lifetimeS: 30, outageS: 60 }
    : { registriesPerMode: 4, perCredentials: 2, namespacesPerMode: 1, lifetimeS: 5, outageS: 8 };
/** ECRClient's maxAttempts (src/aws/ecr-client.ts): each GetAuthorizationToken call is at most this many requests. */
const SDK_ATTEMPTS = 2;
/** How often the test looks at the secrets, registries and metrics. */
const SAMPLE_MS = 500;
/** Room for the reconcile itself and the sampling interval, on top of a retry period. */
const RECOVERY_SLACK_MS = 5_000;
/**
 * How soon after the served token expires Ready must say False: the reconciler asks for a look 1 s
 * after the expiry whatever the backoff, then the reconcile and our sampling interval.
 */
const READY_LAG_BAR_MS = 5_000;

/**
 * The controller's backoff (src/runtime/rate-limiter.ts defaults): the most failures a key can have
 * within `ms` (every delay shortened by the full jitter), and the longest delay it can then be waiting
 * (no jitter): one retry period at the end of an outage that long.
 */
function backoffBounds(ms: number): { failures: number; retryPeriodMs: number } {
  const fastest = new ExponentialBackoffRateLimiter({ random: () => 0.999_999 });
  const slowest = new ExponentialBackoffRateLimiter({ random: () => 0 });
  let elapsed = 0;
  let failures = 0;
  let retryPeriodMs = 0;
  while (elapsed <= ms) {
    failures += 1;
    elapsed += fastest.when('key');
    retryPeriodMs = slowest.when('key');
  }
  return { failures, retryPeriodMs };
}

interface Tracked {
  key: string;
  mode: Mode['name'];
  lastGood: string;
  expiresAtMs: number;
  /** Samples during the outage whose token differed from the last good one. */
  changed: number;
  refreshedFalseNamingExpiry: boolean;
  readyFalseBeforeExpiry: boolean;
  readyFalseAtMs?: number;
  readyFalseReason?: string;
  /** Largest gap between ecr_operator_token_expiry_seconds and the held token's real remaining life. */
  metricErrorS: number;
  metricSamples: number;
  recoveredAtMs?: number;
}

interface Mode {
  name: '5xx' | 'connection refused';
  fleet: Fleet;
  operator: OperatorProcess;
}

describe(`reliability: ECR down for longer than a token's life (${PROFILE} profile)`, function () {
  this.timeout(PROFILE === 'full' ? 900_000 : 180_000);
  let emulator: EcrEmulator | undefined;
  let gate: EcrGate | undefined;
  const operators: OperatorProcess[] = [];
  const fleets: Fleet[] = [];
  const namespaces: string[] = [];

  after(async () => {
    await Promise.all(operators.map((o) => o.stop(10_000)));
    for (const fleet of fleets) await abandonFleet(fleet.namespaces);
    await gate?.close();
    await emulator?.stop();
    for (const ns of namespaces) await deleteTestNamespace(ns);
  });

  it('keeps the last token until it expires, says when, recovers within one retry period, and retries within the backoff schedule', async () => {
    emulator = await EcrEmulator.start({ tokenLifetimeSeconds: SIZE.lifetimeS });
    gate = await EcrGate.start(emulator.port);
    const newNamespaces = async (prefix: string) => {
      const created: string[] = [];
      for (let i = 0; i < SIZE.namespacesPerMode; i++) created.push(await createTestNamespace(prefix));
      namespaces.push(...created);
      return created;
    };
    const shape = { registries: SIZE.registriesPerMode, perCredentials: SIZE.perCredentials };
    const failing = await createFleet(emulator, { ...shape, namespaces: await newNamespaces('ecr-5xx') });
    const refused = await createFleet(emulator, { ...shape, namespaces: await newNamespaces('ecr-refused'), endpoint: gate.url });
    fleets.push(failing, refused);
    const [operator5xx, operatorRefused] = await Promise.all([
      startOperatorRun({ name: 'ecr-outage-5xx', namespaces: failing.namespaces, allowedEndpoints: [emulator.url] }),
      startOperatorRun({ name: 'ecr-outage-refused', namespaces: refused.namespaces, allowedEndpoints: [gate.url] }),
    ]);
    operators.push(operator5xx, operatorRefused);
    await Promise.all(operators.map((o) => o.waitUntilReady()));
    await Promise.all(fleets.map((f) => waitForFleetReady(f, 120_000)));
    const modes: Mode[] = [
      { name: '5xx', fleet: failing, operator: operator5xx },
      { name: 'connection refused', fleet: refused, operator: operatorRefused },
    ];

    // The outage starts.
    const tracked = new Map<string, Tracked>();
    const callsBefore = await Promise.all(modes.map((m) => ecrCalls(m.operator)));
    const attemptsBefore = emulator.counters().byAccessKey;
    for (const mode of modes) {
      const sample = await samplePullSecrets(mode.fleet, emulator);
      for (const registry of mode.fleet.registries) {
        const key = registryKey(registry);
        const lastGood = sample.passwords.get(key);
        expect(lastGood, `${key} holds a token before the outage`).to.not.equal(undefined);
        tracked.set(key, {
          key,
          mode: mode.name,
          lastGood: lastGood!,
          expiresAtMs: emulator.tokenInfo(lastGood!)!.expiresAt.getTime(),
          changed: 0,
          refreshedFalseNamingExpiry: false,
          readyFalseBeforeExpiry: false,
          metricErrorS: 0,
          metricSamples: 0,
        });
      }
    }
    const outageStartMs = Date.now();
    const faults = failing.keys.map((key) => emulator!.injectFault({ kind: 'serverError', action: 'GetAuthorizationToken', accessKeyId: key.accessKeyId }));
    await gate.shut();
    let invalidSamples = 0;
    let samples = 0;

    while (Date.now() < outageStartMs + SIZE.outageS * 1000) {
      for (const mode of modes) {
        const [secrets, registries, metricsText] = await Promise.all([samplePullSecrets(mode.fleet, emulator), listRegistries(mode.fleet.namespaces), mode.operator.metricsText()]);
        const nowMs = Date.now();
        samples += 1;
        invalidSamples += secrets.invalid.length;
        const expiry = parseMetrics(metricsText ?? '');
        for (const registry of registries) {
          const t = tracked.get(registryKey({ namespace: registry.metadata.namespace!, name: registry.metadata.name! }));
          if (!t) continue;
          const held = secrets.passwords.get(t.key);
          // A refresh already in flight when the outage began may still land a good token.
          if (held !== undefined && held !== t.lastGood) {
            const info = emulator.tokenInfo(held);
            if (info && info.issuedAt.getTime() <= outageStartMs + 1_000) {
              t.lastGood = held;
              t.expiresAtMs = info.expiresAt.getTime();
            } else t.changed += 1;
          }
          judgeStatus(t, registry, nowMs);
          const reported = metricSum(expiry, 'ecr_operator_token_expiry_seconds', { namespace: registry.metadata.namespace!, name: registry.metadata.name! });
          if (reported !== undefined) {
            t.metricErrorS = Math.max(t.metricErrorS, Math.abs(reported - (t.expiresAtMs - nowMs) / 1000));
            t.metricSamples += 1;
          }
        }
      }
      await sleep(SAMPLE_MS);
    }

    // ECR is back.
    for (const fault of faults) fault.clear();
    await gate.open();
    const recoveredFromMs = Date.now();
    const outageMs = recoveredFromMs - outageStartMs;
    const callsDuring = await Promise.all(modes.map((m) => ecrCalls(m.operator)));
    const attemptsAfter = emulator.counters().byAccessKey;
    const bounds = backoffBounds(outageMs);
    const deadline = recoveredFromMs + bounds.retryPeriodMs + RECOVERY_SLACK_MS + 30_000;
    while ([...tracked.values()].some((t) => t.recoveredAtMs === undefined) && Date.now() < deadline) {
      for (const mode of modes) {
        const [secrets, registries] = await Promise.all([samplePullSecrets(mode.fleet, emulator), listRegistries(mode.fleet.namespaces)]);
        invalidSamples += secrets.invalid.length;
        for (const registry of registries) {
          const t = tracked.get(registryKey({ namespace: registry.metadata.namespace!, name: registry.metadata.name! }));
          if (!t || t.recoveredAtMs !== undefined) continue;
          const held = secrets.passwords.get(t.key);
          const fresh = held !== undefined && held !== t.lastGood && emulator.tokenInfo(held)!.issuedAt.getTime() >= recoveredFromMs - 1_000;
          if (fresh && conditionOf(registry, 'Ready')?.status === 'True') t.recoveredAtMs = secrets.atMs;
        }
      }
      await sleep(250);
    }

    // Events, written by each operator process (it flushes them as it goes).
    const events = (await Promise.all(namespaces.map((ns) => listEvents(ns)))).flat();
    const warningsNamingExpiry = new Set<string>();
    for (const event of events) {
      if (event.type !== 'Warning' || event.reason !== 'EcrUnreachable') continue;
      const key = `${event.regarding?.namespace}/${event.regarding?.name}`;
      const t = tracked.get(key);
      if (t && (event.note ?? '').includes(toKubeTime(new Date(t.expiresAtMs)))) warningsNamingExpiry.add(key);
    }

    const all = [...tracked.values()];
    const recoveryMs = all.filter((t) => t.recoveredAtMs !== undefined).map((t) => t.recoveredAtMs! - recoveredFromMs);
    const readyFalse = all.filter((t) => t.readyFalseAtMs !== undefined);
    const readyLagMs = readyFalse.map((t) => t.readyFalseAtMs! - t.expiresAtMs);
    const perSet = (mode: Mode, index: number) => {
      if (mode.name === '5xx') {
        return mode.fleet.keys.map((key) => ((attemptsAfter[key.accessKeyId]?.GetAuthorizationToken ?? 0) - (attemptsBefore[key.accessKeyId]?.GetAuthorizationToken ?? 0)) / SDK_ATTEMPTS);
      }
      // Refused connections never reach ECR: the operator's own count of failed calls, spread over its sets.
      return [(callsDuring[index]!.error - callsBefore[index]!.error) / mode.fleet.keys.length];
    };
    const callsPerSet = modes.map((mode, i) => perSet(mode, i));
    // Every registry of a set retries on its own backoff; the token cache shares a failure for 5 s, so fewer reach ECR.
    const callBoundPerSet = SIZE.perCredentials * (bounds.failures + 1);
    const summary = {
      outageS: Math.round(outageMs / 1000),
      retryPeriodS: Math.round(bounds.retryPeriodMs / 1000),
      recoveryS: { p50: percentile(recoveryMs, 50) / 1000, max: Math.max(...recoveryMs) / 1000 },
      readyLagS: readyLagMs.length ? { p50: percentile(readyLagMs, 50) / 1000, max: Math.max(...readyLagMs) / 1000 } : undefined,
      callsPerSet: callsPerSet.map((calls) => ({ min: Math.min(...calls), max: Math.max(...calls) })),
      callBoundPerSet,
      metricErrorS: Math.max(...all.map((t) => t.metricErrorS)),
      events: events.length,
    };
    process.stderr.write(`      ECR outage figures: ${JSON.stringify(summary)}\n`);

    expect(invalidSamples, 'samples with an empty, unparsable or never-issued token').to.equal(0);
    expect(all.filter((t) => t.changed > 0).map((t) => t.key), 'pull secrets changed during the outage').to.deep.equal([]);
    expect(all.filter((t) => !t.refreshedFalseNamingExpiry).map((t) => t.key), 'Refreshed=False EcrUnreachable naming the expiry').to.deep.equal([]);
    expect(all.filter((t) => t.readyFalseBeforeExpiry).map((t) => t.key), 'Ready=False while the last token was still valid').to.deep.equal([]);
    expect(
      all.filter((t) => !warningsNamingExpiry.has(t.key)).map((t) => t.key),
      'a Warning EcrUnreachable Event naming the expiry',
    ).to.deep.equal([]);
    expect(Math.min(...all.map((t) => t.metricSamples)), 'expiry metric samples per registry').to.be.at.least(2);
    expect(summary.metricErrorS, 'ecr_operator_token_expiry_seconds against the real expiry (s)').to.be.below(2.5);
    expect(all.filter((t) => t.readyFalseAtMs === undefined).map((t) => t.key), 'Ready=False once the last token expired').to.deep.equal([]);
    expect(all.filter((t) => t.readyFalseReason !== 'EcrUnreachable').map((t) => `${t.key}: ${t.readyFalseReason}`), 'Ready=False reason').to.deep.equal([]);
    expect(Math.max(...readyLagMs), 'Ready=False after the token expired (ms)').to.be.at.most(READY_LAG_BAR_MS);
    expect(all.filter((t) => t.recoveredAtMs === undefined).map((t) => t.key), 'registries not recovered').to.deep.equal([]);
    expect(Math.max(...recoveryMs), `recovery within one retry period (${bounds.retryPeriodMs} ms) and slack`).to.be.at.most(bounds.retryPeriodMs + RECOVERY_SLACK_MS);
    for (const [i, calls] of callsPerSet.entries()) {
      expect(Math.max(...calls), `${modes[i]!.name}: GetAuthorizationToken calls per credential set during ${summary.outageS} s`).to.be.at.most(callBoundPerSet);
    }

    for (const [i, mode] of modes.entries()) {
      const mine = all.filter((t) => t.mode === mode.name);
      const myRecovery = mine.map((t) => t.recoveredAtMs! - recoveredFromMs);
      const myReadyLag = mine.filter((t) => t.readyFalseAtMs !== undefined).map((t) => (t.readyFalseAtMs! - t.expiresAtMs) / 1000);
      recordScore({
        fault: `ECR down longer than a token's life (${mode.name})`,
        tried: `${mine.length} registries in ${mode.fleet.keys.length} credential sets on ${SIZE.lifetimeS} s tokens, operator as a process; GetAuthorizationToken ${mode.name === '5xx' ? 'answers 500' : 'connections refused'} for ${summary.outageS} s`,
        times: 1,
        held: `last token kept until expiry in every pull secret (0 replaced, 0 empty or invalid in ${samples} samples); Refreshed=False EcrUnreachable and a Warning Event naming the expiry for all; Ready=False for all ${mine.length} at most ${Math.max(...myReadyLag).toFixed(1)} s after their token expired; expiry metric within ${summary.metricErrorS.toFixed(1)} s of the truth; all recovered ${(percentile(myRecovery, 50) / 1000).toFixed(1)} s (median) / ${(Math.max(...myRecovery) / 1000).toFixed(1)} s (max) after ECR returned (retry period ${summary.retryPeriodS} s); GetAuthorizationToken calls per set ${Math.min(...callsPerSet[i]!).toFixed(0)}-${Math.max(...callsPerSet[i]!).toFixed(0)} (backoff bound ${callBoundPerSet})`,
        lost: 'nothing',
        ok: true,
      });
    }
  });
});

/** The operator's own count of GetAuthorizationToken calls, by outcome. */
async function ecrCalls(operator: OperatorProcess): Promise<{ success: number; error: number }> {
  const samples = parseMetrics((await operator.metricsText()) ?? '');
  const count = (outcome: string) => metricSum(samples, 'ecr_operator_ecr_api_calls_total', { action: 'GetAuthorizationToken', outcome }) ?? 0;
  return { success: count('success'), error: count('error') + count('throttled') };
}

/** What the registry's conditions say at `nowMs`, against the token its pull secret really holds. */
function judgeStatus(t: Tracked, registry: EcrRegistry, nowMs: number): void {
  const refreshed = conditionOf(registry, 'Refreshed');
  if (refreshed?.status === 'False' && refreshed.reason === 'EcrUnreachable' && refreshed.message?.includes(toKubeTime(new Date(t.expiresAtMs)))) {
    t.refreshedFalseNamingExpiry = true;
  }
  const ready = conditionOf(registry, 'Ready');
  if (ready?.status !== 'False') return;
  // The apiserver keeps whole seconds; a second of rounding is not a defect.
  if (nowMs < t.expiresAtMs - 1_000) t.readyFalseBeforeExpiry = true;
  if (t.readyFalseAtMs === undefined) {
    t.readyFalseAtMs = nowMs;
    t.readyFalseReason = ready.reason;
  }
}
