import type { KubeConfig } from '@kubernetes/client-node';
import { createAwsConnectionPool } from './aws/connection-pool.ts';
import { type OperatorIdentity, withSharedRoleSessions } from './aws/ecr-client.ts';
import { serviceAccountTokenRequests } from './kube/token-requests.ts';
import { createEndpointAllowlist } from './aws/endpoint-allowlist.ts';
import { type EcrCallObserver, SdkEcrTokenSource } from './aws/ecr-token.ts';
import { createImageImportController, type ImageImportController } from './imageimport/controller.ts';
import { createKubeClients } from './kube/clients.ts';
import type { Logger } from './observability/logger.ts';
import { type ClusterRegistryController, createClusterRegistryController } from './clusterregistry/controller.ts';
import { createRegistryController, type RegistryController } from './registry/controller.ts';
import { SharedTokenCache } from './registry/token-cache.ts';
import { type Clock, systemClock } from './runtime/clock.ts';
import type { ControllerMetrics } from './runtime/controller.ts';
import { EventRecorder } from './runtime/events.ts';

/** What the operator's administrator decides (flags and environment, validated in config.ts). */
export interface OperatorSettings {
  /** Watch these namespaces, or all when unset. ClusterEcrRegistries are served only when all are watched. */
  namespaces?: readonly string[];
  workers: number;
  /** ECR API endpoint overrides the operator accepts beyond AWS's own (origins or /regex/). */
  allowedEndpoints: string[];
  /** STS endpoint for AssumeRole, when not AWS's regional default. */
  stsEndpoint?: string;
  /** Names this replica in Events. */
  instance?: string;
  /** The operator's own AWS identity, for ClusterEcrRegistries with credentials.source Operator. */
  operatorIdentity?: OperatorIdentity;
}

export interface OperatorDeps {
  kubeConfig: KubeConfig;
  settings: OperatorSettings;
  logger: Logger;
  clock?: Clock;
  metrics?: ControllerMetrics;
  observeEcrCall?: EcrCallObserver;
  observePullSecretWrite?: (operation: 'create' | 'update' | 'delete') => void;
  /** Aborts when this replica stops leading: in-flight reconciles are then aborted at once, even during a graceful stop. */
  leading?: AbortSignal;
}

export interface RunningOperator {
  registries: RegistryController;
  /** Absent when the operator watches a list of namespaces. */
  clusterRegistries?: ClusterRegistryController;
  imageImports: ImageImportController;
  events: EventRecorder;
  tokens: SharedTokenCache;
  /** Resolves once every informer has listed its collection. */
  waitForSync(signal?: AbortSignal): Promise<void>;
  hasSynced(): boolean;
  /** Stops informers, lets in-flight reconciles finish within the deadline, flushes Events. */
  stop(deadlineMs?: number): Promise<void>;
}

/** Builds the controllers over one KubeConfig and starts them. The composition root shared by main.ts and tests. */
export function startOperator(deps: OperatorDeps): RunningOperator {
  const clock = deps.clock ?? systemClock;
  const clients = createKubeClients(deps.kubeConfig);
  const events = new EventRecorder({
    api: clients.events,
    reportingController: 'ecr.pullsecrets.io/operator',
    ...(deps.settings.instance ? { reportingInstance: deps.settings.instance } : {}),
    clock,
    logger: deps.logger,
  });
  // One set of role sessions and one connection pool for every AWS client, token refreshes and import cycles alike.
  const awsConnections = createAwsConnectionPool();
  const ecrClient = withSharedRoleSessions({
    connections: awsConnections,
    ...(deps.settings.stsEndpoint ? { stsEndpoint: deps.settings.stsEndpoint } : {}),
    serviceAccountTokens: serviceAccountTokenRequests(clients),
    ...(deps.settings.operatorIdentity ? { operatorIdentity: deps.settings.operatorIdentity } : {}),
  });
  const tokens = new SharedTokenCache({
    source: new SdkEcrTokenSource({
      now: () => clock.now(),
      client: ecrClient,
      ...(deps.observeEcrCall ? { observe: deps.observeEcrCall } : {}),
    }),
    now: () => clock.now(),
    monotonicNow: () => clock.monotonicNow(),
  });
  const endpointAllowlist = createEndpointAllowlist(deps.settings.allowedEndpoints);
  // Each controller needs the other: the registry asks which imports use it (called only once both run); imports read registries.
  const registries = createRegistryController({
    kubeConfig: deps.kubeConfig,
    clients,
    ...(deps.settings.namespaces ? { namespaces: deps.settings.namespaces } : {}),
    tokens,
    events,
    clock,
    logger: deps.logger,
    endpointAllowlist,
    workers: deps.settings.workers,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.observePullSecretWrite ? { observePullSecretWrite: deps.observePullSecretWrite } : {}),
    registryUsers: (namespace, name) => imageImports.registryUsers(namespace, name),
  });
  // Cluster-scoped: only when the operator watches every namespace.
  const clusterRegistries = deps.settings.namespaces
    ? undefined
    : createClusterRegistryController({
        kubeConfig: deps.kubeConfig,
        clients,
        managedSecrets: registries.managedSecrets,
        tokens,
        events,
        clock,
        logger: deps.logger,
        endpointAllowlist,
        workers: deps.settings.workers,
        ...(deps.metrics ? { metrics: deps.metrics } : {}),
        ...(deps.observePullSecretWrite ? { observePullSecretWrite: deps.observePullSecretWrite } : {}),
        registryUsers: (name) => imageImports.clusterRegistryUsers(name),
      });
  const imageImports = createImageImportController({
    kubeConfig: deps.kubeConfig,
    clients,
    ...(deps.settings.namespaces ? { namespaces: deps.settings.namespaces } : {}),
    registries: registries.registries,
    readSecret: (namespace, name) => (clusterRegistries?.referencesSecret(namespace, name) ? clusterRegistries.readSecret(namespace, name) : registries.readSecret(namespace, name)),
    readServiceAccount: (namespace, name) => registries.readServiceAccount(namespace, name),
    ...(clusterRegistries
      ? {
          clusterRegistries: {
            registries: clusterRegistries.clusterRegistries,
            selects: (registry, namespace) => clusterRegistries.selects(registry, namespace),
            enqueue: (name) => clusterRegistries.controller.enqueue(name),
            waitForSync: () => clusterRegistries.waitForSync(),
          },
        }
      : {}),
    enqueueRegistry: (key) => registries.controller.enqueue(key),
    events,
    clock,
    logger: deps.logger,
    endpointAllowlist,
    workers: deps.settings.workers,
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ecrClient,
    ...(deps.observeEcrCall ? { observeEcrCall: deps.observeEcrCall } : {}),
  });
  registries.start();
  clusterRegistries?.start();
  imageImports.start();
  const controllers = [registries, ...(clusterRegistries ? [clusterRegistries] : []), imageImports];
  if (deps.leading) abortWhenLeadingEnds(deps.leading, controllers, deps.logger);
  return {
    registries,
    ...(clusterRegistries ? { clusterRegistries } : {}),
    imageImports,
    events,
    tokens,
    waitForSync: async (signal) => {
      await Promise.all([registries.waitForSync(signal), imageImports.waitForSync(signal), clusterRegistries?.waitForSync(signal)]);
    },
    hasSynced: () => registries.hasSynced() && imageImports.hasSynced() && (clusterRegistries?.hasSynced() ?? true),
    async stop(deadlineMs = 10_000) {
      await Promise.all(controllers.map((c) => c.stop(deadlineMs)));
      // close() also writes Event series counts still held back by throttling, and arms no more timers.
      await events.close();
      awsConnections.close();
    },
  };
}

/** A controller that lets in-flight reconciles finish within a deadline, then aborts their signal. */
export interface StoppableController {
  stop(deadlineMs: number): Promise<void>;
}

/**
 * When `leading` aborts, stops every controller with no grace: their in-flight reconciles see their
 * signal abort at once, even while a graceful stop (SIGTERM) is still waiting for them. Once the
 * Lease is lost a standby may already be reconciling, so nothing may carry on.
 */
export function abortWhenLeadingEnds(leading: AbortSignal, controllers: readonly StoppableController[], logger: Logger): void {
  const abortNow = () => {
    for (const controller of controllers) {
      controller.stop(0).catch((error: unknown) => logger.error('could not stop a controller when leading ended', { error: String(error) }));
    }
  };
  if (leading.aborted) abortNow();
  else leading.addEventListener('abort', abortNow, { once: true });
}
