import { makeApiClient } from '../../src/kube/clients.ts';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Secret, Watch } from '@kubernetes/client-node';
import { ECR_REGISTRY, GROUP_VERSION, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/api/group.ts';
import type { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { benchRegistrySpec, type Fleet, registryPath, SET_LABEL } from './fleet.ts';
import { type LatencyFigures, latencyFigures } from './percentiles.ts';

export const LATENCY_SET = 'bench-l';
const PER_REGISTRY_TIMEOUT_MS = 30_000;

export interface LatencyResult extends LatencyFigures {
  /** Per registry, ms from just before its create request to the watch event of its pull secret. */
  samplesMs: number[];
  /** Registries whose pull secret did not appear within 30 s (left out of the percentiles). */
  timedOut: number;
  /** The create request alone (its response), median ms. */
  createRequestP50Ms: number;
  method: string;
}

/**
 * Pull secrets as they appear, followed with one watch on every managed Secret from a resourceVersion
 * taken just before (so nothing is missed and nothing old is replayed); reopened from the last seen
 * resourceVersion if the stream ends early.
 */
class PullSecretArrivals {
  private readonly arrivals = new Map<string, number>();
  private readonly waiters = new Map<string, () => void>();
  private controller: AbortController | undefined;
  private stopped = false;
  private resourceVersion = '';
  private readonly kubeConfig: KubeConfig;

  constructor(kubeConfig: KubeConfig) {
    this.kubeConfig = kubeConfig;
  }

  async start(): Promise<void> {
    const list = await makeApiClient(this.kubeConfig, CoreV1Api).listSecretForAllNamespaces({ labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`, limit: 1 });
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    await this.open();
  }

  private async open(): Promise<void> {
    const watch = new Watch(this.kubeConfig);
    this.controller = await watch.watch(
      '/api/v1/secrets',
      { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`, resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
      (phase, object: V1Secret) => {
        const atMs = performance.now();
        if (object.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
        if (phase !== 'ADDED' && phase !== 'MODIFIED') return;
        if (!object.data?.['.dockerconfigjson']) return;
        const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
        if (this.arrivals.has(key)) return;
        this.arrivals.set(key, atMs);
        this.waiters.get(key)?.();
      },
      () => {
        if (!this.stopped) void this.open().catch(() => undefined);
      },
    );
  }

  /** performance.now() of the pull secret's first appearance, or undefined after `timeoutMs`. */
  async arrival(key: string, timeoutMs: number): Promise<number | undefined> {
    if (this.arrivals.has(key)) return this.arrivals.get(key);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.set(key, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.waiters.delete(key);
    return this.arrivals.get(key);
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }
}

/**
 * Latency under load: with `fleet` settled, creates `count` more EcrRegistries one at a time, spread
 * over the fleet's namespaces and using each namespace's existing credentials Secret `creds-0` (a
 * credential set the operator already holds a token for), each waiting for its pull secret before the next.
 */
export async function measureCreateLatency(kubeConfig: KubeConfig, emulator: EcrEmulator, fleet: Fleet, count: number): Promise<LatencyResult> {
  const custom = makeApiClient(kubeConfig, CustomObjectsApi);
  const arrivals = new PullSecretArrivals(kubeConfig);
  await arrivals.start();
  const samplesMs: number[] = [];
  const createMs: number[] = [];
  let timedOut = 0;
  try {
    for (let i = 0; i < count; i++) {
      const namespace = fleet.namespaces[i % fleet.namespaces.length]!;
      const name = `latency-${i}`;
      const spec = benchRegistrySpec(emulator.url, 'creds-0');
      const startedMs = performance.now();
      await custom.createNamespacedCustomObject({
        ...registryPath(namespace),
        body: { apiVersion: GROUP_VERSION, kind: ECR_REGISTRY.kind, metadata: { name, namespace, labels: { [SET_LABEL]: LATENCY_SET } }, spec },
      });
      createMs.push(performance.now() - startedMs);
      const arrivedMs = await arrivals.arrival(`${namespace}/${name}`, PER_REGISTRY_TIMEOUT_MS);
      if (arrivedMs === undefined) timedOut += 1;
      else samplesMs.push(arrivedMs - startedMs);
    }
  } finally {
    arrivals.stop();
  }
  return {
    ...latencyFigures(samplesMs),
    samplesMs: samplesMs.map((ms) => Math.round(ms)),
    timedOut,
    createRequestP50Ms: latencyFigures(createMs).p50Ms,
    method: 'one watch on managed Secrets, opened from a fresh resourceVersion before the first create; the clock runs from just before each create request to the watch event that first shows its pull secret with data',
  };
}
