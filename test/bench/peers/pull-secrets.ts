/**
 * Judging pull secrets by what a kubelet would get: for either side (the operator or a peer), a pull
 * secret counts once its `.dockerconfigjson` holds, for the fleet's registry host, a password the ECR
 * emulator issued and has not yet expired (the registry would accept it).
 */
import { makeApiClient } from '../../../src/kube/clients.ts';
import { CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { Informer, type ListResult } from '../../../src/runtime/informer.ts';
import type { EcrEmulator } from '../../support/ecr-emulator/index.ts';
import { type Fleet, HOST } from '../fleet.ts';

export type TokenVerdict = 'valid' | 'expired' | 'unknown' | 'missing';

/** What the registry would say of a pull secret's token now. */
export function judgePullSecret(secret: V1Secret | undefined, emulator: EcrEmulator): TokenVerdict {
  const encoded = secret?.data?.['.dockerconfigjson'];
  if (!encoded || secret?.type !== 'kubernetes.io/dockerconfigjson') return 'missing';
  let entry: { username?: string; password?: string; auth?: string } | undefined;
  try {
    entry = (JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as { auths?: Record<string, typeof entry> }).auths?.[HOST];
  } catch {
    return 'missing';
  }
  if (!entry?.password) return 'missing';
  if (entry.auth !== undefined && entry.auth !== Buffer.from(`${entry.username}:${entry.password}`).toString('base64')) return 'missing';
  const info = emulator.tokenInfo(entry.password);
  if (!info) return 'unknown';
  return info.expired ? 'expired' : 'valid';
}

const keyOf = (s: V1Secret) => `${s.metadata?.namespace}/${s.metadata?.name}`;

/**
 * Waits until every pull secret of `fleet` (its registries' names) exists with a valid token, following
 * Secrets matching `labelSelector` with one LIST and WATCH. Convergence is dated to the event that made
 * the last one valid.
 */
export async function waitForPullSecrets(
  kubeConfig: KubeConfig,
  emulator: EcrEmulator,
  fleet: Fleet,
  options: { labelSelector: string; timeoutMs: number; assertAlive?: () => void; onProgress?: (valid: number, total: number) => void },
): Promise<{ convergedAtMs: number }> {
  const core = makeApiClient(kubeConfig, CoreV1Api);
  const wanted = new Set(fleet.registries.map((r) => `${r.namespace}/${r.name}`));
  const valid = new Set<string>();
  let convergedAtMs: number | undefined;
  const informer = new Informer<V1Secret>({
    name: `bench-peers-${fleet.set}`,
    kubeConfig,
    path: '/api/v1/secrets',
    labelSelector: options.labelSelector,
    list: (opts) => core.listSecretForAllNamespaces(opts) as Promise<ListResult<V1Secret>>,
  });
  informer.on(({ type, object }) => {
    const key = keyOf(object);
    if (!wanted.has(key)) return;
    if (type !== 'DELETED' && judgePullSecret(object, emulator) === 'valid') valid.add(key);
    else valid.delete(key);
    if (valid.size === wanted.size) convergedAtMs ??= Date.now();
  });
  const deadline = Date.now() + options.timeoutMs;
  let lastProgress = 0;
  informer.start();
  try {
    for (;;) {
      options.assertAlive?.();
      if (convergedAtMs !== undefined) return { convergedAtMs };
      if (Date.now() - lastProgress > 5000) {
        lastProgress = Date.now();
        options.onProgress?.(valid.size, wanted.size);
      }
      if (Date.now() > deadline) throw new Error(`set ${fleet.set}: only ${valid.size}/${wanted.size} pull secrets valid after ${options.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    informer.stop();
  }
}

export interface ExpiryResult {
  secrets: number;
  sampleSeconds: number;
  samples: number;
  /** Pull secrets that, in at least one sample, held a token the registry would refuse (expired, or never issued). */
  secretsServedExpired: number;
  /** Samples × secrets in which a token was refused: about (seconds refused × secrets) / intervalSeconds. */
  refusedSecretSamples: number;
  /** Samples × secrets in which a pull secret was missing. */
  missingSecretSamples: number;
  /** The longest run of consecutive refused samples of any one secret, in seconds (at the sample interval). */
  longestRefusedSeconds: number;
}

/** Samples the fleet's pull secrets by LIST every `intervalMs` for `seconds`, judging each token. */
export async function sampleExpiry(
  kubeConfig: KubeConfig,
  emulator: EcrEmulator,
  fleet: Fleet,
  options: { labelSelector: string; seconds: number; intervalMs?: number; assertAlive?: () => void },
): Promise<ExpiryResult> {
  const core = makeApiClient(kubeConfig, CoreV1Api);
  const intervalMs = options.intervalMs ?? 2000;
  const wanted = fleet.registries.map((r) => `${r.namespace}/${r.name}`);
  const served = new Set<string>();
  const run = new Map<string, number>();
  let longest = 0;
  let refused = 0;
  let missing = 0;
  let samples = 0;
  const endAt = Date.now() + options.seconds * 1000;
  while (Date.now() < endAt) {
    const tickAt = Date.now();
    options.assertAlive?.();
    // One LIST per namespace of the fleet, so the other fleets' Secrets are not read every time.
    const lists = await Promise.all(fleet.namespaces.map((namespace) => core.listNamespacedSecret({ namespace, labelSelector: options.labelSelector })));
    const byKey = new Map(lists.flatMap((list) => list.items).map((s) => [keyOf(s), s]));
    samples += 1;
    for (const key of wanted) {
      const verdict = judgePullSecret(byKey.get(key), emulator);
      if (verdict === 'missing') missing += 1;
      if (verdict === 'expired' || verdict === 'unknown') {
        refused += 1;
        served.add(key);
        const length = (run.get(key) ?? 0) + 1;
        run.set(key, length);
        longest = Math.max(longest, length);
      } else run.set(key, 0);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (Date.now() - tickAt))));
  }
  return {
    secrets: wanted.length,
    sampleSeconds: options.seconds,
    samples,
    secretsServedExpired: served.size,
    refusedSecretSamples: refused,
    missingSecretSamples: missing,
    longestRefusedSeconds: (longest * intervalMs) / 1000,
  };
}
