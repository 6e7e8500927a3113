/**
 * `npm run bench`: figures for issue 6 (convergence, calls, steady-state writes, rotation, imports,
 * memory) and issue 11 (one ClusterEcrRegistry fanning out to many namespaces), each measured against
 * a bare-client denominator on the same control plane in the same run.
 * Starts its own control plane, ECR emulator and operator process, and stops all of them.
 * Sizes: see BENCH_HELP (settings.ts). Prints a JSON report (also written to a file) and a summary.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ControlPlane, startControlPlane } from '../support/controlplane/index.ts';
import { freePort } from '../support/controlplane/ports.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { diffCounts, requestCounts } from './apiserver-metrics.ts';
import { bareFanoutWrites, bareWrites } from './bare-writes.ts';
import { createFleet, registryPath, waitForFleet } from './fleet.ts';
import { cpuMeter } from './cpu.ts';
import { deploymentEnv } from './deployment-env.ts';
import { createFanout, createFanoutRegistry, waitForFanout } from './fanout.ts';
import { createImports, waitForImports } from './imports.ts';
import { bareNodeFloor, heapFigures, MemorySampler, mib } from './memory.ts';
import { buildImageLayout, type ImageLayout } from '../support/dockerfile.ts';
import { OperatorProcess, REPOSITORY_ROOT } from '../support/operator-process.ts';
import { measureRotationWave } from './rotation.ts';
import { ALL_SCENARIOS, BENCH_HELP, type BenchSettings, BenchSettingsError, readBenchSettings } from './settings.ts';
import { summarize } from './summary.ts';

/** The reconciler's default fan-out when it writes a ClusterEcrRegistry's namespaces (writeConcurrency in src/clusterregistry/reconciler.ts). */
const RECONCILER_WRITE_CONCURRENCY = 16;

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

interface Running {
  controlPlane?: ControlPlane;
  emulator?: EcrEmulator;
  operator?: OperatorProcess;
  sampler?: MemorySampler;
  layout?: ImageLayout;
}

async function main(): Promise<number> {
  let settings: BenchSettings;
  try {
    settings = readBenchSettings(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof BenchSettingsError)) throw error;
    process.stderr.write(`npm run bench: ${error.message}\nSettings:\n${BENCH_HELP.map((l) => `  ${l}`).join('\n')}\n`);
    return 2;
  }
  const running: Running = {};
  const report: Record<string, unknown> = {
    startedAt: new Date().toISOString(),
    machine: {
      cores: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      totalMemoryMiB: mib(os.totalmem()),
      loadAverageAtStart: os.loadavg(),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      note: 'shared machine: other engineers run builds and tests at the same time, so absolute times are noisy; ratios to the bare denominator less so',
    },
    settings: { ...settings, scenarios: [...settings.scenarios] },
  };
  const outPath = settings.out ?? path.join(os.tmpdir(), `bench-report-${Date.now()}.json`);
  const stopSignal = () => {
    void teardown(running).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopSignal);
  process.once('SIGTERM', stopSignal);
  let failure: string | undefined;
  try {
    await runScenarios(settings, running, report);
  } catch (error) {
    failure = error instanceof Error ? (error.stack ?? error.message) : String(error);
    report.failure = failure;
    log(`FAILED: ${failure}`);
  }
  report.machine = { ...(report.machine as object), loadAverageAtEnd: os.loadavg() };
  await teardown(running);
  await fs.writeFile(outPath, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n\n${summarize(report)}\nReport written to ${outPath}\n`);
  return failure ? 1 : 0;
}

/** The operator as shipped: the Dockerfile's bundle and ENTRYPOINT, with the image's and the Deployment's env. */
interface Shipped {
  entry: string[];
  cwd: string;
  env: Record<string, string>;
}

async function runScenarios(settings: BenchSettings, running: Running, report: Record<string, unknown>): Promise<void> {
  const floor = await bareNodeFloor(process.execPath);
  report.bareNodeFloor = floor;
  log(`bare Node floor: ${floor.hwmMiB} MiB`);

  // The operator as shipped: the Dockerfile's own build (the bundle) and ENTRYPOINT (its Node flags).
  let shipped: Shipped | undefined;
  if (!settings.fromSource) {
    log('building the image layout from the Dockerfile (npm ci, npm run build)');
    const startedMs = Date.now();
    const layout = await buildImageLayout({ contextDir: REPOSITORY_ROOT });
    running.layout = layout;
    const [program, ...entry] = layout.entrypoint;
    if (program !== 'node') throw new Error(`the Dockerfile's ENTRYPOINT runs ${program}, not node`);
    shipped = { entry, cwd: layout.appDir, env: { ...layout.env, ...(await deploymentEnv()) } };
    report.imageLayoutBuildMs = Date.now() - startedMs;
  }

  if (ALL_SCENARIOS.some((s) => s !== 'fanout' && settings.scenarios.has(s))) await runFleetScenarios(settings, shipped, running, report, floor.hwmMiB);
  if (settings.scenarios.has('fanout')) {
    // A control plane, emulator and operator of its own, so neither side's objects weigh on the other's figures.
    await stopStack(running);
    await runFanoutScenario(settings, shipped, running, report);
  }
}

/** A fresh control plane and ECR emulator, recorded in `running` so teardown stops them. */
async function startStack(running: Running): Promise<{ controlPlane: ControlPlane; emulator: EcrEmulator; kubeConfig: KubeConfig }> {
  const controlPlane = await startControlPlane();
  running.controlPlane = controlPlane;
  const emulator = await EcrEmulator.start();
  running.emulator = emulator;
  return { controlPlane, emulator, kubeConfig: controlPlane.kubeConfig() };
}

/** The operator process as shipped (or from source), with a memory sampler, recorded in `running`. */
async function startOperator(settings: BenchSettings, shipped: Shipped | undefined, controlPlane: ControlPlane, emulator: EcrEmulator, running: Running, report: Record<string, unknown>): Promise<{ operator: OperatorProcess; sampler: MemorySampler }> {
  const operator = await OperatorProcess.start({
    kubeconfigPath: controlPlane.kubeconfigPath,
    allowedEndpoints: [emulator.url],
    ...(shipped ?? {}),
    flags: ['--leader-elect=false', `--workers=${settings.workers}`, '--log-level=warn'],
    metricsPort: await freePort(),
    healthPort: await freePort(),
    logPath: path.join(os.tmpdir(), `bench-operator-${Date.now()}.log`),
  });
  running.operator = operator;
  const sampler = new MemorySampler(operator.pid);
  running.sampler = sampler;
  report.operatorCommand ??= `${operator.commandLine()}${shipped ? ` (in the Dockerfile's image layout, with the image's and the Deployment's env ${JSON.stringify(shipped.env)})` : ' (from source)'}`;
  return { operator, sampler };
}

/** A quiet window with no bench requests but two /metrics reads: what the operator writes and calls when nothing changes. */
async function measureQuiet(kubeConfig: KubeConfig, emulator: EcrEmulator, operator: OperatorProcess, sampler: MemorySampler, seconds: number) {
  const quietBefore = await requestCounts(kubeConfig);
  const ecrQuietBefore = emulator.counters();
  const fromMs = Date.now();
  await sleep(seconds * 1000);
  operator.assertRunning();
  const quietAfter = await requestCounts(kubeConfig);
  const ecrQuietAfter = emulator.counters();
  const heap = heapFigures(await operator.metricsText());
  return {
    seconds,
    apiserverRequests: diffCounts(quietBefore, quietAfter),
    ecrCalls: diffRecord(ecrQuietBefore.byAction, ecrQuietAfter.byAction),
    memory: { ...sampler.window(fromMs, Date.now()), ...heap },
    note: 'apiserverOwnWrites are kube-apiserver renewing its identity Lease and the kubernetes Service endpoints (the operator runs with --leader-elect=false)',
  };
}

/** Scenarios 1-5: a fleet of EcrRegistries on one control plane, with one operator process. */
async function runFleetScenarios(settings: BenchSettings, shipped: Shipped | undefined, running: Running, report: Record<string, unknown>, floorMiB: number): Promise<void> {
  const timeoutMs = settings.timeoutSeconds * 1000;
  log('starting the control plane and the ECR emulator');
  const { controlPlane, emulator, kubeConfig } = await startStack(running);
  report.controlPlaneStartupMs = controlPlane.startupMs;

  // 2. The denominator first, while no operator watches, so nothing reacts to its objects.
  if (settings.scenarios.has('bare')) {
    log(`scenario 2: bare client writes ${settings.registries} Secrets + ${settings.registries} status patches, concurrency ${settings.workers}`);
    const bare = await bareWrites(kubeConfig, settings.registries, settings.workers, () => cpuMeter({ ...controlPlane.pids(), bench: process.pid }));
    report.bare = { seconds: round(bare.ms / 1000), writes: bare.writes, concurrency: settings.workers, cpuSeconds: bare.cpuSeconds };
    log(`bare writes took ${round(bare.ms / 1000)} s`);
  }

  log(`creating ${settings.registries} EcrRegistries in ${settings.namespaces} namespaces (untimed)`);
  const fleet = await createFleet(kubeConfig, emulator, {
    set: 'bench-c',
    registries: settings.registries,
    namespaces: settings.namespaces,
    perCredentials: settings.registriesPerCredentials,
  });

  // 1. Cold convergence: the operator starts with everything already there.
  const before = await requestCounts(kubeConfig);
  const ecrBefore = emulator.counters();
  const { operator, sampler } = await startOperator(settings, shipped, controlPlane, emulator, running, report);
  const convergenceCpu = cpuMeter({ ...controlPlane.pids(), operator: operator.pid, bench: process.pid });
  report.operatorLog = operator.logPath;
  log(`scenario 1: operator pid ${operator.pid} started; waiting for convergence`);
  const readyMs = await operator.waitUntilReady();
  let lastLog = 0;
  const converged = await waitForFleet(kubeConfig, fleet, {
    timeoutMs,
    assertAlive: () => operator.assertRunning(),
    onProgress: (p) => {
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        log(`  ${p.ready}/${p.total} Ready${Number.isNaN(p.secrets) ? '' : `, ${p.secrets} pull secrets`}`);
      }
    },
  });
  const convergenceMs = converged.convergedAtMs - operator.startedAtMs;
  const cpuSeconds = convergenceCpu();
  const after = await requestCounts(kubeConfig);
  const ecrAfter = emulator.counters();
  const requests = diffCounts(before, after);
  const gat = (ecrAfter.byAction.GetAuthorizationToken ?? 0) - (ecrBefore.byAction.GetAuthorizationToken ?? 0);
  // Settle: let the heap and RSS calm after the burst, then read the operator's own figures.
  await sleep(5000);
  const heap1 = heapFigures(await operator.metricsText());
  const memory1 = sampler.window(operator.startedAtMs, Date.now());
  report.convergence = {
    registries: settings.registries,
    namespaces: fleet.namespaces.length,
    credentialSets: fleet.credentialSets,
    operatorReadyzMs: readyMs,
    seconds: round(convergenceMs / 1000),
    secondsAfterReadyz: round((convergenceMs - readyMs) / 1000),
    cpuSeconds,
    getAuthorizationTokenCalls: gat,
    ecrCallsByAction: diffRecord(ecrBefore.byAction, ecrAfter.byAction),
    benchPolls: converged.polls,
    apiserverRequests: requests,
    note: 'apiserver reads include the bench following the registries (one LIST and WATCH) and one LIST of pull secrets at the end; writes are the operator alone',
    memory: {
      ...memory1,
      ...heap1,
      // Started and synced, before most reconciles: what loading the code costs.
      atReadyz: sampler.window(operator.startedAtMs, operator.startedAtMs + readyMs),
      trace: sampler.trace(operator.startedAtMs, Date.now()),
    },
  };
  if (report.bare) {
    const bare = report.bare as { seconds: number };
    (report.convergence as Record<string, unknown>).ratioToBare = round(convergenceMs / 1000 / bare.seconds);
    (report.convergence as Record<string, unknown>).ratioToBareAfterReadyz = round((convergenceMs - readyMs) / 1000 / bare.seconds);
  }
  log(`converged in ${round(convergenceMs / 1000)} s (readyz after ${readyMs} ms); GetAuthorizationToken ${gat} for ${fleet.credentialSets} credential sets`);

  // 3. Steady state: a quiet window with no bench requests but two /metrics reads.
  if (settings.scenarios.has('steady')) {
    log(`scenario 3: quiet for ${settings.quietSeconds} s`);
    report.steady = await measureQuiet(kubeConfig, emulator, operator, sampler, settings.quietSeconds);
  }

  // 5. Imports over the converged fleet.
  if (settings.scenarios.has('imports') && settings.imports > 0) {
    log(`scenario 5: ${settings.imports} ImageImports × ${settings.tagsPerImport} tags`);
    const importBefore = await requestCounts(kubeConfig);
    const ecrImportBefore = emulator.counters();
    const set = await createImports(kubeConfig, emulator, fleet, settings.imports, settings.tagsPerImport);
    const createdAtMs = Date.now();
    const done = await waitForImports(kubeConfig, settings.imports, { timeoutMs, assertAlive: () => operator.assertRunning() });
    const importAfter = await requestCounts(kubeConfig);
    const ecrImportAfter = emulator.counters();
    await sleep(5000);
    const heap = heapFigures(await operator.metricsText());
    const ecr = diffRecord(ecrImportBefore.byAction, ecrImportAfter.byAction);
    report.imports = {
      imports: set.count,
      tagsPerImport: set.tags.length,
      repositories: set.repositories,
      secondsAfterLastCreate: round((done.convergedAtMs - createdAtMs) / 1000),
      describeImagesCalls: ecr.DescribeImages ?? 0,
      describeImagesPerImport: round((ecr.DescribeImages ?? 0) / set.count),
      ecrCallsByAction: ecr,
      apiserverRequests: diffCounts(importBefore, importAfter),
      note: 'apiserver counts include the bench creating the ImageImports (create imageimports) and polling them',
      memory: { ...sampler.window(createdAtMs, Date.now()), ...heap },
    };
    log(`imports Ready ${round((done.convergedAtMs - createdAtMs) / 1000)} s after the last create; DescribeImages ${ecr.DescribeImages ?? 0}`);
  }

  // 4. Rotation wave: a new set whose tokens are all issued together with a short lifetime.
  if (settings.scenarios.has('rotation')) {
    const lifetime = settings.rotationLifetimeSeconds;
    log(`scenario 4: ${settings.rotationRegistries} registries with ${lifetime} s tokens`);
    emulator.tokenLifetimeSeconds = lifetime;
    const rotationFleet = await createFleet(kubeConfig, emulator, {
      set: 'bench-r',
      registries: settings.rotationRegistries,
      namespaces: Math.max(1, Math.round(settings.rotationRegistries / 20)),
      perCredentials: settings.registriesPerCredentials,
    });
    const rotationBefore = await requestCounts(kubeConfig);
    const ecrRotationBefore = emulator.counters();
    await waitForFleet(kubeConfig, rotationFleet, { timeoutMs: lifetime * 1000, assertAlive: () => operator.assertRunning() });
    const wave = await measureRotationWave(kubeConfig, emulator, rotationFleet, {
      lifetimeSeconds: lifetime,
      timeoutMs: lifetime * 2000,
      assertAlive: () => operator.assertRunning(),
    });
    const rotationAfter = await requestCounts(kubeConfig);
    report.rotation = {
      ...wave,
      credentialSets: rotationFleet.credentialSets,
      ecrCallsByAction: diffRecord(ecrRotationBefore.byAction, emulator.counters().byAction),
      apiserverRequests: diffCounts(rotationBefore, rotationAfter),
    };
    log(`rotation: ${wave.replaced}/${wave.secrets} replaced over ${round(wave.waveSeconds)} s; worst remaining ${round(wave.worstRemainingSeconds)} s; expired samples ${wave.expiredSamples}`);
    // Stop the short-lived set from churning: delete its registries (the operator removes their finalizers).
    emulator.tokenLifetimeSeconds = 43_200;
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    for (const namespace of rotationFleet.namespaces) await custom.deleteCollectionNamespacedCustomObject(registryPath(namespace));
  }

  report.memorySummary = {
    bareNodeFloorMiB: floorMiB,
    operatorPeakRssMiB: mib(Math.max(...sampler.samples.map((s) => s.rssBytes))),
    operatorHwmMiB: mib(sampler.samples[sampler.samples.length - 1]?.hwmBytes ?? Number.NaN),
  };
}

/**
 * Scenario 6 (issue 11): one ClusterEcrRegistry selecting N labelled namespaces, cold-started like
 * scenario 1, against the bare client writing the same N Secrets on the same control plane; then a
 * quiet window. RSS is set against scenario 1's (EcrRegistries) when that ran.
 */
async function runFanoutScenario(settings: BenchSettings, shipped: Shipped | undefined, running: Running, report: Record<string, unknown>): Promise<void> {
  const count = settings.fanoutNamespaces;
  log('scenario 6 (fanout): starting a control plane and an ECR emulator of its own');
  const { controlPlane, emulator, kubeConfig } = await startStack(running);
  log(`scenario 6: creating ${count} labelled namespaces and a credentials Secret (untimed)`);
  const fanout = await createFanout(kubeConfig, emulator, count);

  // The denominator, while no operator runs: the same Secrets into the same namespaces.
  const meter = () => cpuMeter({ ...controlPlane.pids(), bench: process.pid });
  log(`scenario 6: bare client writes ${count} Secrets, one per namespace, concurrency ${settings.workers}`);
  const bare = await bareFanoutWrites(kubeConfig, fanout.namespaces, settings.workers, meter);
  // Also at the reconciler's own fan-out (it writes a ClusterEcrRegistry's namespaces 16 at a time), to tell
  // the operator's overhead from the apiserver's throughput at that concurrency.
  log(`scenario 6: again at concurrency ${RECONCILER_WRITE_CONCURRENCY}`);
  const bareWide = await bareFanoutWrites(kubeConfig, fanout.namespaces, RECONCILER_WRITE_CONCURRENCY, meter);
  log(`bare fan-out writes took ${round(bare.ms / 1000)} s (${round(bareWide.ms / 1000)} s at concurrency ${RECONCILER_WRITE_CONCURRENCY})`);

  await createFanoutRegistry(kubeConfig, emulator, fanout);
  const before = await requestCounts(kubeConfig);
  const ecrBefore = emulator.counters();
  const { operator, sampler } = await startOperator(settings, shipped, controlPlane, emulator, running, report);
  const convergenceCpu = cpuMeter({ ...controlPlane.pids(), operator: operator.pid, bench: process.pid });
  log(`scenario 6: operator pid ${operator.pid} started; waiting for ${count} pull secrets`);
  const readyMs = await operator.waitUntilReady();
  let lastLog = 0;
  const converged = await waitForFanout(kubeConfig, fanout, {
    timeoutMs: settings.timeoutSeconds * 1000,
    assertAlive: () => operator.assertRunning(),
    onWaiting: (status) => {
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        const counts = status?.namespacesSelected === undefined ? 'no namespace counts in status yet' : `${status.namespacesReady}/${status.namespacesSelected} namespaces ready`;
        log(`  ${round((Date.now() - operator.startedAtMs) / 1000)} s: ${counts}`);
      }
    },
  });
  const convergenceMs = converged.convergedAtMs - operator.startedAtMs;
  const cpuSeconds = convergenceCpu();
  const requests = diffCounts(before, await requestCounts(kubeConfig));
  const ecr = diffRecord(ecrBefore.byAction, emulator.counters().byAction);
  await sleep(5000);
  const heap = heapFigures(await operator.metricsText());
  const memory = {
    ...sampler.window(operator.startedAtMs, Date.now()),
    ...heap,
    atReadyz: sampler.window(operator.startedAtMs, operator.startedAtMs + readyMs),
    trace: sampler.trace(operator.startedAtMs, Date.now()),
  };
  log(`fan-out converged in ${round(convergenceMs / 1000)} s (readyz after ${readyMs} ms); GetAuthorizationToken ${ecr.GetAuthorizationToken ?? 0}`);

  log(`scenario 6: quiet for ${settings.quietSeconds} s`);
  const steady = await measureQuiet(kubeConfig, emulator, operator, sampler, settings.quietSeconds);
  const peakRssMiB = mib(Math.max(...sampler.samples.map((s) => s.rssBytes)));
  const ecrRegistries = report.convergence as { registries: number; memory: { peakRssMiB?: number; lastRssMiB?: number } } | undefined;
  report.fanout = {
    namespaces: count,
    operatorLog: operator.logPath,
    clusterEcrRegistries: 1,
    bare: {
      seconds: round(bare.ms / 1000),
      writes: bare.writes,
      concurrency: settings.workers,
      cpuSeconds: bare.cpuSeconds,
      atReconcilerConcurrency: { seconds: round(bareWide.ms / 1000), concurrency: RECONCILER_WRITE_CONCURRENCY, cpuSeconds: bareWide.cpuSeconds },
    },
    convergence: {
      operatorReadyzMs: readyMs,
      seconds: round(convergenceMs / 1000),
      secondsAfterReadyz: round((convergenceMs - readyMs) / 1000),
      ratioToBare: round(convergenceMs / bare.ms),
      ratioToBareAfterReadyz: round((convergenceMs - readyMs) / bare.ms),
      ratioToBareAtReconcilerConcurrency: round(convergenceMs / bareWide.ms),
      cpuSeconds,
      getAuthorizationTokenCalls: ecr.GetAuthorizationToken ?? 0,
      ecrCallsByAction: ecr,
      pullSecrets: converged.pullSecrets,
      distinctPullSecretPayloads: converged.distinctPayloads,
      status: { namespacesSelected: converged.status?.namespacesSelected, namespacesReady: converged.status?.namespacesReady, namespacesFailed: converged.status?.namespacesFailed },
      benchPolls: converged.polls,
      apiserverRequests: requests,
      objectWritesPerNamespace: round(requests.objectWrites / count),
      note: 'apiserver reads include the bench following the ClusterEcrRegistry (one LIST and WATCH) and one LIST of its pull secrets at the end; writes are the operator alone',
      memory,
    },
    steady,
    memory: {
      convergencePeakRssMiB: memory.peakRssMiB,
      convergenceSettledRssMiB: memory.lastRssMiB,
      operatorPeakRssMiB: peakRssMiB,
      ...(ecrRegistries
        ? { ecrRegistries: ecrRegistries.registries, ecrRegistriesPeakRssMiB: ecrRegistries.memory.peakRssMiB, ecrRegistriesSettledRssMiB: ecrRegistries.memory.lastRssMiB }
        : {}),
      note: 'like for like: convergence peaks are from spawn to 5 s after convergence for both kinds; operatorPeakRssMiB adds the quiet window',
    },
  };
}

/** Stops the operator, the emulator and the control plane (not the image layout), so another stack can start. */
async function stopStack(running: Running): Promise<void> {
  running.sampler?.stop();
  await running.operator?.stop().catch((error: unknown) => log(`stopping the operator: ${String(error)}`));
  await running.emulator?.stop().catch((error: unknown) => log(`stopping the emulator: ${String(error)}`));
  await running.controlPlane?.stop().catch((error: unknown) => log(`stopping the control plane: ${String(error)}`));
  running.sampler = undefined;
  running.operator = undefined;
  running.emulator = undefined;
  running.controlPlane = undefined;
}

async function teardown(running: Running): Promise<void> {
  await stopStack(running);
  await running.layout?.remove().catch((error: unknown) => log(`removing the image layout: ${String(error)}`));
  running.layout = undefined;
}

function diffRecord(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`npm run bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
