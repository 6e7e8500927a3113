import { makeApiClient, mergePatch } from '../../src/kube/clients.ts';
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { EcrRegistry, EcrRegistrySpec } from '../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, ECR_REGISTRY, GROUP_VERSION, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/api/group.ts';
import type { EcrEmulator } from '../support/ecr-emulator/index.ts';
import { Informer, type ListResult } from '../../src/runtime/informer.ts';
import { runPool } from './pool.ts';

export const ACCOUNT = '111122223333';
export const REGION = 'us-east-1';
export const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
/** Label on everything the bench creates, valued with the set's name, so each scenario lists only its own. */
export const SET_LABEL = 'bench.ecr.pullsecrets.io/set';
/** Parallel creates while setting up (not timed). */
const SETUP_CONCURRENCY = 16;

export interface RegistryRef {
  namespace: string;
  name: string;
}

export interface Fleet {
  set: string;
  namespaces: string[];
  registries: RegistryRef[];
  credentialSets: number;
}

export interface FleetShape {
  set: string;
  registries: number;
  namespaces: number;
  perCredentials: number;
}

/**
 * Namespaces `<set>-<i>`, registries spread round-robin over them, and one credentials Secret (with an
 * access key of its own, so a distinct credential set) per group of `perCredentials` registries in a namespace.
 */
export async function createFleet(kubeConfig: KubeConfig, emulator: EcrEmulator, shape: FleetShape): Promise<Fleet> {
  const core = makeApiClient(kubeConfig, CoreV1Api);
  const custom = makeApiClient(kubeConfig, CustomObjectsApi);
  const namespaceCount = Math.min(shape.namespaces, shape.registries);
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `${shape.set}-${i}`);
  await runPool(namespaces, SETUP_CONCURRENCY, async (name) => {
    await core.createNamespace({ body: { metadata: { name, labels: { [SET_LABEL]: shape.set } } } });
  });
  const perNamespace = new Map<string, RegistryRef[]>(namespaces.map((ns) => [ns, []]));
  const registries: RegistryRef[] = [];
  for (let i = 0; i < shape.registries; i++) {
    const namespace = namespaces[i % namespaceCount]!;
    const ref = { namespace, name: `reg-${i}` };
    perNamespace.get(namespace)!.push(ref);
    registries.push(ref);
  }
  const jobs: Array<{ namespace: string; secret: string; members: RegistryRef[] }> = [];
  for (const [namespace, refs] of perNamespace) {
    for (let g = 0; g * shape.perCredentials < refs.length; g++) {
      jobs.push({ namespace, secret: `creds-${g}`, members: refs.slice(g * shape.perCredentials, (g + 1) * shape.perCredentials) });
    }
  }
  await runPool(jobs, SETUP_CONCURRENCY, async (job) => {
    const key = emulator.addAccessKey({ accountId: ACCOUNT, region: REGION });
    await core.createNamespacedSecret({
      namespace: job.namespace,
      body: {
        metadata: { name: job.secret, labels: { [SET_LABEL]: shape.set } },
        stringData: { AWS_ACCESS_KEY_ID: key.accessKeyId, AWS_SECRET_ACCESS_KEY: key.secretAccessKey },
      },
    });
    for (const member of job.members) {
      const spec = benchRegistrySpec(emulator.url, job.secret);
      await custom.createNamespacedCustomObject({
        ...registryPath(member.namespace),
        body: { apiVersion: GROUP_VERSION, kind: ECR_REGISTRY.kind, metadata: { name: member.name, namespace: member.namespace, labels: { [SET_LABEL]: shape.set } }, spec },
      });
    }
  });
  return { set: shape.set, namespaces, registries, credentialSets: jobs.length };
}

/**
 * Takes a set back to where a cold start found it: no pull secrets, no status. With no operator
 * running, it deletes the managed pull secrets in the set's namespaces and removes each registry's
 * status (untimed, at SETUP_CONCURRENCY), after a cold start or a bare pass, so the next of either
 * does the same work as the first.
 */
export async function resetFleet(kubeConfig: KubeConfig, fleet: Fleet): Promise<void> {
  const core = makeApiClient(kubeConfig, CoreV1Api);
  const custom = makeApiClient(kubeConfig, CustomObjectsApi);
  await runPool(fleet.namespaces, SETUP_CONCURRENCY, async (namespace) => {
    await core.deleteCollectionNamespacedSecret({ namespace, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` });
  });
  await runPool(fleet.registries, SETUP_CONCURRENCY, async (ref) => {
    await custom.patchNamespacedCustomObjectStatus({ ...registryPath(ref.namespace), name: ref.name, body: { status: null } }, mergePatch());
  });
}

/** The spec of every EcrRegistry the bench makes: the emulator's registry, with its credentials Secret. */
export function benchRegistrySpec(endpoint: string, secretName: string): EcrRegistrySpec {
  return { registry: HOST, region: REGION, endpoint, credentials: { secretRef: { name: secretName } } };
}

export function registryPath(namespace: string) {
  return { group: API_GROUP, version: API_VERSION, plural: ECR_REGISTRY.plural, namespace };
}

export interface ConvergenceProgress {
  ready: number;
  secrets: number;
  total: number;
  listCalls: number;
}

/** The set's registries, as the apiserver has them now. */
export async function listFleet(kubeConfig: KubeConfig, fleet: Fleet): Promise<EcrRegistry[]> {
  const custom = makeApiClient(kubeConfig, CustomObjectsApi);
  const list = (await custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: ECR_REGISTRY.plural, labelSelector: `${SET_LABEL}=${fleet.set}` })) as { items: EcrRegistry[] };
  return list.items;
}

/**
 * One look at a set: a LIST of its registries and, when `withSecrets` (or every registry is Ready), a
 * LIST of the managed pull secrets. Secrets are the heavy list (about 3.5 kB each), so polling skips them
 * until the registries say they are done: a Ready registry has written its pull secret first.
 */
export async function fleetProgress(kubeConfig: KubeConfig, fleet: Fleet, withSecrets = true): Promise<ConvergenceProgress & { secretList: V1Secret[] }> {
  const core = makeApiClient(kubeConfig, CoreV1Api);
  const registries = await listFleet(kubeConfig, fleet);
  const ready = registries.filter((r) => r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && r.status.observedGeneration === r.metadata.generation).length;
  if (!withSecrets && ready < fleet.registries.length) return { ready, secrets: Number.NaN, total: fleet.registries.length, listCalls: 1, secretList: [] };
  const secretList = await core.listSecretForAllNamespaces({ labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` });
  const wanted = new Set(fleet.registries.map((r) => `${r.namespace}/${r.name}`));
  const ours = secretList.items.filter((s) => wanted.has(`${s.metadata?.namespace}/${s.metadata?.name}`));
  return { ready, secrets: ours.length, total: fleet.registries.length, listCalls: 2, secretList: ours };
}

/**
 * What the bench's watch keeps of a registry: what readiness is judged on. The bench shares the two cores
 * with the operator it times, and interning whole objects cost it about a third of its CPU during a cold
 * start (1,000 registries, two runs each way: 0.82-1.03 CPU-seconds against 1.32-1.43).
 */
function readinessOnly({ metadata, status }: EcrRegistry): EcrRegistry {
  return {
    metadata: { namespace: metadata.namespace, name: metadata.name, generation: metadata.generation, resourceVersion: metadata.resourceVersion },
    status: { observedGeneration: status?.observedGeneration, conditions: status?.conditions?.filter((c) => c.type === 'Ready') },
  } as EcrRegistry;
}

/**
 * Waits until every registry of the set is Ready at its generation and has its pull secret. It follows
 * the registries with one watch (an informer), not with repeated LISTs: at 10,000 registries a LIST
 * every half second would load the very apiserver the operator is measured on, which the bare loop
 * never pays. Once all are Ready, one LIST of pull secrets confirms them (repeated every 500 ms in
 * the rare case one lags).
 */
export async function waitForFleet(
  kubeConfig: KubeConfig,
  fleet: Fleet,
  options: { timeoutMs: number; assertAlive?: () => void; onProgress?: (p: ConvergenceProgress) => void },
): Promise<{ convergedAtMs: number; polls: number; lastProgress: ConvergenceProgress }> {
  const custom = makeApiClient(kubeConfig, CustomObjectsApi);
  const crd = { group: API_GROUP, version: API_VERSION, plural: ECR_REGISTRY.plural };
  const informer = new Informer<EcrRegistry>({
    name: `bench-${fleet.set}`,
    kubeConfig,
    path: `/apis/${API_GROUP}/${API_VERSION}/${ECR_REGISTRY.plural}`,
    labelSelector: `${SET_LABEL}=${fleet.set}`,
    list: (opts) => custom.listClusterCustomObject({ ...crd, ...opts }) as Promise<ListResult<EcrRegistry>>,
    transform: readinessOnly,
  });
  const total = fleet.registries.length;
  const ready = new Set<string>();
  let allReadyAtMs: number | undefined;
  informer.on(({ type, object }) => {
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    const isReady = object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') && object.status.observedGeneration === object.metadata.generation;
    if (type !== 'DELETED' && isReady) ready.add(key);
    else ready.delete(key);
    if (ready.size === total) allReadyAtMs ??= Date.now();
    else allReadyAtMs = undefined;
  });
  const deadline = Date.now() + options.timeoutMs;
  let polls = 0;
  let progress: ConvergenceProgress = { ready: 0, secrets: Number.NaN, total, listCalls: 0 };
  informer.start();
  try {
    for (;;) {
      options.assertAlive?.();
      progress = { ready: ready.size, secrets: Number.NaN, total, listCalls: polls };
      if (allReadyAtMs !== undefined) {
        const readyAtMs = allReadyAtMs;
        const checked = await fleetProgress(kubeConfig, fleet, true);
        polls += 1;
        progress = { ...checked, ready: ready.size, listCalls: polls };
        // Pull secrets are written before the status that says Ready, so a first check that finds them all dates convergence to then.
        if (checked.secrets === total) return { convergedAtMs: polls === 1 ? readyAtMs : Date.now(), polls, lastProgress: progress };
      }
      options.onProgress?.(progress);
      if (Date.now() > deadline) throw new Error(`set ${fleet.set}: only ${progress.ready}/${total} Ready after ${options.timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, allReadyAtMs === undefined ? 100 : 500));
    }
  } finally {
    informer.stop();
  }
}
