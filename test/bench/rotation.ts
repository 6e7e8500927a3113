import type { KubeConfig } from '@kubernetes/client-node';
import type { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { type Fleet, fleetProgress, HOST } from './fleet.ts';

export interface RotationResult {
  lifetimeSeconds: number;
  secrets: number;
  /** Seconds from the first to the last replacement of the wave. */
  waveSeconds: number;
  /** Seconds from the earliest token issue to the first replacement. */
  firstReplacementAfterIssueSeconds: number;
  /** Smallest remaining lifetime (s) of a token at the sample that first saw it replaced (a lower bound is the sample interval). */
  worstRemainingSeconds: number;
  medianRemainingSeconds: number;
  /** Samples in which a pull secret held a token already past its expiresAt. */
  expiredSamples: number;
  replaced: number;
  samples: number;
}

function passwordOf(data: string | undefined): string | undefined {
  if (!data) return undefined;
  const config = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { auths?: Record<string, { password?: string }> };
  return config.auths?.[HOST]?.password;
}

/**
 * With every token of `fleet` issued together (short lifetime), samples the pull secrets by LIST every
 * 500 ms until each has been replaced once, recording how much life the old token had left.
 */
export async function measureRotationWave(
  kubeConfig: KubeConfig,
  emulator: EcrEmulator,
  fleet: Fleet,
  options: { lifetimeSeconds: number; timeoutMs: number; assertAlive?: () => void },
): Promise<RotationResult> {
  const first = new Map<string, string>();
  const done = new Set<string>();
  const remaining: number[] = [];
  const replacedAt: number[] = [];
  let earliestIssueMs = Number.POSITIVE_INFINITY;
  let expiredSamples = 0;
  let samples = 0;
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    options.assertAlive?.();
    const { secretList } = await fleetProgress(kubeConfig, fleet);
    const now = emulator.clock.now();
    samples += 1;
    for (const secret of secretList) {
      const key = `${secret.metadata?.namespace}/${secret.metadata?.name}`;
      const password = passwordOf(secret.data?.['.dockerconfigjson']);
      if (!password) continue;
      const info = emulator.tokenInfo(password);
      if (info && info.expiresAt.getTime() <= now) expiredSamples += 1;
      const original = first.get(key);
      if (original === undefined) {
        first.set(key, password);
        if (info) earliestIssueMs = Math.min(earliestIssueMs, info.issuedAt.getTime());
        continue;
      }
      if (original === password || done.has(key)) continue;
      // The first change of each secret is the wave; later changes belong to the next one.
      done.add(key);
      const old = emulator.tokenInfo(original);
      remaining.push(old ? (old.expiresAt.getTime() - now) / 1000 : Number.NaN);
      replacedAt.push(now);
    }
    if (replacedAt.length >= fleet.registries.length) break;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const sorted = [...remaining].filter((r) => !Number.isNaN(r)).sort((a, b) => a - b);
  return {
    lifetimeSeconds: options.lifetimeSeconds,
    secrets: fleet.registries.length,
    waveSeconds: replacedAt.length ? (Math.max(...replacedAt) - Math.min(...replacedAt)) / 1000 : Number.NaN,
    firstReplacementAfterIssueSeconds: replacedAt.length ? (Math.min(...replacedAt) - earliestIssueMs) / 1000 : Number.NaN,
    worstRemainingSeconds: sorted[0] ?? Number.NaN,
    medianRemainingSeconds: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
    expiredSamples,
    replaced: replacedAt.length,
    samples,
  };
}
