import { makeApiClient } from '../../src/kube/clients.ts';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, GROUP_VERSION, IMAGE_IMPORT } from '../../src/api/group.ts';
import type { ImageImport } from '../../src/api/image-import.ts';
import type { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { ACCOUNT, type Fleet, REGION, SET_LABEL } from './fleet.ts';
import { runPool } from './pool.ts';

const SET = 'bench-imports';

export interface ImportSet {
  count: number;
  tags: string[];
  repositories: number;
}

/**
 * One repository per namespace of `fleet`, each with `tags` pushed, and `count` ImageImports spread over
 * the fleet's registries (import i uses registry i mod N, in its namespace). Interval 1h: one cycle in the bench.
 */
export async function createImports(kubeConfig: KubeConfig, emulator: EcrEmulator, fleet: Fleet, count: number, tagCount: number): Promise<ImportSet> {
  const custom = makeApiClient(kubeConfig, CustomObjectsApi);
  const tags = Array.from({ length: tagCount }, (_, i) => `v${i + 1}`);
  const repositoryOf = (namespace: string) => `bench/${namespace}`;
  for (const namespace of fleet.namespaces) {
    const repository = repositoryOf(namespace);
    emulator.createRepository({ accountId: ACCOUNT, region: REGION, name: repository });
    for (const tag of tags) emulator.pushImage({ accountId: ACCOUNT, region: REGION, repository, tags: [tag] });
  }
  const items = Array.from({ length: count }, (_, i) => ({ index: i, registry: fleet.registries[i % fleet.registries.length]! }));
  await runPool(items, 16, async ({ index, registry }) => {
    await custom.createNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      plural: IMAGE_IMPORT.plural,
      namespace: registry.namespace,
      body: {
        apiVersion: GROUP_VERSION,
        kind: IMAGE_IMPORT.kind,
        metadata: { name: `import-${index}`, namespace: registry.namespace, labels: { [SET_LABEL]: SET } },
        spec: { registryRef: { name: registry.name }, repository: repositoryOf(registry.namespace), tags, importPolicy: { interval: '1h' } },
      },
    });
  });
  return { count, tags, repositories: fleet.namespaces.length };
}

/** Polls one LIST every 500 ms until every bench ImageImport is Ready=True for its generation. */
export async function waitForImports(
  kubeConfig: KubeConfig,
  count: number,
  options: { timeoutMs: number; assertAlive?: () => void },
): Promise<{ convergedAtMs: number; polls: number; ready: number }> {
  const custom = makeApiClient(kubeConfig, CustomObjectsApi);
  const deadline = Date.now() + options.timeoutMs;
  let polls = 0;
  for (;;) {
    options.assertAlive?.();
    const list = (await custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural, labelSelector: `${SET_LABEL}=${SET}` })) as {
      items: ImageImport[];
    };
    polls += 1;
    const ready = list.items.filter(
      (item) => item.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && item.status.observedGeneration === item.metadata.generation,
    ).length;
    if (ready === count) return { convergedAtMs: Date.now(), polls, ready };
    if (Date.now() > deadline) {
      const sample = list.items.find((item) => !item.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      throw new Error(`only ${ready}/${count} ImageImports Ready after ${options.timeoutMs} ms; e.g. ${JSON.stringify(sample?.status?.conditions ?? 'no status')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
