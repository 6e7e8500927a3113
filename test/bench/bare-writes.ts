import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import { ECR_REGISTRY, GROUP_VERSION } from '../../src/api/group.ts';
import { createKubeClients, mergePatch } from '../../src/kube/clients.ts';
import { HOST, registryPath, SET_LABEL } from './fleet.ts';
import { runPool } from './pool.ts';

const NAMESPACE = 'bench-bare';
/** Parallel deletes while cleaning up (not timed). */
const CLEANUP_CONCURRENCY = 16;

export interface BareResult {
  ms: number;
  writes: number;
  cpuSeconds: Record<string, number>;
}

/**
 * The denominator: what the same apiserver takes to absorb the operator's unavoidable writes (one
 * pull Secret and one status patch per registry) from a bare client loop with the operator's concurrency.
 * The registries it patches are created first, untimed, and everything is deleted afterwards.
 * It uses the operator's own client construction, so both sides share the same transport.
 */
export async function bareWrites(
  kubeConfig: KubeConfig,
  count: number,
  concurrency: number,
  startCpuMeter: () => () => Record<string, number>,
): Promise<BareResult> {
  const { core, customObjects: custom } = createKubeClients(kubeConfig);
  await core.createNamespace({ body: { metadata: { name: NAMESPACE, labels: { [SET_LABEL]: 'bare' } } } });
  const names = Array.from({ length: count }, (_, i) => `bare-${i}`);
  await runPool(names, 16, async (name) => {
    await custom.createNamespacedCustomObject({
      ...registryPath(NAMESPACE),
      body: {
        apiVersion: GROUP_VERSION,
        kind: ECR_REGISTRY.kind,
        metadata: { name, namespace: NAMESPACE },
        spec: { registry: HOST, credentials: { secretRef: { name: 'none' } } },
      },
    });
  });
  const secret = barePullSecret();
  const timed = await timedLoop(names, concurrency, startCpuMeter, async (name) => {
    await core.createNamespacedSecret({ namespace: NAMESPACE, body: secret(name) });
    const now = new Date().toISOString();
    await custom.patchNamespacedCustomObjectStatus(
      {
        ...registryPath(NAMESPACE),
        name,
        body: {
          status: {
            observedGeneration: 1,
            pullSecretName: name,
            expirationTime: now,
            lastRefreshTime: now,
            nextRefreshTime: now,
            conditions: [{ type: 'Ready', status: 'True', reason: 'TokenRefreshed', message: 'bench', lastTransitionTime: now, observedGeneration: 1 }],
          },
        },
      },
      mergePatch(),
    );
  });
  await custom.deleteCollectionNamespacedCustomObject({ ...registryPath(NAMESPACE) });
  await core.deleteCollectionNamespacedSecret({ namespace: NAMESPACE });
  return { ...timed, writes: count * 2 };
}

/**
 * The fan-out denominator: one pull-secret-sized Secret created in each of `namespaces` (which exist
 * already), what a ClusterEcrRegistry must write. Same client construction and loop as bareWrites;
 * the Secrets are deleted afterwards, untimed.
 */
export async function bareFanoutWrites(
  kubeConfig: KubeConfig,
  namespaces: readonly string[],
  concurrency: number,
  startCpuMeter: () => () => Record<string, number>,
): Promise<BareResult> {
  const { core } = createKubeClients(kubeConfig);
  const name = 'bare-pull';
  const secret = barePullSecret();
  const timed = await timedLoop(namespaces, concurrency, startCpuMeter, async (namespace) => {
    await core.createNamespacedSecret({ namespace, body: secret(name) });
  });
  await runPool(namespaces, CLEANUP_CONCURRENCY, async (namespace) => {
    await core.deleteNamespacedSecret({ namespace, name });
  });
  return { ...timed, writes: namespaces.length };
}

/** A dockerconfigjson Secret the size of a real pull secret: a base64 ECR token is about 2.5 kB. */
function barePullSecret(): (name: string) => V1Secret {
  const password = 'x'.repeat(2400);
  const dockerConfig = JSON.stringify({ auths: { [HOST]: { username: 'AWS', password, auth: Buffer.from(`AWS:${password}`).toString('base64') } } });
  return (name) => ({ metadata: { name, labels: { [SET_LABEL]: 'bare' } }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': dockerConfig } });
}

/** The timed part of a bare loop: `write` over `items` at `concurrency`, with CPU metered over exactly that span. */
async function timedLoop<T>(
  items: readonly T[],
  concurrency: number,
  startCpuMeter: () => () => Record<string, number>,
  write: (item: T) => Promise<void>,
): Promise<{ ms: number; cpuSeconds: Record<string, number> }> {
  const stopCpuMeter = startCpuMeter();
  const started = performance.now();
  await runPool(items, concurrency, write);
  const ms = performance.now() - started;
  return { ms, cpuSeconds: stopCpuMeter() };
}
