import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { createTestNamespace, deleteTestNamespace, testEnv } from '../support/env.ts';
import type { OperatorProcess } from '../support/operator-process.ts';
import { recordScore, reliabilityProfile } from '../support/scorecard.ts';
import { percentile, startOperatorRun } from './support/operator-runs.ts';
import { abandonFleet, createFleet, type Fleet, samplePullSecrets, waitForFleetReady } from './support/token-fleet.ts';

/**
 * Operator crash loops (issue 14): SIGKILL the operator every 3 s during a rotation wave, while the
 * test samples every registry's pull secret continuously.
 *
 * The operator runs as shipped (the bundle, as a process), as one replica without leader election,
 * and each killed instance is replaced at once, as the kubelet restarts a container in place (without
 * CrashLoopBackOff's growing delay). Leader election is left out on purpose: a SIGKILLed leader's
 * Lease blocks its successor for the lease duration (15 s, half a 30-second token), which is the
 * leader-loss fault's subject.
 *
 * Expired samples, precisely: a sample is one look at one registry's pull secret; it is expired when
 * the token it holds is past its expiry by ECR's (the emulator's) clock. An instance "could run" from
 * the moment it is ready (its informers synced, /readyz 200: it can reconcile) until its SIGKILL. An
 * expired sample counts against the bar when, between the moment its token fell due for refresh
 * (at the earliest 45 % of its life: half, less the 5 % jitter) and the sample, instances could run for
 * at least MIN_UP_MS in total: time enough to reconcile the whole fleet once. The bar for those is 0.
 * Expired samples in windows where no instance got that long (every instance killed while still
 * loading on a loaded machine) are reported too, as not attributable.
 */
const PROFILE = reliabilityProfile();
const SIZE =
  PROFILE === 'full'
    ? { registries: 100, namespaces: 10, perCredentials: 2, lifetimeS: 30, killForS: 60 }
    : { registries: 10, namespaces: 2, perCredentials: 2, lifetimeS: 12, killForS: 9 };
const KILL_EVERY_MS = 3_000;
const SAMPLE_MS = 500;
const MIN_UP_MS = 1_000;
/** When a token falls due at the earliest, as a fraction of its life (src/registry/refresh-schedule.ts: half, ±5 %). */
const EARLIEST_DUE_FRACTION = 0.45;

interface ExpiredSample {
  registry: string;
  atMs: number;
  issuedAtMs: number;
}

interface Instance {
  pid: number;
  spawnedAtMs: number;
  /** Milliseconds from spawn to /readyz 200 (informers synced), if it got there before its kill. */
  readyAfterMs?: number;
  killedAtMs?: number;
}

/** Milliseconds within [fromMs, toMs] during which some instance could run (ready, not yet killed). */
function upTimeWithin(instances: readonly Instance[], fromMs: number, toMs: number): number {
  let total = 0;
  for (const instance of instances) {
    if (instance.readyAfterMs === undefined) continue;
    const start = Math.max(fromMs, instance.spawnedAtMs + instance.readyAfterMs);
    const end = Math.min(toMs, instance.killedAtMs ?? Number.POSITIVE_INFINITY);
    if (end > start) total += end - start;
  }
  return total;
}

describe(`reliability: operator crash loop (${PROFILE} profile)`, function () {
  this.timeout(PROFILE === 'full' ? 900_000 : 180_000);
  let emulator: EcrEmulator | undefined;
  let fleet: Fleet | undefined;
  let operator: OperatorProcess | undefined;
  const namespaces: string[] = [];

  after(async () => {
    await operator?.stop(10_000);
    if (fleet) await abandonFleet(fleet.namespaces);
    await emulator?.stop();
    for (const ns of namespaces) await deleteTestNamespace(ns);
  });

  it(`SIGKILLed every 3 s for ${SIZE.killForS} s during a rotation wave: no expired sample, no orphaned or duplicated Secret, bounded ECR calls`, async () => {
    emulator = await EcrEmulator.start({ tokenLifetimeSeconds: SIZE.lifetimeS });
    for (let i = 0; i < SIZE.namespaces; i++) namespaces.push(await createTestNamespace('crash-loop'));
    fleet = await createFleet(emulator, { namespaces, registries: SIZE.registries, perCredentials: SIZE.perCredentials });
    const start = () => startOperatorRun({ name: 'crash-loop', namespaces, allowedEndpoints: [emulator!.url] });
    operator = await start();
    await operator.waitUntilReady();
    await waitForFleetReady(fleet, 120_000);

    // Sample every pull secret until told to stop.
    const sampled = { samples: 0, invalid: 0, orphaned: new Set<string>(), duplicated: new Set<string>(), expired: [] as ExpiredSample[] };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const sample = await samplePullSecrets(fleet!, emulator!);
        sampled.samples += 1;
        sampled.invalid += sample.invalid.length;
        for (const registry of sample.expired) {
          const issuedAtMs = emulator!.tokenInfo(sample.passwords.get(registry)!)!.issuedAt.getTime();
          sampled.expired.push({ registry, atMs: sample.atMs, issuedAtMs });
        }
        for (const name of sample.orphaned) sampled.orphaned.add(name);
        for (const name of sample.duplicated) sampled.duplicated.add(name);
        await sleep(SAMPLE_MS);
      }
    })();

    const callsBefore = emulator.counters().byAccessKey;
    const instances: Instance[] = [];
    const loopStartMs = Date.now();
    let current = operator;
    let instance: Instance = { pid: current.pid, spawnedAtMs: current.startedAtMs };
    instances.push(instance);
    while (Date.now() - loopStartMs < SIZE.killForS * 1000) {
      const killAtMs = Math.max(instance.spawnedAtMs, loopStartMs) + KILL_EVERY_MS;
      if (instance.readyAfterMs === undefined) {
        const ready = await current.waitUntilReady(Math.max(0, killAtMs - current.startedAtMs)).catch(() => undefined);
        if (ready !== undefined && Date.now() <= killAtMs) instance.readyAfterMs = ready;
      }
      await sleep(Math.max(0, killAtMs - Date.now()));
      process.kill(current.pid, 'SIGKILL');
      const exit = await current.stop();
      instance.killedAtMs = Date.now();
      expect(exit.signal, `instance ${current.pid} died of our SIGKILL, not on its own`).to.equal('SIGKILL');
      current = await start();
      operator = current;
      instance = { pid: current.pid, spawnedAtMs: current.startedAtMs };
      instances.push(instance);
    }
    const killsEndMs = Date.now();
    // The last instance runs on: every token rotates once more under it.
    instance.readyAfterMs = await current.waitUntilReady();
    await sleep((SIZE.lifetimeS / 2 + 1) * 1000);
    sampling = false;
    await sampler;
    current.assertRunning();
    await waitForFleetReady(fleet, 30_000);
    const callsAfter = emulator.counters().byAccessKey;

    // Every Secret in the namespaces: the credentials Secrets and one pull secret per registry, nothing else.
    const core = testEnv().kubeConfig().makeApiClient(CoreV1Api);
    const secrets = (await Promise.all(namespaces.map((namespace) => core.listNamespacedSecret({ namespace })))).flatMap((l) => l.items);
    const expectedSecrets = fleet.keys.length + fleet.registries.length;

    const killed = instances.filter((i) => i.killedAtMs !== undefined);
    const readyTimes = killed.filter((i) => i.readyAfterMs !== undefined).map((i) => i.readyAfterMs!);
    const calls = fleet.keys.map((key) => (callsAfter[key.accessKeyId]?.GetAuthorizationToken ?? 0) - (callsBefore[key.accessKeyId]?.GetAuthorizationToken ?? 0));
    const windowS = (Date.now() - loopStartMs) / 1000;
    // Tokens each set needed in the window (it refreshes at half a lifetime), and at most one more call per instance that started.
    const neededPerSet = Math.ceil(windowS / (SIZE.lifetimeS / 2));
    const callBound = neededPerSet + instances.length;
    const attributable = sampled.expired.filter((e) => upTimeWithin(instances, e.issuedAtMs + EARLIEST_DUE_FRACTION * SIZE.lifetimeS * 1000, e.atMs) >= MIN_UP_MS);
    const figures = {
      instances: instances.length,
      kills: killed.length,
      readyBeforeKill: `${readyTimes.length}/${killed.length}`,
      readyAfterMs: { p50: percentile(readyTimes, 50), max: Math.max(...readyTimes) },
      samples: sampled.samples,
      expired: sampled.expired.length,
      attributable: attributable.length,
      callsPerSet: { min: Math.min(...calls), p50: percentile(calls, 50), max: Math.max(...calls), needed: neededPerSet, bound: callBound },
      secrets: `${secrets.length}/${expectedSecrets}`,
    };
    process.stderr.write(`      crash loop figures: ${JSON.stringify(figures)}\n`);

    expect(killed.length, 'kills').to.be.at.least(Math.floor((SIZE.killForS * 1000) / KILL_EVERY_MS) - 1);
    expect(killsEndMs - loopStartMs).to.be.at.least(SIZE.killForS * 1000);
    // Not a property of the operator but of the run: an instance that cannot even start in 3 s tests the machine.
    expect(
      readyTimes.length,
      `instances ready before their kill: the machine is too loaded to judge a crash loop (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`,
    ).to.be.at.least(Math.ceil(killed.length / 2));
    expect(
      attributable.map((e) => `${e.registry} at +${e.atMs - loopStartMs} ms`),
      `expired samples while an instance could run (instances ready before their kill: ${figures.readyBeforeKill}, median ${figures.readyAfterMs.p50} ms after spawn)`,
    ).to.deep.equal([]);
    expect(sampled.invalid, 'samples with an empty or never-issued token').to.equal(0);
    expect([...sampled.orphaned], 'orphaned pull secrets').to.deep.equal([]);
    expect([...sampled.duplicated], 'duplicated pull secrets').to.deep.equal([]);
    expect(secrets.length, `Secrets in the namespaces: ${secrets.map((s) => s.metadata?.name).join(', ')}`).to.equal(expectedSecrets);
    expect(Math.max(...calls), 'GetAuthorizationToken calls per credential set').to.be.at.most(callBound);
    recordScore({
      fault: 'Operator crash loop (SIGKILL every 3 s)',
      tried: `${SIZE.registries} registries in ${fleet.keys.length} credential sets on ${SIZE.lifetimeS} s tokens; the shipped bundle as one replica (no leader election), SIGKILLed every 3 s for ${SIZE.killForS} s and restarted at once, then half a token lifetime more`,
      times: killed.length,
      held: `0 expired samples while an instance could run (${sampled.samples} samples × ${SIZE.registries} pull secrets; ${sampled.expired.length - attributable.length} expired in windows where no instance was up ${MIN_UP_MS} ms); ${readyTimes.length}/${killed.length} instances ready before their kill (median ${figures.readyAfterMs.p50} ms after spawn); 0 empty or invalid tokens; GetAuthorizationToken per set ${figures.callsPerSet.min}-${figures.callsPerSet.max} (median ${figures.callsPerSet.p50}; ${neededPerSet} tokens needed in ${windowS.toFixed(0)} s); all Ready at the end`,
      lost: `nothing: 0 orphaned, 0 duplicated Secrets (${secrets.length} = ${fleet.keys.length} credentials + ${fleet.registries.length} pull secrets)`,
      ok: true,
    });
  });
});
