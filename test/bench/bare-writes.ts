import type { KubeConfig } from '@kubernetes/client-node';
import { ECR_REGISTRY, GROUP_VERSION } from '../../src/api/group.ts';
import { createKubeClients, mergePatch } from '../../src/kube/clients.ts';
import { HOST, registryPath, SET_LABEL } from './fleet.ts';
import { runPool } from './pool.ts';

const NAMESPACE = 'bench-bare';

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
): Promise<{ ms: number; writes: number; cpuSeconds: Record<string, number> }> {
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
  // A payload the size of a real pull secret: a base64 ECR token is about 2.5 kB.
  const password = 'x'.repeat(2400);
  const dockerConfig = JSON.stringify({ auths: { [HOST]: { username: 'AWS', password, auth: Buffer.from(`AWS:${password}`).toString('base64') } } });
  const stopCpuMeter = startCpuMeter();
  const started = performance.now();
  await runPool(names, concurrency, async (name) => {
    await core.createNamespacedSecret({
      namespace: NAMESPACE,
      body: { metadata: { name, labels: { [SET_LABEL]: 'bare' } }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': dockerConfig } },
    });
    const now = new Date().toISOString();
    await custom.patchNamespacedCustomObjectStatus(
      {
        ...registryPath(NAMESPACE),
        name,
        body: {
          status: {
            observedGeneration: 1,
            pullSecretName: name,
            expiresAt: now,
            lastRefreshTime: now,
            nextRefreshTime: now,
            conditions: [{ type: 'Ready', status: 'True', reason: 'TokenRefreshed', message: 'bench', lastTransitionTime: now, observedGeneration: 1 }],
          },
        },
      },
      mergePatch(),
    );
  });
  const ms = performance.now() - started;
  const cpuSeconds = stopCpuMeter();
  await custom.deleteCollectionNamespacedCustomObject({ ...registryPath(NAMESPACE) });
  await core.deleteCollectionNamespacedSecret({ namespace: NAMESPACE });
  return { ms, writes: count * 2, cpuSeconds };
}
