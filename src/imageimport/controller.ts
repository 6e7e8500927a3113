import type { KubeConfig, V1Secret } from '@kubernetes/client-node';
import type { EcrRegistry } from '../api/ecr-registry.ts';
import { API_GROUP, API_VERSION, IMAGE_IMPORT } from '../api/group.ts';
import type { ImageImport } from '../api/image-import.ts';
import type { EcrClientOptions } from '../aws/ecr-client.ts';
import type { EcrCallObserver } from '../aws/ecr-token.ts';
import type { EndpointAllowlist } from '../aws/endpoint-allowlist.ts';
import type { KubeClients } from '../kube/clients.ts';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import { findCondition } from '../runtime/conditions.ts';
import { Controller, type ControllerMetrics, enqueueFromInformer } from '../runtime/controller.ts';
import { Informer, type InformerEvent, type ListResult } from '../runtime/informer.ts';
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
  /** Watch one namespace, or all when unset. */
  namespace?: string;
  /** The registry controller's informer: the import reads registries from it and follows their changes. */
  registries: Informer<EcrRegistry>;
  /** Reads a Secret (credentials, pull secret) through the registry controller's caches. */
  readSecret: (namespace: string, name: string) => Promise<V1Secret | undefined>;
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
  /** Overrides for tests. */
  openEcr?: EcrImageReaderFactory;
  openRegistry?: RegistryV2ReaderFactory;
  failureRetryMs?: number;
}

export interface ImageImportController {
  controller: Controller;
  imageImports: Informer<ImageImport>;
  /**
   * Names of the ImageImports in `namespace` that use EcrRegistry `name`; they hold its deletion.
   * Throws until the ImageImports have been listed, so a registry is never let go on an empty cache.
   */
  registryUsers(namespace: string, name: string): string[];
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
  const ns = o.namespace;
  const crd = { group: API_GROUP, version: API_VERSION, plural: IMAGE_IMPORT.plural };
  const imageImports = new Informer<ImageImport>({
    name: 'imageimports',
    kubeConfig: o.kubeConfig,
    clock: o.clock,
    logger: o.logger,
    path: ns ? `/apis/${API_GROUP}/${API_VERSION}/namespaces/${ns}/${IMAGE_IMPORT.plural}` : `/apis/${API_GROUP}/${API_VERSION}/${IMAGE_IMPORT.plural}`,
    // The apiserver has validated these against the CRD's structural schema.
    list: async () =>
      (ns ? customObjects.listNamespacedCustomObject({ ...crd, namespace: ns }) : customObjects.listClusterCustomObject(crd)) as Promise<ListResult<ImageImport>>,
  });

  const reads: ImageImportReads = {
    imageImport: (namespace, name) => imageImports.get(namespace, name),
    registry: (namespace, name) => o.registries.get(namespace, name),
    secret: o.readSecret,
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

  const usersOf = (namespace: string, registryName: string) =>
    imageImports.list(namespace).filter((i) => i.spec.registryRef.name === registryName);

  enqueueFromInformer(imageImports, controller);
  // The registry holds its deletion while imports use it, so it must look again when one comes or goes.
  imageImports.on((event) => {
    for (const key of registryKeysTouched(event)) o.enqueueRegistry(key);
  });
  enqueueFromInformer(o.registries, controller, (event) => {
    if (!registryChangeMatters(event)) return undefined;
    const namespace = event.object.metadata.namespace!;
    return usersOf(namespace, event.object.metadata.name!).map((i) => formatKey(namespace, i.metadata.name!));
  });

  return {
    controller,
    imageImports,
    registryUsers(namespace, name) {
      if (!imageImports.hasSynced()) throw new Error('ImageImports are not listed yet; cannot tell whether the registry is in use');
      return usersOf(namespace, name)
        .map((i) => i.metadata.name!)
        .sort();
    },
    start() {
      imageImports.start();
      // Workers wait for both caches: an import reconciled before the registries are listed would report RegistryNotFound.
      Promise.all([imageImports.waitForSync(), o.registries.waitForSync()]).then(
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

/** The registries whose set of users an ImageImport event changes. */
function registryKeysTouched(event: InformerEvent<ImageImport>): string[] {
  const namespace = event.object.metadata.namespace!;
  const now = event.object.spec.registryRef.name;
  const before = event.old?.spec.registryRef.name;
  if (event.type === 'MODIFIED') return before === now ? [] : [before, now].filter((n): n is string => !!n).map((n) => formatKey(namespace, n));
  return [formatKey(namespace, now)];
}

/**
 * Whether a registry event can change what its imports do: it appeared or went, its spec or
 * deletion changed, or its readiness or pull secret did. A token refresh alone does not.
 */
function registryChangeMatters(event: InformerEvent<EcrRegistry>): boolean {
  if (event.type !== 'MODIFIED' || !event.old) return true;
  const a = event.old;
  const b = event.object;
  const ready = (r: EcrRegistry) => {
    const c = findCondition(r.status?.conditions, 'Ready');
    return `${c?.status}/${c?.reason}`;
  };
  return (
    a.metadata.generation !== b.metadata.generation ||
    a.metadata.deletionTimestamp !== b.metadata.deletionTimestamp ||
    ready(a) !== ready(b) ||
    a.status?.pullSecretName !== b.status?.pullSecretName
  );
}
