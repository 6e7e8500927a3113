/**
 * Side by side with External Secrets Operator (BENCH_PEERS=eso, off by default): the same workload
 * (settings.registries pull secrets over settings.namespaces namespaces, settings.registriesPerCredentials
 * per credential set) on a fresh control plane and ECR emulator for each side, one after the other.
 * ESO runs with its Helm defaults; the operator as `npm run bench` runs it (shipped, --workers=settings.workers).
 *
 * Per side: convergence (process start → every pull secret holds a token the registry accepts),
 * GetAuthorizationToken calls, apiserver reads and writes during convergence, a quiet window, peak and
 * settled RSS, CPU seconds; then an expiry check: a small fleet whose tokens live shorter than ESO's
 * refreshInterval, sampled for a few minutes, counting pull secrets that held a refused token.
 */
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../../src/api/group.ts';
import { freePort } from '../../support/controlplane/ports.ts';
import type { EcrEmulator } from '../../support/ecr-emulator/index.ts';
import { diffCounts, type RequestDelta, requestCounts } from '../apiserver-metrics.ts';
import { cpuMeter } from '../cpu.ts';
import { createFleet, type Fleet, REGION, SET_LABEL } from '../fleet.ts';
import { MemorySampler } from '../memory.ts';
import type { BenchSettings } from '../settings.ts';
import { diffRecord, log, type Running, round, type Shipped, startOperator, startStack, stopStack } from '../stack.ts';
import { startEcrTlsProxy } from './ecr-tls-proxy.ts';
import { buildEso, createEsoFleet, EsoProcess, installEsoCrds } from './eso.ts';
import { type PeerFigures, type PeerSettings, peerTable, readPeerSettings } from './eso-manifests.ts';
import { type ExpiryResult, sampleExpiry, waitForPullSecrets } from './pull-secrets.ts';

/** Seconds after convergence before the settled figures are read (as scenario 1 does). */
const SETTLE_SECONDS = 5;

interface SideReport {
  name: string;
  version: string;
  command: string;
  env?: Record<string, string>;
  log: string;
  convergence: {
    pullSecrets: number;
    namespaces: number;
    credentialSets: number;
    seconds: number;
    getAuthorizationTokenCalls: number;
    ecrCallsByAction: Record<string, number>;
    apiserverReads: number;
    apiserverWrites: number;
    apiserverRequests: RequestDelta;
    cpuSeconds: Record<string, number>;
    memory: ReturnType<MemorySampler['window']>;
  };
  quiet: { seconds: number; reads: number; writes: number; apiserverRequests: RequestDelta; ecrCalls: Record<string, number>; memory: ReturnType<MemorySampler['window']> };
  memory: { peakRssMiB: number; settledRssMiB: number };
  expiry: ExpiryResult & { tokenLifetimeSeconds: number; refreshIntervalSeconds?: number; ecrCallsByAction: Record<string, number> };
}

/** The hook test/bench/run.ts calls when BENCH_PEERS names eso. Writes `report.peers`. */
export async function runPeerComparison(settings: BenchSettings, shipped: Shipped | undefined, running: Running, report: Record<string, unknown>): Promise<void> {
  const peers = readPeerSettings(process.env);
  await stopStack(running);
  log(`peers: building External Secrets Operator${peers.esoSourceDir ? ` from ${peers.esoSourceDir}` : ''} (cached after the first run)`);
  const build = await buildEso(peers.esoSourceDir);
  log(`peers: ESO ${build.version} ready in ${round(build.buildMs / 1000)} s: ${build.binary}`);
  const peerReport: Record<string, unknown> = {
    settings: { ...peers, registries: settings.registries, namespaces: settings.namespaces, registriesPerCredentials: settings.registriesPerCredentials, quietSeconds: settings.quietSeconds },
    esoBuild: { version: build.version, binary: build.binary, seconds: round(build.buildMs / 1000) },
  };
  report.peers = peerReport;

  const eso = await runEsoSide(settings, peers, build, running);
  peerReport.eso = eso;
  await stopStack(running);
  const operator = await runOperatorSide(settings, peers, shipped, running, report);
  peerReport.operator = operator;
  await stopStack(running);

  const figures = [figuresOf(`ESO ${build.version.replace(/ \(.*\)$/, '')} (--concurrent=${peers.esoConcurrent})`, eso), figuresOf(`operator (--workers=${settings.workers})`, operator)];
  peerReport.table = peerTable(figures);
  peerReport.note =
    'each side on a fresh control plane and ECR emulator, one after the other; apiserver reads include the bench following the pull secrets (one LIST and WATCH of Secrets); ' +
    'ESO v0.16.2 reaches the emulator through HTTPS_PROXY (a loopback CONNECT proxy that terminates TLS for api.ecr.<region>.amazonaws.com with a self-signed certificate given as SSL_CERT_FILE): its aws-sdk-go v1 session has no ECR endpoint setting';
  log(`peers:\n${peerReport.table}`);
}

function figuresOf(name: string, side: SideReport): PeerFigures {
  return {
    name,
    convergenceSeconds: side.convergence.seconds,
    getAuthorizationTokenCalls: side.convergence.getAuthorizationTokenCalls,
    apiserverReads: side.convergence.apiserverReads,
    apiserverWrites: side.convergence.apiserverWrites,
    quietReads: side.quiet.reads,
    quietWrites: side.quiet.writes,
    quietSeconds: side.quiet.seconds,
    peakRssMiB: side.memory.peakRssMiB,
    settledRssMiB: side.memory.settledRssMiB,
    cpuSeconds: Object.entries(side.convergence.cpuSeconds).find(([k]) => k === 'process')?.[1] ?? Number.NaN,
    expiry: {
      secrets: side.expiry.secrets,
      secretsServedExpired: side.expiry.secretsServedExpired,
      lifetimeSeconds: side.expiry.tokenLifetimeSeconds,
      ...(side.expiry.refreshIntervalSeconds ? { refreshSeconds: side.expiry.refreshIntervalSeconds } : {}),
    },
  };
}

/** A GET, LIST or WATCH. */
function reads(delta: RequestDelta): number {
  return (delta.byVerb.GET ?? 0) + (delta.byVerb.LIST ?? 0) + (delta.byVerb.WATCH ?? 0);
}

/** Writes other than the apiserver's own (its Lease and the kubernetes endpoints): the controller's, Events included. */
function controllerWrites(delta: RequestDelta): number {
  return delta.writes - delta.apiserverOwnWrites;
}

async function runEsoSide(settings: BenchSettings, peers: PeerSettings, build: Awaited<ReturnType<typeof buildEso>>, running: Running): Promise<SideReport> {
  log('peers: ESO side: starting a control plane and an ECR emulator');
  const { controlPlane, emulator, kubeConfig } = await startStack(running);
  const crds = await installEsoCrds(controlPlane, build.crdBundle);
  log(`peers: installed ESO's ${crds.length} CRDs; creating ${settings.registries} ExternalSecrets in ${settings.namespaces} namespaces (untimed)`);
  const proxy = await startEcrTlsProxy({ emulatorPort: emulator.port, regions: [REGION] });
  let eso: EsoProcess | undefined;
  try {
    const fleet = await createEsoFleet(kubeConfig, emulator, {
      set: 'peer-eso',
      registries: settings.registries,
      namespaces: settings.namespaces,
      perCredentials: settings.registriesPerCredentials,
      refreshInterval: peers.refreshInterval,
    });
    const before = await requestCounts(kubeConfig);
    const ecrBefore = emulator.counters();
    eso = await EsoProcess.start({
      binary: build.binary,
      kubeconfigPath: controlPlane.kubeconfigPath,
      metricsPort: await freePort(),
      concurrent: peers.esoConcurrent,
      proxyUrl: proxy.url,
      caPath: proxy.caPath,
      ecrEndpoint: emulator.url,
      logPath: path.join(os.tmpdir(), `bench-eso-${Date.now()}.log`),
    });
    const esoProcess = eso;
    const sampler = new MemorySampler(esoProcess.pid);
    running.sampler = sampler;
    const cpu = cpuMeter({ ...controlPlane.pids(), process: esoProcess.pid, bench: process.pid });
    log(`peers: ESO pid ${esoProcess.pid} started (${esoProcess.commandLine()}); waiting for ${fleet.registries.length} valid pull secrets`);
    const converged = await waitForPullSecrets(kubeConfig, emulator, fleet, {
      labelSelector: `${SET_LABEL}=${fleet.set}`,
      timeoutMs: settings.timeoutSeconds * 1000,
      assertAlive: () => esoProcess.assertRunning(),
      onProgress: (valid, total) => log(`  ESO: ${valid}/${total} pull secrets valid`),
    });
    const side = await measureSide(
      { name: 'External Secrets Operator', version: build.version, command: esoProcess.commandLine(), env: redactEnv(esoProcess.env), log: esoProcess.logPath },
      { kubeConfig, emulator, fleet, sampler, startedAtMs: esoProcess.startedAtMs, convergedAtMs: converged.convergedAtMs, before, ecrBefore, cpu, assertAlive: () => esoProcess.assertRunning() },
      settings,
    );
    side.expiry = await expiryCheck(kubeConfig, emulator, peers, settings, () => esoProcess.assertRunning(), (set) =>
      createEsoFleet(kubeConfig, emulator, { set, registries: peers.expirySecrets, namespaces: expiryNamespaces(peers), perCredentials: settings.registriesPerCredentials, refreshInterval: `${peers.expiryRefreshSeconds}s` }),
      (fleet) => `${SET_LABEL}=${fleet.set}`,
    );
    side.expiry.refreshIntervalSeconds = peers.expiryRefreshSeconds;
    log(`peers: ESO proxied ${proxy.tunnels()} TLS connections to the emulator`);
    return side;
  } finally {
    await eso?.stop();
    await proxy.stop();
  }
}

async function runOperatorSide(settings: BenchSettings, peers: PeerSettings, shipped: Shipped | undefined, running: Running, report: Record<string, unknown>): Promise<SideReport> {
  log('peers: operator side: starting a control plane and an ECR emulator');
  const { controlPlane, emulator, kubeConfig } = await startStack(running);
  log(`peers: creating ${settings.registries} EcrRegistries in ${settings.namespaces} namespaces (untimed)`);
  const fleet = await createFleet(kubeConfig, emulator, { set: 'peer-op', registries: settings.registries, namespaces: settings.namespaces, perCredentials: settings.registriesPerCredentials });
  const before = await requestCounts(kubeConfig);
  const ecrBefore = emulator.counters();
  // startOperator records the command line in report.operatorCommand only when no scenario did before.
  const { operator, sampler } = await startOperator(settings, shipped, controlPlane, emulator, running, report);
  const cpu = cpuMeter({ ...controlPlane.pids(), process: operator.pid, bench: process.pid });
  log(`peers: operator pid ${operator.pid} started; waiting for ${fleet.registries.length} valid pull secrets`);
  const converged = await waitForPullSecrets(kubeConfig, emulator, fleet, {
    labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
    timeoutMs: settings.timeoutSeconds * 1000,
    assertAlive: () => operator.assertRunning(),
    onProgress: (valid, total) => log(`  operator: ${valid}/${total} pull secrets valid`),
  });
  const side = await measureSide(
    { name: 'ecr-pullsecrets-operator', version: 'this tree', command: operator.commandLine(), log: operator.logPath },
    { kubeConfig, emulator, fleet, sampler, startedAtMs: operator.startedAtMs, convergedAtMs: converged.convergedAtMs, before, ecrBefore, cpu, assertAlive: () => operator.assertRunning() },
    settings,
  );
  side.expiry = await expiryCheck(kubeConfig, emulator, peers, settings, () => operator.assertRunning(), (set) =>
    createFleet(kubeConfig, emulator, { set, registries: peers.expirySecrets, namespaces: expiryNamespaces(peers), perCredentials: settings.registriesPerCredentials }),
    () => `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
  );
  return side;
}

function expiryNamespaces(peers: PeerSettings): number {
  return Math.max(1, Math.round(peers.expirySecrets / 20));
}

/** Only the variables a reader needs to rerun ESO the same way (paths and ports vary per run). */
function redactEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['HTTPS_PROXY', 'SSL_CERT_FILE', 'AWS_ECR_ENDPOINT', 'AWS_EC2_METADATA_DISABLED']) if (env[name] !== undefined) out[name] = env[name]!;
  return out;
}

interface Measuring {
  kubeConfig: KubeConfig;
  emulator: EcrEmulator;
  fleet: Fleet;
  sampler: MemorySampler;
  startedAtMs: number;
  convergedAtMs: number;
  before: Awaited<ReturnType<typeof requestCounts>>;
  ecrBefore: ReturnType<EcrEmulator['counters']>;
  cpu: () => Record<string, number>;
  assertAlive: () => void;
}

/** The convergence figures, a settle, and the quiet window: the same for both sides. */
async function measureSide(identity: Pick<SideReport, 'name' | 'version' | 'command' | 'log'> & { env?: Record<string, string> }, m: Measuring, settings: BenchSettings): Promise<SideReport> {
  const cpuSeconds = m.cpu();
  const after = await requestCounts(m.kubeConfig);
  const ecrAfter = m.emulator.counters();
  const requests = diffCounts(m.before, after);
  const ecr = diffRecord(m.ecrBefore.byAction, ecrAfter.byAction);
  const seconds = round((m.convergedAtMs - m.startedAtMs) / 1000);
  log(`peers: ${identity.name} converged in ${seconds} s; GetAuthorizationToken ${ecr.GetAuthorizationToken ?? 0} for ${m.fleet.credentialSets} credential sets`);
  await sleep(SETTLE_SECONDS * 1000);
  const convergenceMemory = m.sampler.window(m.startedAtMs, Date.now());

  log(`peers: ${identity.name}: quiet for ${settings.quietSeconds} s`);
  const quietBefore = await requestCounts(m.kubeConfig);
  const ecrQuietBefore = m.emulator.counters();
  const quietFromMs = Date.now();
  await sleep(settings.quietSeconds * 1000);
  m.assertAlive();
  const quietRequests = diffCounts(quietBefore, await requestCounts(m.kubeConfig));
  const quietMemory = m.sampler.window(quietFromMs, Date.now());
  const all = m.sampler.window(m.startedAtMs, Date.now());
  return {
    ...identity,
    convergence: {
      pullSecrets: m.fleet.registries.length,
      namespaces: m.fleet.namespaces.length,
      credentialSets: m.fleet.credentialSets,
      seconds,
      getAuthorizationTokenCalls: ecr.GetAuthorizationToken ?? 0,
      ecrCallsByAction: ecr,
      apiserverReads: reads(requests),
      apiserverWrites: controllerWrites(requests),
      apiserverRequests: requests,
      cpuSeconds,
      memory: convergenceMemory,
    },
    quiet: {
      seconds: settings.quietSeconds,
      reads: reads(quietRequests),
      writes: controllerWrites(quietRequests),
      apiserverRequests: quietRequests,
      ecrCalls: diffRecord(ecrQuietBefore.byAction, m.emulator.counters().byAction),
      memory: quietMemory,
    },
    memory: { peakRssMiB: all?.peakRssMiB ?? Number.NaN, settledRssMiB: quietMemory?.lastRssMiB ?? Number.NaN },
    // Filled in by the expiry check.
    expiry: undefined as unknown as SideReport['expiry'],
  };
}

/**
 * Tokens that live shorter than ESO's refreshInterval: a small fleet created with the emulator's token
 * lifetime lowered, waited for, then sampled for peers.expirySampleSeconds (longer than one lifetime).
 */
async function expiryCheck(
  kubeConfig: KubeConfig,
  emulator: EcrEmulator,
  peers: PeerSettings,
  settings: BenchSettings,
  assertAlive: () => void,
  create: (set: string) => Promise<Fleet>,
  selector: (fleet: Fleet) => string,
): Promise<SideReport['expiry']> {
  const lifetime = peers.expiryTokenLifetimeSeconds;
  log(`peers: expiry check: ${peers.expirySecrets} pull secrets, tokens living ${lifetime} s, sampled for ${peers.expirySampleSeconds} s`);
  emulator.tokenLifetimeSeconds = lifetime;
  const ecrBefore = emulator.counters();
  const fleet = await create('peer-x');
  const labelSelector = selector(fleet);
  await waitForPullSecrets(kubeConfig, emulator, fleet, { labelSelector, timeoutMs: settings.timeoutSeconds * 1000, assertAlive });
  const result = await sampleExpiry(kubeConfig, emulator, fleet, { labelSelector, seconds: peers.expirySampleSeconds, assertAlive });
  log(`peers: expiry check: ${result.secretsServedExpired}/${result.secrets} pull secrets held a refused token (longest ${result.longestRefusedSeconds} s)`);
  return { ...result, tokenLifetimeSeconds: lifetime, ecrCallsByAction: diffRecord(ecrBefore.byAction, emulator.counters().byAction) };
}
