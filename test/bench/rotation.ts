import { makeApiClient } from '../../src/kube/clients.ts';
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/api/group.ts';
import { Informer, type ListResult } from '../../src/runtime/informer.ts';
import type { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { type Fleet, HOST } from './fleet.ts';

export interface RotationResult {
  lifetimeSeconds: number;
  secrets: number;
  /** Seconds from the first to the last replacement of the wave. */
  waveSeconds: number;
  /** Seconds from the earliest token issue to the first replacement. */
  firstReplacementAfterIssueSeconds: number;
  /** Smallest remaining lifetime (s) of a token when its pull secret was replaced (seen by a watch). */
  worstRemainingSeconds: number;
  medianRemainingSeconds: number;
  /** Samples (every 500 ms, of the watched copies) in which a pull secret held a token already past its expiresAt. */
  expiredSamples: number;
  /** Pull secrets replaced at least once. */
  replaced: number;
  /** Every token change seen in the window, the wave and any second refresh: the denominator of the per-refresh figures. */
  refreshes: number;
  samples: number;
  /** Seconds from the window's start to its end (the second apiserver count). */
  windowSeconds: number;
  method: string;
}

function passwordOf(secret: V1Secret): string | undefined {
  const data = secret.data?.['.dockerconfigjson'];
  if (!data) return undefined;
  const config = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as { auths?: Record<string, { password?: string }> };
  return config.auths?.[HOST]?.password;
}

/** resourceVersions from etcd are increasing integers; a bench may compare them. */
function rv(secret: V1Secret): bigint {
  return BigInt(secret.metadata?.resourceVersion ?? '0');
}

/**
 * With `fleet` converged and every token issued with a short lifetime, follows its pull secrets with
 * one watch (an informer) until each has been replaced once, recording how much life the old token had
 * left and counting every token change. `markStart` and `markEnd` are called to read the caller's
 * counters around the window; only changes up to the resourceVersion current just after `markEnd` count.
 */
export async function measureRotationWave(
  kubeConfig: KubeConfig,
  emulator: EcrEmulator,
  fleet: Fleet,
  options: { lifetimeSeconds: number; timeoutMs: number; assertAlive?: () => void; markStart: () => Promise<void>; markEnd: () => Promise<void> },
): Promise<RotationResult> {
  const core = makeApiClient(kubeConfig, CoreV1Api);
  const labelSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
  const wanted = new Set(fleet.registries.map((r) => `${r.namespace}/${r.name}`));
  const informer = new Informer<V1Secret>({
    name: `bench-rotation-${fleet.set}`,
    kubeConfig,
    path: '/api/v1/secrets',
    labelSelector,
    list: (opts) => core.listSecretForAllNamespaces(opts) as Promise<ListResult<V1Secret>>,
  });
  const first = new Map<string, string>();
  const current = new Map<string, string>();
  const remaining: number[] = [];
  const replacedAt: number[] = [];
  const changes: bigint[] = [];
  let earliestIssueMs = Number.POSITIVE_INFINITY;
  let expiredSamples = 0;
  let samples = 0;
  informer.on(({ type, object }) => {
    const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
    if (type === 'DELETED' || !wanted.has(key)) return;
    const password = passwordOf(object);
    if (!password) return;
    const before = current.get(key);
    current.set(key, password);
    if (before === undefined) {
      first.set(key, password);
      const info = emulator.tokenInfo(password);
      if (info) earliestIssueMs = Math.min(earliestIssueMs, info.issuedAt.getTime());
      return;
    }
    if (before === password) return;
    changes.push(rv(object));
    if (replacedAt.length < wanted.size && first.get(key) === before) {
      // The first change of each secret is the wave; later changes belong to the next one.
      const now = emulator.clock.now();
      const old = emulator.tokenInfo(before);
      remaining.push(old ? (old.expiresAt.getTime() - now) / 1000 : Number.NaN);
      replacedAt.push(now);
    }
  });
  await options.markStart();
  const startedMs = Date.now();
  informer.start();
  let endRv: bigint;
  let endedMs = Number.NaN;
  try {
    await informer.waitForSync();
    const deadline = Date.now() + options.timeoutMs;
    for (;;) {
      options.assertAlive?.();
      const now = emulator.clock.now();
      samples += 1;
      for (const password of current.values()) {
        const info = emulator.tokenInfo(password);
        if (info && info.expiresAt.getTime() <= now) expiredSamples += 1;
      }
      if (replacedAt.length >= wanted.size || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await options.markEnd();
    endedMs = Date.now();
    const list = await core.listSecretForAllNamespaces({ labelSelector, limit: 1 });
    endRv = BigInt(list.metadata?.resourceVersion ?? '0');
    // Let the watch deliver what was written before the end mark.
    await new Promise((resolve) => setTimeout(resolve, 1500));
  } finally {
    informer.stop();
  }
  const r = (n: number) => Math.round(n * 100) / 100;
  const sorted = [...remaining].filter((r) => !Number.isNaN(r)).sort((a, b) => a - b);
  return {
    lifetimeSeconds: options.lifetimeSeconds,
    secrets: wanted.size,
    waveSeconds: r(replacedAt.length ? (Math.max(...replacedAt) - Math.min(...replacedAt)) / 1000 : Number.NaN),
    firstReplacementAfterIssueSeconds: r(replacedAt.length ? (Math.min(...replacedAt) - earliestIssueMs) / 1000 : Number.NaN),
    worstRemainingSeconds: r(sorted[0] ?? Number.NaN),
    medianRemainingSeconds: r(sorted[Math.floor(sorted.length / 2)] ?? Number.NaN),
    expiredSamples,
    replaced: replacedAt.length,
    refreshes: changes.filter((c) => c <= endRv).length,
    samples,
    windowSeconds: Math.round((endedMs - startedMs) / 100) / 10,
    method: 'one watch (informer) on managed Secrets; a refresh is a change of the token a pull secret holds; the window runs from the first apiserver count to the second',
  };
}
