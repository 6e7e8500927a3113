import type { KubeConfig, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { EcrRegistry } from '../api/ecr-registry.ts';
import type { ClusterEcrRegistry } from '../api/cluster-ecr-registry.ts';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY, ECR_REGISTRY, IMAGE_IMPORT } from '../api/group.ts';
import type { ImageImport } from '../api/image-import.ts';
import type { EcrClientOptions } from '../aws/ecr-client.ts';
import type { EcrCallObserver } from '../aws/ecr-token.ts';
import type { EndpointAllowlist } from '../aws/endpoint-allowlist.ts';
import type { KubeClients } from '../kube/clients.ts';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import { findCondition, isTrue, ProgressConditionType } from '../runtime/conditions.ts';
import { Controller, type ControllerMetrics, enqueueFromInformer } from '../runtime/controller.ts';
import { Informer, type InformerEvent, type ListResult, NotSyncedError } from '../runtime/informer.ts';
import { informerForNamespaces, type SharedInformer } from '../runtime/multi-namespace-informer.ts';
import { formatKey } from '../runtime/keys.ts';
import { ExponentialBackoffRateLimiter } from '../runtime/rate-limiter.ts';
import { type EcrImageReaderFactory, sdkEcrImageReaders } from './ecr-images.ts';
import { ImportLedger } from './import-ledger.ts';
import { kubeImageImportWrites } from './kube-store.ts';
import { type ImportEventSink, reconcileImageImport } from './reconciler.ts';
import { createRegistryV2Reader, type RegistryV2ReaderFactory } from './registry-v2-client.ts';
import type { ImageImportReads } from './store.ts';

export interface ImageImportControllerOptions {
  kubeConfig: KubeConfig;
  clients: KubeClients;
  /** Watch these namespaces, or all when unset. */
  namespaces?: readonly string[];
  /** The registry controller's informer: the import reads registries from it and follows their changes. */
  registries: SharedInformer<EcrRegistry>;
  /** Reads a Secret (credentials, pull secret) through the registry controller's caches. */
  readSecret: (namespace: string, name: string) => Promise<V1Secret | undefined>;
  /** Reads a ServiceAccount (a registry's web identity) through the registry controllers' caches. */
  readServiceAccount: (namespace: string, name: string) => Promise<V1ServiceAccount | undefined>;
  /** Asks the registry controller to look at a registry again (an ImageImport that uses it appeared or went). */
  enqueueRegistry: (key: string) => void;
  events: ImportEventSink;
  clock: Clock;
  logger: Logger;
  endpointAllowlist: EndpointAllowlist;
  workers?: number;
  metrics?: ControllerMetrics;
  /** ECR client settings (STS endpoint for AssumeRole, timeouts). */
  ecrClient?: EcrClientOptions;
  observeEcrCall?: EcrCallObserver;
  /** The ClusterEcrRegistries, and the namespaces they select from; unset when the operator watches one namespace. */
  clusterRegistries?: {
    registries: Informer<ClusterEcrRegistry>;
    selects(registry: ClusterEcrRegistry, namespace: string): boolean;
    enqueue(name: string): void;
    /** Resolves once the ClusterEcrRegistries and the namespaces are listed. */
    waitForSync(): Promise<void>;
  };
  /** Overrides for tests. */
  openEcr?: EcrImageReaderFactory;
  openRegistry?: RegistryV2ReaderFactory;
  failureRetryMs?: number;
}

export interface ImageImportController {
  controller: Controller;
  imageImports: SharedInformer<ImageImport>;
  /**
   * Names of the ImageImports in `namespace` that use EcrRegistry `name`; they hold its deletion.
   * Throws until the ImageImports have been listed, so a registry is never let go on an empty cache.
   */
  registryUsers(namespace: string, name: string): string[];
  /** `namespace/name` of the ImageImports that use ClusterEcrRegistry `name`; throws until listed, likewise. */
  clusterRegistryUsers(name: string): string[];
  start(): void;
  stop(deadlineMs?: number): Promise<void>;
  waitForSync(signal?: AbortSignal): Promise<void>;
  hasSynced(): boolean;
}

/**
 * Wires the ImageImport reconciler to its inputs: ImageImports, and the EcrRegistries they use
 * (a registry's change enqueues the imports that reference it, so an import waiting for its
 * registry runs as soon as the registry is Ready, without polling).
 */
export function createImageImportController(o: ImageImportControllerOptions): ImageImportController {
  const { customObjects } = o.clients;
  const crd = { group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural };
  const imageImports = informerForNamespaces(o.namespaces, (ns) => new Informer<ImageImport>({
    name: 'imageimports',
    kubeConfig: o.kubeConfig,
    clock: o.clock,
    logger: o.logger,
    path: ns ? `/apis/${API_GROUP}/${API_VERSION}/namespaces/${ns}/${IMAGE_IMPORT.plural}` : `/apis/${API_GROUP}/${API_VERSION}/${IMAGE_IMPORT.plural}`,
    // The apiserver has validated these against the CRD's structural schema.
    list: async () =>
      (ns ? customObjects.listNamespacedCustomObject({ ...crd, namespace: ns }) : customObjects.listClusterCustomObject(crd)) as Promise<ListResult<ImageImport>>,
  }));

  const reads: ImageImportReads = {
    clusterRegistry: (name) => o.clusterRegistries?.registries.get(undefined, name),
    selects: (registry, namespace) => o.clusterRegistries?.selects(registry, namespace) ?? false,
    imageImport: (namespace, name) => imageImports.get(namespace, name),
    registry: (namespace, name) => o.registries.get(namespace, name),
    secret: o.readSecret,
    serviceAccount: o.readServiceAccount,
  };
  const ledger = new ImportLedger();
  const retryBackoff = new ExponentialBackoffRateLimiter({ baseDelayMs: 5_000, maxDelayMs: 300_000, jitter: 0.2 });
  const deps = {
    reads,
    writes: kubeImageImportWrites(o.clients),
    events: o.events,
    clock: o.clock,
    logger: o.logger,
    endpointAllowlist: o.endpointAllowlist,
    openEcr: o.openEcr ?? sdkEcrImageReaders({ ...(o.ecrClient ? { client: o.ecrClient } : {}), ...(o.observeEcrCall ? { observe: o.observeEcrCall } : {}) }),
    openRegistry: o.openRegistry ?? ((baseUrl, credentials) => createRegistryV2Reader(baseUrl, credentials)),
    ledger,
    retryBackoff,
    ...(o.failureRetryMs !== undefined ? { failureRetryMs: o.failureRetryMs } : {}),
  };
  const controller = new Controller({
    name: 'imageimport',
    workers: o.workers ?? 2,
    clock: o.clock,
    logger: o.logger,
    ...(o.metrics ? { metrics: o.metrics } : {}),
    reconcile: (key, signal) => reconcileImageImport(deps, key, signal),
  });

  imageImports.addIndex(REGISTRY_REF_INDEX, (i) => [refKeyOf(i)]);
  const usersOf = (namespace: string, registryName: string) => imageImports.byIndex(REGISTRY_REF_INDEX, registryRefKey(ECR_REGISTRY.kind, namespace, registryName));
  const clusterUsersOf = (registryName: string) => imageImports.byIndex(REGISTRY_REF_INDEX, registryRefKey(CLUSTER_ECR_REGISTRY.kind, '', registryName));

  enqueueFromInformer(imageImports, controller);
  // The registry holds its deletion while imports use it, so it must look again when one comes or goes.
  imageImports.on((event) => {
    for (const key of new Set([event.old, event.object].flatMap((i) => (i ? [refKeyOf(i)] : [])))) {
      if (event.type === 'MODIFIED' && event.old && refKeyOf(event.old) === refKeyOf(event.object)) continue;
      const [kind, namespace, name] = key.split('/') as [string, string, string];
      if (kind === CLUSTER_ECR_REGISTRY.kind) o.clusterRegistries?.enqueue(name);
      else o.enqueueRegistry(formatKey(namespace, name));
    }
  });
  if (o.clusterRegistries) {
    // A ClusterEcrRegistry's change (a token, a namespace now selected or failing) can change what its imports do.
    enqueueFromInformer(o.clusterRegistries.registries, controller, (event) => {
      if (!clusterRegistryChangeMatters(event)) return undefined;
      return clusterUsersOf(event.object.metadata.name!).map((i) => formatKey(i.metadata.namespace, i.metadata.name!));
    });
  }
  enqueueFromInformer(o.registries, controller, (event) => {
    if (!registryChangeMatters(event)) return undefined;
    const namespace = event.object.metadata.namespace!;
    return usersOf(namespace, event.object.metadata.name!).map((i) => formatKey(namespace, i.metadata.name!));
  });

  return {
    controller,
    imageImports,
    registryUsers(namespace, name) {
      if (!imageImports.hasSynced()) throw new NotSyncedError('ImageImports are not listed yet; cannot tell whether the registry is in use');
      return usersOf(namespace, name)
        .map((i) => i.metadata.name!)
        .sort();
    },
    clusterRegistryUsers(name) {
      if (!imageImports.hasSynced()) throw new NotSyncedError('ImageImports are not listed yet; cannot tell whether the registry is in use');
      return clusterUsersOf(name)
        .map((i) => formatKey(i.metadata.namespace, i.metadata.name!))
        .sort();
    },
    start() {
      imageImports.start();
      // Workers wait for both caches: an import reconciled before the registries are listed would report RegistryNotFound.
      Promise.all([imageImports.waitForSync(), o.registries.waitForSync(), o.clusterRegistries?.waitForSync()]).then(
        () => controller.start(),
        (error: unknown) => o.logger.debug('imageimport controller stopped before its caches synced', { error: String(error) }),
      );
    },
    async stop(deadlineMs = 10_000) {
      imageImports.stop();
      await controller.stop({ deadlineMs });
    },
    waitForSync: (signal) => imageImports.waitForSync(signal),
    hasSynced: () => imageImports.hasSynced(),
  };
}

/** The ImageImports informer's index of the registry each import uses, keyed by `registryRefKey`. */
export const REGISTRY_REF_INDEX = 'registryRef';

/**
 * `<kind>/<namespace>/<name>` of a registry an import refers to. The kind is part of the key so that
 * references to a cluster-scoped registry kind (namespace '') can share the index.
 */
export function registryRefKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

/** The index key of the registry an import uses; a ClusterEcrRegistry has no namespace. */
function refKeyOf(imageImport: ImageImport): string {
  const { kind, name } = imageImport.spec.registryRef;
  return kind === CLUSTER_ECR_REGISTRY.kind ? registryRefKey(kind, '', name) : registryRefKey(ECR_REGISTRY.kind, imageImport.metadata.namespace ?? '', name);
}

/** Whether a ClusterEcrRegistry event can change what its imports do (not a refresh of its token alone). */
function clusterRegistryChangeMatters(event: InformerEvent<ClusterEcrRegistry>): boolean {
  if (event.type !== 'MODIFIED' || !event.old) return true;
  const view = (r: ClusterEcrRegistry) =>
    JSON.stringify([r.metadata.generation, r.metadata.deletionTimestamp, r.status?.pullSecretName, r.status?.expirationTime === undefined, r.status?.failedNamespaces, r.status?.namespacesSelected]);
  return view(event.old) !== view(event.object);
}

/**
 * Whether a registry event can change what its imports do: it appeared or went, its spec or
 * deletion changed, or its readiness (Ready, and Stalled, which an import waiting on it mirrors) or
 * pull secret did. A token refresh alone does not, failed or not (the Refreshed condition).
 */
function registryChangeMatters(event: InformerEvent<EcrRegistry>): boolean {
  if (event.type !== 'MODIFIED' || !event.old) return true;
  const a = event.old;
  const b = event.object;
  const ready = (r: EcrRegistry) => {
    const c = findCondition(r.status?.conditions, 'Ready');
    return `${c?.status}/${c?.reason}/${isTrue(r.status?.conditions, ProgressConditionType.Stalled)}`;
  };
  return (
    a.metadata.generation !== b.metadata.generation ||
    a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp ||
    ready(a) !== ready(b) ||
    a.status?.pullSecretName !== b.status?.pullSecretName
  );
}
