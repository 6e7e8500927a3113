import type { KubeConfig, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { EcrRegistry } from '../api/ecr-registry.ts';
import { API_GROUP, API_VERSION, ECR_REGISTRY, MANAGED_SELECTOR, UNMANAGED_SELECTOR } from '../api/group.ts';
import type { EndpointAllowlist } from '../aws/endpoint-allowlist.ts';
import { type KubeClients, METADATA_ONLY, makeWatch, metadataOnly } from '../kube/clients.ts';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import { MutationCache } from '../runtime/mutation-cache.ts';
import { OwnWrites } from '../runtime/own-writes.ts';
import { Controller, type ControllerMetrics, enqueueFromInformer } from '../runtime/controller.ts';
import { Informer, type ListResult } from '../runtime/informer.ts';
import { informerForNamespaces, type SharedInformer } from '../runtime/multi-namespace-informer.ts';
import { formatKey } from '../runtime/keys.ts';
import { ReferenceWatches } from '../runtime/reference-watches.ts';
import { kubeDirectReads } from '../kube/direct-reads.ts';
import { kubeRegistryWrites } from './kube-store.ts';
import { type EventSink, reconcileRegistry } from './reconciler.ts';
import { type RegistryReads, type RegistryWrites, readYourWrites } from './store.ts';
import type { SharedTokenCache } from './token-cache.ts';

export interface RegistryControllerOptions {
  kubeConfig: KubeConfig;
  clients: KubeClients;
  /** Watch these namespaces, or all when unset. */
  namespaces?: readonly string[];
  tokens: SharedTokenCache;
  events: EventSink;
  clock: Clock;
  logger: Logger;
  endpointAllowlist: EndpointAllowlist;
  workers?: number;
  metrics?: ControllerMetrics;
  slowRetryMs?: number;
  observePullSecretWrite?: (operation: 'create' | 'update' | 'delete') => void;
  /** ImageImports that use a registry; set once the ImageImport controller exists. */
  registryUsers?: (namespace: string, name: string) => string[];
}

export interface RegistryController {
  controller: Controller;
  registries: SharedInformer<EcrRegistry>;
  /** The pull secrets the operator manages, all kinds of registry (label-selected); started with this controller. */
  managedSecrets: SharedInformer<V1Secret>;
  start(): void;
  stop(deadlineMs?: number): Promise<void>;
  waitForSync(signal?: AbortSignal): Promise<void>;
  hasSynced(): boolean;
  /**
   * A Secret from this controller's caches (the pull secrets it manages, the credentials Secrets
   * registries reference), or read directly when neither holds it.
   */
  readSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** A ServiceAccount registries reference, from the metadata-watched copies, or read directly. */
  readServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined>;
}

/**
 * Wires the EcrRegistry reconciler to its inputs: the registries, the pull secrets it manages
 * (label-selected), and metadata-only watches of the namespaces that hold the credentials Secrets and
 * ServiceAccounts registries reference, keeping only those objects — never a cache of every Secret.
 */
export function createRegistryController(o: RegistryControllerOptions): RegistryController {
  const { core, customObjects } = o.clients;
  const crd = { group: API_GROUP, version: API_VERSION, plural: ECR_REGISTRY.plural };
  const registries = informerForNamespaces(o.namespaces, (ns) => new Informer<EcrRegistry>({
    name: 'ecrregistries',
    kubeConfig: o.kubeConfig,
    clock: o.clock,
    logger: o.logger,
    path: ns ? `/apis/${API_GROUP}/${API_VERSION}/namespaces/${ns}/${ECR_REGISTRY.plural}` : `/apis/${API_GROUP}/${API_VERSION}/${ECR_REGISTRY.plural}`,
    // The apiserver has validated these against the CRD's structural schema.
    list: async () => (ns ? customObjects.listNamespacedCustomObject({ ...crd, namespace: ns }) : customObjects.listClusterCustomObject(crd)) as Promise<ListResult<EcrRegistry>>,
  }));
  const pullSecrets = informerForNamespaces(o.namespaces, (ns) => new Informer<V1Secret>({
    name: 'managed-secrets',
    kubeConfig: o.kubeConfig,
    clock: o.clock,
    logger: o.logger,
    labelSelector: MANAGED_SELECTOR,
    path: ns ? `/api/v1/namespaces/${ns}/secrets` : '/api/v1/secrets',
    list: (opts) => (ns ? core.listNamespacedSecret({ namespace: ns, ...opts }) : core.listSecretForAllNamespaces(opts)),
  }));

  const controller = new Controller({
    name: 'ecrregistry',
    workers: o.workers ?? 4,
    clock: o.clock,
    logger: o.logger,
    ...(o.metrics ? { metrics: o.metrics } : {}),
    reconcile: (key) => reconcileRegistry({ reads, writes, tokens: o.tokens, events: o.events, clock: o.clock, logger: o.logger, endpointAllowlist: o.endpointAllowlist, ...(o.slowRetryMs ? { slowRetryMs: o.slowRetryMs } : {}) }, key),
  });
  const enqueueHolders = (holders: string[]) => {
    for (const holder of holders) controller.enqueue(holder);
  };
  const direct = kubeDirectReads(o.clients);
  const metadataWatchSource = makeWatch(o.kubeConfig, { accept: METADATA_ONLY });
  const credentialSecrets = new ReferenceWatches<V1Secret>({
    name: 'credentials-secrets',
    metadataWatchSource,
    clock: o.clock,
    logger: o.logger,
    pathFor: (namespace) => `/api/v1/namespaces/${namespace}/secrets`,
    // The pull secrets are in their own cache, which readSecret asks first.
    labelSelector: UNMANAGED_SELECTOR,
    listMetadataFor: (namespace) => (opts) => core.listNamespacedSecret({ namespace, ...opts }, metadataOnly()),
    read: direct.secret,
    onChange: enqueueHolders,
  });
  const serviceAccounts = new ReferenceWatches<V1ServiceAccount>({
    name: 'serviceaccounts',
    metadataWatchSource,
    clock: o.clock,
    logger: o.logger,
    pathFor: (namespace) => `/api/v1/namespaces/${namespace}/serviceaccounts`,
    listMetadataFor: (namespace) => (opts) => core.listNamespacedServiceAccount({ namespace, ...opts }, metadataOnly()),
    read: direct.serviceAccount,
    onChange: enqueueHolders,
  });

  const ownWrites = new OwnWrites();
  const observed = observeSecretWrites(kubeRegistryWrites(o.clients), o.observePullSecretWrite);
  const cacheWrites: RegistryWrites = {
    ...observed,
    createSecret: (secret) => ownWrites.record(secret, observed.createSecret),
    replaceSecret: (secret) => ownWrites.record(secret, observed.replaceSecret),
  };
  const readSecret = async (namespace: string, name: string): Promise<V1Secret | undefined> =>
    pullSecrets.get(namespace, name) ?? credentialSecrets.get(namespace, name);
  const cacheReads: RegistryReads = {
    registry: (namespace, name) => registries.get(namespace, name),
    managedSecret: (namespace, name) => pullSecrets.get(namespace, name),
    secret: readSecret,
    serviceAccount: (namespace, name) => serviceAccounts.get(namespace, name),
    registryUsers: (namespace, name) => o.registryUsers?.(namespace, name) ?? [],
  };
  const written = new MutationCache<EcrRegistry>();
  registries.on((event) => written.observe(event));
  const { reads, writes } = readYourWrites(cacheReads, cacheWrites, written);

  // Keep the reference watches in step with what each registry points at.
  registries.on((event) => {
    const registry = event.object;
    const holder = formatKey(registry.metadata.namespace, registry.metadata.name!);
    const namespace = registry.metadata.namespace!;
    if (event.type === 'DELETED') {
      credentialSecrets.setReferences(holder, []);
      serviceAccounts.setReferences(holder, []);
      return;
    }
    const { secretRef, serviceAccountRef } = registry.spec.credentials;
    credentialSecrets.setReferences(holder, secretRef ? [{ namespace, name: secretRef.name }] : []);
    const accounts = new Set([...(registry.spec.pullSecret?.serviceAccounts ?? []), ...(registry.status?.serviceAccounts ?? []), ...(serviceAccountRef ? [serviceAccountRef] : [])].map((ref) => ref.name));
    serviceAccounts.setReferences(holder, [...accounts].map((name) => ({ namespace, name })));
  });
  enqueueFromInformer(registries, controller, (event) => {
    // Our own status and finalizer writes come back as MODIFIED; like controller-runtime's
    // GenerationChangedPredicate, only a spec change or a deletion needs a reconcile.
    const { old, object } = event;
    if (event.type === 'MODIFIED' && old && old.metadata.generation === object.metadata.generation && !old.metadata.deletionTimestamp === !object.metadata.deletionTimestamp) {
      return undefined;
    }
    return formatKey(object.metadata.namespace, object.metadata.name!);
  });
  // A credentials Secret that carries the managed-by label is in the pull-secret cache, not the credentials watch.
  pullSecrets.on((event) => enqueueHolders(credentialSecrets.holdersOf(event.object.metadata!.namespace!, event.object.metadata!.name!)));
  enqueueFromInformer(pullSecrets, controller, (event) => {
    const owner = event.object.metadata?.ownerReferences?.find((ref) => ref.controller && ref.kind === ECR_REGISTRY.kind);
    const ownerKey = owner ? { namespace: event.object.metadata!.namespace!, name: owner.name } : undefined;
    const requeue = () => {
      if (ownerKey) controller.enqueue(ownerKey);
    };
    return ownWrites.changedByOthers(event, requeue) ? ownerKey : undefined;
  });

  return {
    controller,
    registries,
    managedSecrets: pullSecrets,
    start() {
      registries.start();
      pullSecrets.start();
      // Reconciling before the pull-secret cache is listed would take every secret for missing and re-mint it.
      Promise.all([registries.waitForSync(), pullSecrets.waitForSync()]).then(
        () => controller.start(),
        () => {},
      );
    },
    async stop(deadlineMs = 10_000) {
      registries.stop();
      pullSecrets.stop();
      credentialSecrets.stop();
      serviceAccounts.stop();
      await controller.stop({ deadlineMs });
    },
    async waitForSync(signal) {
      await Promise.all([registries.waitForSync(signal), pullSecrets.waitForSync(signal)]);
    },
    hasSynced: () => registries.hasSynced() && pullSecrets.hasSynced(),
    readSecret,
    readServiceAccount: (namespace, name) => serviceAccounts.get(namespace, name),
  };
}

type SecretWrites = Pick<RegistryWrites, 'createSecret' | 'replaceSecret' | 'deleteSecret'>;

/** Reports each successful pull-secret write, for the writes metric; both registry kinds use it. */
export function observeSecretWrites<W extends SecretWrites>(writes: W, observe: ((operation: 'create' | 'update' | 'delete') => void) | undefined): W {
  if (!observe) return writes;
  return {
    ...writes,
    createSecret: async (secret) => {
      const created = await writes.createSecret(secret);
      observe('create');
      return created;
    },
    replaceSecret: async (secret) => {
      const replaced = await writes.replaceSecret(secret);
      observe('update');
      return replaced;
    },
    deleteSecret: async (namespace, name, uid) => {
      await writes.deleteSecret(namespace, name, uid);
      observe('delete');
    },
  };
}
