import type { KubeConfig, KubernetesObject, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { ClusterEcrRegistry } from '../api/cluster-ecr-registry.ts';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY, UNMANAGED_SELECTOR } from '../api/group.ts';
import type { EndpointAllowlist } from '../aws/endpoint-allowlist.ts';
import { type KubeClients, METADATA_ONLY, makeWatch, metadataOnly } from '../kube/clients.ts';
import { kubeDirectReads } from '../kube/direct-reads.ts';
import type { Logger } from '../observability/logger.ts';
import { observeSecretWrites } from '../registry/controller.ts';
import { CLUSTER_REGISTRY_LABEL } from '../registry/pull-secret.ts';
import type { SharedTokenCache } from '../registry/token-cache.ts';
import type { Clock } from '../runtime/clock.ts';
import { Controller, type ControllerMetrics, enqueueFromInformer } from '../runtime/controller.ts';
import { Informer, type ListResult } from '../runtime/informer.ts';
import type { SharedInformer } from '../runtime/multi-namespace-informer.ts';
import { MetadataBackedReads } from '../runtime/metadata-backed-reads.ts';
import { MutationCache } from '../runtime/mutation-cache.ts';
import { ReferenceWatches } from '../runtime/reference-watches.ts';
import { kubeClusterRegistryWrites } from './kube-store.ts';
import { type NamespaceView, selectsNamespace } from './namespace-selection.ts';
import { type ClusterEventSink, reconcileClusterRegistry } from './reconciler.ts';
import type { ClusterRegistryReads, ClusterRegistryWrites } from './store.ts';
import { OwnWrites } from '../runtime/own-writes.ts';

export interface ClusterRegistryControllerOptions {
  kubeConfig: KubeConfig;
  clients: KubeClients;
  /** The pull secrets the operator manages (label-selected, all namespaces), shared with the EcrRegistry controller. */
  managedSecrets: SharedInformer<V1Secret>;
  tokens: SharedTokenCache;
  events: ClusterEventSink;
  clock: Clock;
  logger: Logger;
  endpointAllowlist: EndpointAllowlist;
  workers?: number;
  metrics?: ControllerMetrics;
  slowRetryMs?: number;
  observePullSecretWrite?: (operation: 'create' | 'update' | 'delete') => void;
  /** `namespace/name` of the ImageImports that use a ClusterEcrRegistry; set once the ImageImport controller exists. */
  registryUsers?: (name: string) => string[];
}

export interface ClusterRegistryController {
  controller: Controller;
  clusterRegistries: Informer<ClusterEcrRegistry>;
  namespaces: Informer<KubernetesObject>;
  start(): void;
  stop(deadlineMs?: number): Promise<void>;
  waitForSync(signal?: AbortSignal): Promise<void>;
  hasSynced(): boolean;
  /** The credentials Secrets ClusterEcrRegistries reference, from this controller's cache, or read directly. */
  readSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** A ServiceAccount behind the cluster-wide metadata watch (started when a ClusterEcrRegistry names one). */
  readServiceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined>;
  /** Whether a ClusterEcrRegistry references the Secret as its credentials (so readSecret serves it from a cache). */
  referencesSecret(namespace: string, name: string): boolean;
  /** Whether the ClusterEcrRegistry selects the namespace, by the namespace's labels as cached. */
  selects(registry: ClusterEcrRegistry, namespace: string): boolean;
}

const BY_OWNER = 'cluster-registry';

/**
 * Wires the ClusterEcrRegistry reconciler to its inputs: the ClusterEcrRegistries; every namespace's
 * metadata (name, labels, deletion; never whole objects), so a namespace that starts or stops
 * matching is served within a reconcile; the managed pull secrets, indexed by owning
 * ClusterEcrRegistry; the credentials Secrets they reference; and, only once one asks for
 * ServiceAccounts, one metadata-only watch of ServiceAccounts across the cluster.
 */
export function createClusterRegistryController(o: ClusterRegistryControllerOptions): ClusterRegistryController {
  const { core, customObjects } = o.clients;
  const direct = kubeDirectReads(o.clients);
  const metadataWatchSource = makeWatch(o.kubeConfig, { accept: METADATA_ONLY });
  const clusterRegistries = new Informer<ClusterEcrRegistry>({
    name: 'clusterecrregistries',
    kubeConfig: o.kubeConfig,
    clock: o.clock,
    logger: o.logger,
    path: `/apis/${API_GROUP}/${API_VERSION}/${CLUSTER_ECR_REGISTRY.plural}`,
    // The apiserver has validated these against the CRD's structural schema.
    list: async () => (await customObjects.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural })) as ListResult<ClusterEcrRegistry>,
  });
  const namespaces = new Informer<KubernetesObject>({
    name: 'namespaces',
    path: '/api/v1/namespaces',
    list: (opts) => core.listNamespace(opts, metadataOnly()),
    watchSource: metadataWatchSource,
    // Selection needs the name, the labels and whether the namespace is going; nothing else is kept.
    transform: ({ metadata }) => ({
      metadata: { name: metadata?.name, labels: metadata?.labels, deletionTimestamp: metadata?.deletionTimestamp, resourceVersion: metadata?.resourceVersion, uid: metadata?.uid },
    }),
    clock: o.clock,
    logger: o.logger,
  });
  o.managedSecrets.addIndex(BY_OWNER, (secret) => {
    const owner = secret.metadata?.labels?.[CLUSTER_REGISTRY_LABEL];
    return owner ? [owner] : [];
  });

  const controller = new Controller({
    name: 'clusterecrregistry',
    workers: o.workers ?? 2,
    clock: o.clock,
    logger: o.logger,
    ...(o.metrics ? { metrics: o.metrics } : {}),
    reconcile: (key) =>
      reconcileClusterRegistry(
        { reads, writes, tokens: o.tokens, events: o.events, clock: o.clock, logger: o.logger, endpointAllowlist: o.endpointAllowlist, ...(o.slowRetryMs ? { slowRetryMs: o.slowRetryMs } : {}) },
        key.name,
      ),
  });
  const enqueue = (names: Iterable<string>) => {
    for (const name of names) controller.enqueue(name);
  };

  const credentialSecrets = new ReferenceWatches<V1Secret>({
    name: 'cluster-credentials-secrets',
    metadataWatchSource,
    clock: o.clock,
    logger: o.logger,
    pathFor: (namespace) => `/api/v1/namespaces/${namespace}/secrets`,
    // The pull secrets are in the managed-secrets cache, which readSecret asks first.
    labelSelector: UNMANAGED_SELECTOR,
    listMetadataFor: (namespace) => (opts) => core.listNamespacedSecret({ namespace, ...opts }, metadataOnly()),
    read: direct.secret,
    onChange: enqueue,
  });
  const serviceAccounts = new MetadataBackedReads<V1ServiceAccount>({
    name: 'cluster-serviceaccounts',
    path: '/api/v1/serviceaccounts',
    listMetadata: (opts) => core.listServiceAccountForAllNamespaces(opts, metadataOnly()),
    metadataWatchSource,
    read: direct.serviceAccount,
    clock: o.clock,
    logger: o.logger,
  });
  // A ServiceAccount change matters to registries whose web identity it is, and to those that bind
  // their pull secret to it in a namespace they select.
  serviceAccounts.on((event) => {
    const namespace = event.object.metadata?.namespace ?? '';
    const account = event.object.metadata?.name ?? '';
    const view = namespaceView(namespaces.get(undefined, namespace));
    const uses = (r: ClusterEcrRegistry) => {
      const identity = r.spec.credentials.serviceAccountRef;
      if (identity?.namespace === namespace && identity.name === account) return true;
      return view !== undefined && (r.spec.pullSecret?.serviceAccounts ?? []).some((ref) => ref.name === account) && selectsNamespace(r.spec, view);
    };
    enqueue(
      clusterRegistries
        .list()
        .filter(uses)
        .map((r) => r.metadata.name!),
    );
  });

  // Registries as this process last wrote them, until the informer catches up (see readYourWrites).
  const written = new MutationCache<ClusterEcrRegistry>();
  clusterRegistries.on((event) => written.observe(event));
  const ownWrites = new OwnWrites();
  const api = observeSecretWrites(kubeClusterRegistryWrites(o.clients), o.observePullSecretWrite);
  const assumed = (registry: ClusterEcrRegistry) => {
    written.assume(registry);
    return registry;
  };
  const writes: ClusterRegistryWrites = {
    ...api,
    createSecret: (secret) => ownWrites.record(secret, api.createSecret),
    replaceSecret: (secret) => ownWrites.record(secret, api.replaceSecret),
    setFinalizers: async (registry, finalizers) => assumed(await api.setFinalizers(registry, finalizers)),
    patchStatus: async (registry, status) => assumed(await api.patchStatus(registry, status)),
  };
  const readSecret = async (namespace: string, name: string) => o.managedSecrets.get(namespace, name) ?? credentialSecrets.get(namespace, name);
  const reads: ClusterRegistryReads = {
    clusterRegistry: (name) => written.newest(name, clusterRegistries.get(undefined, name)),
    namespaces: () => namespaces.list().flatMap((n) => namespaceView(n) ?? []),
    ownedSecrets: (name) => o.managedSecrets.byIndex(BY_OWNER, name),
    managedSecret: (namespace, name) => o.managedSecrets.get(namespace, name),
    secret: readSecret,
    serviceAccount: (namespace, name) => serviceAccounts.get(namespace, name),
    users: (name) => o.registryUsers?.(name) ?? [],
  };

  clusterRegistries.on((event) => {
    const registry = event.object;
    const name = registry.metadata.name!;
    if (event.type === 'DELETED') {
      credentialSecrets.setReferences(name, []);
      return;
    }
    const { secretRef, serviceAccountRef } = registry.spec.credentials;
    credentialSecrets.setReferences(name, secretRef ? [{ namespace: secretRef.namespace, name: secretRef.name }] : []);
    if ((registry.spec.pullSecret?.serviceAccounts ?? []).length > 0 || serviceAccountRef) serviceAccounts.start();
  });
  enqueueFromInformer(clusterRegistries, controller, (event) => {
    // Only a spec change or a deletion needs a reconcile, not our own status and finalizer writes.
    const { old, object } = event;
    if (event.type === 'MODIFIED' && old && old.metadata.generation === object.metadata.generation && !old.metadata.deletionTimestamp === !object.metadata.deletionTimestamp) return undefined;
    return object.metadata.name!;
  });
  // A namespace that starts or stops matching (created, relabelled, deleted) changes what a registry serves.
  namespaces.on((event) => {
    const before = namespaceView(event.type === 'ADDED' ? undefined : event.type === 'DELETED' ? event.object : event.old);
    const after = namespaceView(event.type === 'DELETED' ? undefined : event.object);
    const selects = (registry: ClusterEcrRegistry, view: NamespaceView | undefined) => view !== undefined && selectsNamespace(registry.spec, view);
    enqueue(
      clusterRegistries
        .list()
        .filter((r) => selects(r, before) !== selects(r, after))
        .map((r) => r.metadata.name!),
    );
  });
  // A credentials Secret that carries the managed-by label is in the pull-secret cache, not the credentials watch.
  o.managedSecrets.on((event) => enqueue(credentialSecrets.holdersOf(event.object.metadata!.namespace!, event.object.metadata!.name!)));
  enqueueFromInformer(o.managedSecrets, controller, (event) => {
    const owner = event.object.metadata?.ownerReferences?.find((ref) => ref.controller && ref.kind === CLUSTER_ECR_REGISTRY.kind);
    const requeue = () => {
      if (owner) controller.enqueue(owner.name);
    };
    return ownWrites.changedByOthers(event, requeue) ? owner?.name : undefined;
  });

  return {
    controller,
    clusterRegistries,
    namespaces,
    start() {
      clusterRegistries.start();
      namespaces.start();
      // The managed-secret informer is started by the EcrRegistry controller; wait for all three.
      Promise.all([clusterRegistries.waitForSync(), namespaces.waitForSync(), o.managedSecrets.waitForSync()]).then(
        () => controller.start(),
        () => {},
      );
    },
    async stop(deadlineMs = 10_000) {
      clusterRegistries.stop();
      namespaces.stop();
      credentialSecrets.stop();
      serviceAccounts.stop();
      await controller.stop({ deadlineMs });
    },
    async waitForSync(signal) {
      await Promise.all([clusterRegistries.waitForSync(signal), namespaces.waitForSync(signal)]);
    },
    hasSynced: () => clusterRegistries.hasSynced() && namespaces.hasSynced(),
    readSecret,
    readServiceAccount: (namespace, name) => serviceAccounts.get(namespace, name),
    referencesSecret: (namespace, name) =>
      clusterRegistries.list().some((r) => r.spec.credentials.secretRef?.namespace === namespace && r.spec.credentials.secretRef.name === name),
    selects(registry, namespace) {
      const view = namespaceView(namespaces.get(undefined, namespace));
      return view !== undefined && selectsNamespace(registry.spec, view);
    },
  };
}

function namespaceView(object: KubernetesObject | undefined): NamespaceView | undefined {
  const name = object?.metadata?.name;
  if (!name) return undefined;
  return { name, labels: object.metadata?.labels ?? {}, terminating: object.metadata?.deletionTimestamp !== undefined && object.metadata?.deletionTimestamp !== null };
}
