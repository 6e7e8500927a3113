import { makeApiClient } from '../../src/kube/clients.ts';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { ClusterEcrRegistry, ClusterEcrRegistrySpec } from '../../src/api/cluster-ecr-registry.ts';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY, GROUP_VERSION } from '../../src/api/group.ts';
import { CLUSTER_REGISTRY_LABEL } from '../../src/registry/pull-secret.ts';
import { Informer, type ListResult } from '../../src/runtime/informer.ts';
import type { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { ACCOUNT, HOST, REGION, SET_LABEL } from './fleet.ts';
import { runPool } from './pool.ts';

/** Parallel creates while setting up (not timed). */
const SETUP_CONCURRENCY = 16;
const SET = 'fanout';
const clusterRegistryPath = { group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural };

export interface Fanout {
  /** The ClusterEcrRegistry's name, also its pull secret's name. */
  name: string;
  /** The namespaces it selects. */
  namespaces: string[];
  keysNamespace: string;
}

/**
 * Namespaces `fanout-<i>` labelled for the set, a credentials Secret in a namespace of its own (not
 * selected), and one ClusterEcrRegistry selecting the label, served by the emulator.
 */
export async function createFanout(kubeConfig: KubeConfig, emulator: EcrEmulator, count: number): Promise<Fanout> {
  const core = makeApiClient(kubeConfig, CoreV1Api);
  const namespaces = Array.from({ length: count }, (_, i) => `${SET}-${i}`);
  await runPool(namespaces, SETUP_CONCURRENCY, async (name) => {
    await core.createNamespace({ body: { metadata: { name, labels: { [SET_LABEL]: SET } } } });
  });
  const keysNamespace = `${SET}-keys`;
  await core.createNamespace({ body: { metadata: { name: keysNamespace, labels: { [SET_LABEL]: `${SET}-keys` } } } });
  const key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
  await core.createNamespacedSecret({
    namespace: keysNamespace,
    body: { metadata: { name: 'aws-keys' }, stringData: { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey } },
  });
  return { name: `bench-${SET}`, namespaces, keysNamespace };
}

/** Creates the ClusterEcrRegistry (separate from createFanout, so the bare loop can run in between with nothing selecting). */
export async function createFanoutRegistry(kubeConfig: KubeConfig, emulator: EcrEmulator, fanout: Fanout): Promise<void> {
  const spec: ClusterEcrRegistrySpec = {
    registry: HOST,
    region: REGION,
    endpoint: emulator.url,
    credentials: { secretRef: { namespace: fanout.keysNamespace, name: 'aws-keys' } },
    namespaceSelector: { matchLabels: { [SET_LABEL]: SET } },
  };
  await makeApiClient(kubeConfig, CustomObjectsApi).createClusterCustomObject({
    ...clusterRegistryPath,
    body: { apiVersion: GROUP_VERSION, kind: CLUSTER_ECR_REGISTRY.kind, metadata: { name: fanout.name, labels: { [SET_LABEL]: SET } }, spec },
  });
}

export interface FanoutConvergence {
  convergedAtMs: number;
  /** Pull secrets found in the selected namespaces by the confirming LIST. */
  pullSecrets: number;
  /** Distinct `.dockerconfigjson` payloads among them: 1 when every namespace holds the same token. */
  distinctPayloads: number;
  status: ClusterEcrRegistry['status'];
  polls: number;
}

function isConverged(registry: ClusterEcrRegistry, total: number): boolean {
  const status = registry.status;
  return (
    status?.observedGeneration === registry.metadata.generation &&
    status?.namespacesReady === total &&
    (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/**
 * Waits until the ClusterEcrRegistry reports Ready=True with namespacesReady = every namespace, at its
 * generation, following it with one watch (an informer), as waitForFleet follows registries. Then one
 * LIST of its pull secrets (by the operator's owner label) confirms every namespace holds one,
 * repeated every 500 ms in the rare case one lags.
 */
export async function waitForFanout(
  kubeConfig: KubeConfig,
  fanout: Fanout,
  options: { timeoutMs: number; assertAlive?: () => void; onWaiting?: (status: ClusterEcrRegistry['status']) => void },
): Promise<FanoutConvergence> {
  const core = makeApiClient(kubeConfig, CoreV1Api);
  const custom = makeApiClient(kubeConfig, CustomObjectsApi);
  const total = fanout.namespaces.length;
  const informer = new Informer<ClusterEcrRegistry>({
    name: `bench-${SET}`,
    kubeConfig,
    path: `/apis/${API_GROUP}/${API_VERSION}/${CLUSTER_ECR_REGISTRY.plural}`,
    labelSelector: `${SET_LABEL}=${SET}`,
    list: (opts) => custom.listClusterCustomObject({ ...clusterRegistryPath, ...opts }) as Promise<ListResult<ClusterEcrRegistry>>,
  });
  let latest: ClusterEcrRegistry | undefined;
  let readyAtMs: number | undefined;
  informer.on(({ type, object }) => {
    if (object.metadata.name !== fanout.name) return;
    latest = type === 'DELETED' ? undefined : object;
    if (latest && isConverged(latest, total)) readyAtMs ??= Date.now();
    else readyAtMs = undefined;
  });
  const selected = new Set(fanout.namespaces);
  const deadline = Date.now() + options.timeoutMs;
  let polls = 0;
  informer.start();
  try {
    for (;;) {
      options.assertAlive?.();
      if (readyAtMs !== undefined) {
        const ready = readyAtMs;
        const list = await core.listSecretForAllNamespaces({ labelSelector: `${CLUSTER_REGISTRY_LABEL}=${fanout.name}` });
        polls += 1;
        const ours = list.items.filter((s) => selected.has(s.metadata?.namespace ?? '') && s.metadata?.name === fanout.name);
        // The status that says Ready is written after every pull secret, so a first check that finds them all dates convergence to it.
        if (ours.length === total) {
          return {
            convergedAtMs: polls === 1 ? ready : Date.now(),
            pullSecrets: ours.length,
            distinctPayloads: new Set(ours.map((s) => s.data?.['.dockerconfigjson'])).size,
            status: latest?.status,
            polls,
          };
        }
      }
      options.onWaiting?.(latest?.status);
      if (Date.now() > deadline) {
        const s = latest?.status;
        throw new Error(`ClusterEcrRegistry ${fanout.name}: ${s?.namespacesReady ?? 0}/${total} namespaces ready after ${options.timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, readyAtMs === undefined ? 100 : 500));
    }
  } finally {
    informer.stop();
  }
}
