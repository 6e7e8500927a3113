/** The bench's stack: a control plane, an ECR emulator and the operator process, started and stopped together. */
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ControlPlane, startControlPlane } from '../support/controlplane/index.ts';
import { freePort } from '../support/controlplane/ports.ts';
import type { ImageLayout } from '../support/dockerfile.ts';
import { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { OperatorProcess } from '../support/operator-process.ts';
import { diffCounts, endedWatches, type OpenWatches, scrapeApiserver } from './apiserver-metrics.ts';
import { heapFigures, MemorySampler } from './memory.ts';
import type { BenchSettings } from './settings.ts';
import { watchChurn } from './watches.ts';

export const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

export interface Running {
  controlPlane?: ControlPlane;
  emulator?: EcrEmulator;
  operator?: OperatorProcess;
  sampler?: MemorySampler;
  layout?: ImageLayout;
}

/** The operator as shipped: the Dockerfile's bundle and ENTRYPOINT, with the image's and the Deployment's env. */
export interface Shipped {
  entry: string[];
  cwd: string;
  env: Record<string, string>;
}

/** A fresh control plane and ECR emulator, recorded in `running` so teardown stops them. */
export async function startStack(running: Running): Promise<{ controlPlane: ControlPlane; emulator: EcrEmulator; kubeConfig: KubeConfig }> {
  const controlPlane = await startControlPlane();
  running.controlPlane = controlPlane;
  const emulator = await EcrEmulator.start();
  running.emulator = emulator;
  return { controlPlane, emulator, kubeConfig: controlPlane.kubeConfig() };
}

/** The operator process as shipped (or from source), with a memory sampler, recorded in `running`. */
export async function startOperator(settings: BenchSettings, shipped: Shipped | undefined, controlPlane: ControlPlane, emulator: EcrEmulator, running: Running, report: Record<string, unknown>): Promise<{ operator: OperatorProcess; sampler: MemorySampler }> {
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

/**
 * A quiet window with no bench requests but two /metrics reads (and no bench watch open): what the
 * operator writes and calls when nothing changes, and how often its watches end and reopen.
 * `apiserverOwnOpen` is the open-watch gauge read before the operator started, the apiserver's own.
 */
export async function measureQuiet(kubeConfig: KubeConfig, emulator: EcrEmulator, operator: OperatorProcess, sampler: MemorySampler, seconds: number, apiserverOwnOpen: OpenWatches) {
  // A watch the bench just stopped may take a moment to end on the server; let it, before the window opens.
  await sleep(2000);
  const quietBefore = await scrapeApiserver(kubeConfig);
  const ecrQuietBefore = emulator.counters();
  const fromMs = Date.now();
  await sleep(seconds * 1000);
  operator.assertRunning();
  const quietAfter = await scrapeApiserver(kubeConfig);
  const ecrQuietAfter = emulator.counters();
  const heap = heapFigures(await operator.metricsText());
  const apiserverRequests = diffCounts(quietBefore.counts, quietAfter.counts);
  return {
    seconds,
    apiserverRequests,
    watches: {
      ...watchChurn(apiserverOwnOpen, quietBefore.openWatches, quietAfter.openWatches, endedWatches(apiserverRequests), seconds),
      // Watches opened at start with a server-side timeout of T seconds cannot end before T: a window that closes sooner sees only early ends.
      windowEndSecondsAfterOperatorStart: Math.round((Date.now() - operator.startedAtMs) / 1000),
    },
    ecrCalls: diffRecord(ecrQuietBefore.byAction, ecrQuietAfter.byAction),
    memory: { ...sampler.window(fromMs, Date.now()), ...heap },
    note: 'apiserverOwnWrites are kube-apiserver renewing its identity Lease and the kubernetes Service endpoints (the operator runs with --leader-elect=false); the bench holds no watch in the window, so open and ended watches beyond the apiserver\'s own are the operator\'s',
  };
}

/** Stops the operator process and its memory sampler, leaving the control plane and emulator running. */
export async function stopOperator(running: Running): Promise<void> {
  running.sampler?.stop();
  await running.operator?.stop().catch((error: unknown) => log(`stopping the operator: ${String(error)}`));
  running.sampler = undefined;
  running.operator = undefined;
}

/** Stops the operator, the emulator and the control plane (not the image layout), so another stack can start. */
export async function stopStack(running: Running): Promise<void> {
  await stopOperator(running);
  await running.emulator?.stop().catch((error: unknown) => log(`stopping the emulator: ${String(error)}`));
  await running.controlPlane?.stop().catch((error: unknown) => log(`stopping the control plane: ${String(error)}`));
  running.emulator = undefined;
  running.controlPlane = undefined;
}

export async function teardown(running: Running): Promise<void> {
  await stopStack(running);
  await running.layout?.remove().catch((error: unknown) => log(`removing the image layout: ${String(error)}`));
  running.layout = undefined;
}

export function diffRecord(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (delta !== 0) out[key] = delta;
  }
  return out;
}

export function round(n: number): number {
  return Math.round(n * 100) / 100;
}

