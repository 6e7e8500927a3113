import { randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { Registry } from './observability/prom-client.ts';
import { type Config, ConfigError, describeConfig, loadConfig, loadKubeConfig } from './config.ts';
import { CoordinationV1Api } from './kube/client-node.ts';
import { makeApiClient } from './kube/clients.ts';
import { type ObservabilityServer, type ProbeResult, type Probes, startObservabilityServer } from './observability/health-server.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { OperatorMetrics } from './observability/metrics.ts';
import { redact } from './observability/redact.ts';
import { operatorIdentityChain } from './aws/operator-identity.ts';
import { type RunningOperator, startOperator } from './operator.ts';
import { LeaderElector } from './runtime/leader-election.ts';

/**
 * The program the container runs: config → logger → cluster connection → probe and metrics
 * servers → leader election → the controllers, while leading.
 *
 * Readiness (/readyz) does not depend on leadership:
 * - the leader (or the only replica, without leader election) is ready once its informers have synced;
 * - a standby runs no controllers and so has no caches; it is ready while its last read of the
 *   Lease succeeded, which shows it can reach the apiserver with its permissions and take over.
 * A standby that becomes leader is briefly not ready while its caches fill; every replica turns
 * not ready as soon as it starts shutting down.
 *
 * Exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT), 1 on a fatal error or when the Lease is
 * lost (like controller-runtime, the replica restarts clean rather than carry on half-stopped),
 * 2 on invalid configuration.
 */

/** Share of the shutdown timeout given to in-flight reconciles; the rest is for Events, the Lease and the servers. */
const RECONCILE_SHARE_OF_SHUTDOWN = 0.8;

async function main(): Promise<void> {
  let config: Config;
  try {
    const result = loadConfig();
    if ('help' in result) {
      process.stdout.write(result.help);
      return;
    }
    config = result.config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`ecr-pullsecrets-operator: ${error.message}\n`);
    process.exit(2);
  }

  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  installFatalHandlers(logger);
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(config);
  } catch (error) {
    logger.error('cannot connect to a cluster', { error: (error as Error).message });
    process.exit(2);
  }
  logger.info('starting ecr-pullsecrets-operator', { ...describeConfig(config), cluster: kubeConfig.getCurrentCluster()?.server });
  await run(config, kubeConfig, logger);
}

async function run(config: Config, kubeConfig: KubeConfig, logger: Logger): Promise<void> {
  const metrics = new OperatorMetrics({ registry: new Registry() });
  let operator: RunningOperator | undefined;
  let elector: LeaderElector | undefined;
  let shuttingDown = false;
  let lostLease = false;

  const readiness = (): ProbeResult => {
    if (shuttingDown) return { ok: false, message: 'shutting down' };
    if (operator) return operator.hasSynced() ? { ok: true, message: 'ok: informers synced' } : { ok: false, message: 'informers not synced yet' };
    if (elector && !elector.isLeader()) {
      const leader = elector.leader() ?? 'nobody yet';
      if (elector.lastAttemptSucceeded()) return { ok: true, message: `ok: standby, leader is ${leader}` };
      return { ok: false, message: elector.leader() === undefined ? 'starting: no Lease read yet' : 'standby cannot read the leader election Lease' };
    }
    return { ok: false, message: 'starting' };
  };
  const servers = await startServers(config, metrics, { liveness: () => ({ ok: true, message: 'ok' }), readiness }, logger);

  const startReconciling = (signal?: AbortSignal): void => {
    // Won the Lease while already shutting down: the release that follows hands it on.
    if (shuttingDown) return;
    metrics.setLeader(true);
    operator = startOperator({
      kubeConfig,
      settings: {
        ...(config.namespaces ? { namespaces: config.namespaces } : {}),
        workers: config.workers,
        allowedEndpoints: config.allowedEndpoints,
        ...(config.stsEndpoint ? { stsEndpoint: config.stsEndpoint } : {}),
        instance: config.instance,
        operatorIdentity: operatorIdentityChain({
          instanceMetadata: config.operatorIdentityImds,
          stsRegion: config.awsRegion,
          ...(config.stsEndpoint ? { stsEndpoint: config.stsEndpoint } : {}),
        }),
      },
      logger,
      metrics: metrics.controller,
      observeEcrCall: metrics.observeEcrCall,
      observePullSecretWrite: (operation) => metrics.pullSecretWritten(operation),
      // Losing the Lease aborts in-flight reconciles at once, also while a shutdown waits for them.
      ...(signal ? { leading: signal } : {}),
    });
    const running = operator;
    // ClusterEcrRegistries are cluster-scoped: their series carry namespace="".
    metrics.trackRegistries(() => [...running.registries.registries.list(), ...(running.clusterRegistries?.clusterRegistries.list() ?? [])]);
    const startedMs = Date.now();
    running.waitForSync(signal).then(
      () => logger.info('caches synced; reconciling', { afterMs: Date.now() - startedMs }),
      () => {},
    );
  };

  const shutdown = async (signal: string): Promise<void> => {
    if (shuttingDown) {
      logger.warn('second signal during shutdown; exiting now', { signal });
      process.exit(1);
    }
    shuttingDown = true;
    const startedMs = Date.now();
    logger.info('shutting down', { signal, timeoutMs: config.shutdownTimeoutMs });
    const watchdog = setTimeout(() => {
      logger.error('graceful shutdown took longer than the shutdown timeout; exiting', { timeoutMs: config.shutdownTimeoutMs });
      process.exit(1);
    }, config.shutdownTimeoutMs);
    watchdog.unref();
    // The Lease is renewed until the controllers have stopped, so no standby starts while reconciles are in flight.
    if (operator) await operator.stop(Math.floor(config.shutdownTimeoutMs * RECONCILE_SHARE_OF_SHUTDOWN));
    await elector?.stop();
    await Promise.all(servers.map((server) => server.close()));
    clearTimeout(watchdog);
    logger.info('shut down', { tookMs: Date.now() - startedMs });
    process.exit(lostLease ? 1 : 0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      shutdown(signal).catch((error: unknown) => fatal(logger, 'shutdown failed', error));
    });
  }

  if (!config.leaderElection.enabled) {
    startReconciling();
    return;
  }
  const le = config.leaderElection;
  elector = new LeaderElector({
    api: makeApiClient(kubeConfig, CoordinationV1Api),
    namespace: le.namespace,
    name: le.name,
    // A new suffix per start: a restarted pod must not mistake its predecessor's Lease for its own.
    identity: `${config.instance}_${randomUUID()}`,
    leaseDurationMs: le.leaseDurationMs,
    renewDeadlineMs: le.renewDeadlineMs,
    retryPeriodMs: le.retryPeriodMs,
    logger,
    callbacks: {
      onStartedLeading: (signal) => startReconciling(signal),
      onStoppedLeading: (reason) => {
        metrics.setLeader(false);
        if (reason !== 'lost') return;
        lostLease = true;
        if (shuttingDown) {
          // The operator has already aborted its in-flight reconciles (the leading signal); the shutdown finishes the rest.
          logger.error('lost the leader election Lease while shutting down; in-flight reconciles aborted');
          return;
        }
        // Another replica may already be reconciling: stop at once, without waiting on in-flight work.
        logger.error('lost the leader election Lease; exiting so this replica restarts clean');
        process.exit(1);
      },
    },
  });
  elector.run().catch((error: unknown) => fatal(logger, 'leader election failed', error));
}

/** Probes on the health address and /metrics on the metrics address; one server when both addresses are the same. */
async function startServers(config: Config, metrics: OperatorMetrics, probes: Probes, logger: Logger): Promise<ObservabilityServer[]> {
  const health = config.healthProbeBindAddress;
  const metricsAddress = config.metricsBindAddress;
  const shared = metricsAddress !== undefined && metricsAddress.port !== 0 && metricsAddress.port === health.port && metricsAddress.host === health.host;
  const servers: ObservabilityServer[] = [];
  const probeServer = await startObservabilityServer({ bindAddress: health, probes, ...(shared ? { metrics: metrics.registry } : {}), logger });
  servers.push(probeServer);
  logger.info('serving probes', { port: probeServer.port, paths: shared ? '/healthz /readyz /metrics' : '/healthz /readyz' });
  if (metricsAddress && !shared) {
    const metricsServer = await startObservabilityServer({ bindAddress: metricsAddress, metrics: metrics.registry, logger });
    servers.push(metricsServer);
    logger.info('serving metrics', { port: metricsServer.port, paths: '/metrics' });
  }
  return servers;
}

function installFatalHandlers(logger: Logger): void {
  process.on('uncaughtException', (error) => fatal(logger, 'uncaught exception', error));
  process.on('unhandledRejection', (reason) => fatal(logger, 'unhandled promise rejection', reason));
}

/** Logs the error's message and stack, with anything credential-shaped removed, and exits 1. */
function fatal(logger: Logger, what: string, error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  const stack = error instanceof Error && error.stack ? redact(error.stack) : undefined;
  logger.error(what, { error: redact(message), ...(stack ? { stack } : {}) });
  process.exit(1);
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`ecr-pullsecrets-operator: ${redact(message)}\n`);
  process.exit(1);
});
