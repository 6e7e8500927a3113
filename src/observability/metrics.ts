import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import * as prom from './prom-client.ts';
import type { EcrCallObserver } from '../aws/ecr-token.ts';
import { classifyAwsError } from '../aws/errors.ts';
import { type Clock, systemClock } from '../runtime/clock.ts';
import type { ControllerMetrics, ReconcileOutcome } from '../runtime/controller.ts';

/** What the registry gauges need to know of a registry; the EcrRegistry and ClusterEcrRegistry informers' objects fit. */
export interface RegistryExpiry {
  metadata?: { namespace?: string; name?: string };
  status?: { expirationTime?: string; conditions?: ReadonlyArray<{ type: string; status: string }> };
}

/** The values a condition's status takes; the ready gauge has one series per value, 1 for the current one. */
const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;

/** How an ECR API call ended: throttled calls (after the SDK's own retries) are told apart from other errors. */
export type EcrCallOutcome = 'success' | 'throttled' | 'error';

export type PullSecretWriteOperation = 'create' | 'update' | 'delete';

export interface OperatorMetricsOptions {
  /** Where the series live; never prom-client's global default registry. */
  registry: Registry;
  clock?: Clock;
  /** Node.js process metrics (CPU, memory, event loop lag, GC). */
  processMetrics?: boolean;
}

const PREFIX = 'ecr_operator_';

/**
 * The operator's Prometheus series, named after the Prometheus conventions: base units
 * (seconds), `_total` on counters, and labels that never carry credentials.
 */
export class OperatorMetrics {
  readonly registry: Registry;
  readonly #clock: Clock;
  readonly #reconciles: Counter<'controller' | 'outcome'>;
  readonly #reconcileErrors: Counter<'controller'>;
  readonly #reconcileDuration: Histogram<'controller'>;
  readonly #queueDepth: Gauge<'controller'>;
  readonly #ecrCalls: Counter<'action' | 'outcome'>;
  readonly #pullSecretWrites: Counter<'operation'>;
  readonly #leader: Gauge;
  #registries: () => readonly RegistryExpiry[] = () => [];

  constructor(options: OperatorMetricsOptions) {
    this.registry = options.registry;
    this.#clock = options.clock ?? systemClock;
    const registers = [options.registry];
    this.#reconciles = new prom.Counter({
      name: `${PREFIX}reconcile_total`,
      help: 'Reconciles finished, by controller and outcome (success, error, requeue_after: done with the next look scheduled).',
      labelNames: ['controller', 'outcome'],
      registers,
    });
    this.#reconcileErrors = new prom.Counter({
      name: `${PREFIX}reconcile_errors_total`,
      help: 'Reconciles that failed, by controller.',
      labelNames: ['controller'],
      registers,
    });
    this.#reconcileDuration = new prom.Histogram({
      name: `${PREFIX}reconcile_duration_seconds`,
      help: 'Time one reconcile took, by controller.',
      labelNames: ['controller'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.#queueDepth = new prom.Gauge({
      name: `${PREFIX}workqueue_depth`,
      help: 'Keys waiting in the work queue, by controller.',
      labelNames: ['controller'],
      registers,
    });
    this.#ecrCalls = new prom.Counter({
      name: `${PREFIX}ecr_api_calls_total`,
      help: 'Calls to the Amazon ECR API, by action and outcome (success; throttled: ThrottlingException, TooManyRequestsException or HTTP 429 after the SDK retries; error: every other failure).',
      labelNames: ['action', 'outcome'],
      registers,
    });
    this.#pullSecretWrites = new prom.Counter({
      name: `${PREFIX}pull_secret_writes_total`,
      help: 'Writes of pull secrets to the Kubernetes API, by operation (create, update, delete).',
      labelNames: ['operation'],
      registers,
    });
    for (const operation of ['create', 'update', 'delete'] as const) this.#pullSecretWrites.inc({ operation }, 0);
    this.#leader = new prom.Gauge({
      name: `${PREFIX}leader`,
      help: '1 while this replica holds the leader election Lease (or runs without leader election), else 0.',
      registers,
    });
    this.#leader.set(0);

    // Computed at scrape time from the registry cache, so the value is current without a timer.
    const clock = this.#clock;
    const registries = () => this.#registries();
    new prom.Gauge({
      name: `${PREFIX}token_expiry_seconds`,
      help: "Seconds until each registry's ECR token expires (negative once expired). Alert well before it reaches 0.",
      labelNames: ['namespace', 'name'],
      registers,
      collect() {
        this.reset();
        const nowMs = clock.now();
        for (const registry of registries()) {
          const expiry = expiryOf(registry);
          if (expiry) this.set(expiry.labels, (expiry.atMs - nowMs) / 1000);
        }
      },
    });
    // The Prometheus convention for "when": a Unix timestamp, which stays right between scrapes.
    new prom.Gauge({
      name: `${PREFIX}token_expiry_timestamp_seconds`,
      help: "Unix time at which each registry's ECR token expires.",
      labelNames: ['namespace', 'name'],
      registers,
      collect() {
        this.reset();
        for (const registry of registries()) {
          const expiry = expiryOf(registry);
          if (expiry) this.set(expiry.labels, expiry.atMs / 1000);
        }
      },
    });

    // cert-manager's certmanager_certificate_ready_status: one series per condition status, so an alert
    // can tell False (failing) from Unknown (not reconciled yet), and a missing Ready counts as Unknown.
    new prom.Gauge({
      name: `${PREFIX}registry_ready_status`,
      help: "Each registry's Ready condition: 1 on the series whose condition label is its status (True, False or Unknown), 0 on the others.",
      labelNames: ['namespace', 'name', 'condition'],
      registers,
      collect() {
        this.reset();
        for (const registry of registries()) {
          const name = registry.metadata?.name;
          if (!name) continue;
          const namespace = registry.metadata?.namespace ?? '';
          const ready = readyStatusOf(registry);
          for (const condition of CONDITION_STATUSES) this.set({ namespace, name, condition }, condition === ready ? 1 : 0);
        }
      },
    });

    if (options.processMetrics ?? true) prom.collectDefaultMetrics({ register: options.registry });
  }

  /** Hooks for the controller loop (runtime/controller.ts). */
  readonly controller: ControllerMetrics = {
    reconcileFinished: (controller: string, outcome: ReconcileOutcome, seconds: number) => {
      this.#reconciles.inc({ controller, outcome });
      if (outcome === 'error') this.#reconcileErrors.inc({ controller });
      this.#reconcileDuration.observe({ controller }, seconds);
    },
    queueDepth: (controller: string, depth: number) => {
      this.#queueDepth.set({ controller }, depth);
    },
  };

  /** Counts ECR API calls; the error's name stays out of the labels to keep their number bounded. */
  readonly observeEcrCall: EcrCallObserver = (action, outcome, error) => {
    this.#ecrCalls.inc({ action, outcome: ecrCallOutcome(outcome, error) });
  };

  pullSecretWritten(operation: PullSecretWriteOperation): void {
    this.#pullSecretWrites.inc({ operation });
  }

  setLeader(leading: boolean): void {
    this.#leader.set(leading ? 1 : 0);
  }

  /** Where the expiry and ready gauges read registries from at scrape time; pass `() => []` when not reconciling. */
  trackRegistries(source: () => readonly RegistryExpiry[]): void {
    this.#registries = source;
  }
}

function expiryOf(registry: RegistryExpiry): { labels: { namespace: string; name: string }; atMs: number } | undefined {
  const expiresAt = registry.status?.expirationTime;
  const name = registry.metadata?.name;
  if (!expiresAt || !name) return undefined;
  const atMs = Date.parse(expiresAt);
  if (Number.isNaN(atMs)) return undefined;
  return { labels: { namespace: registry.metadata?.namespace ?? '', name }, atMs };
}

function readyStatusOf(registry: RegistryExpiry): (typeof CONDITION_STATUSES)[number] {
  const status = registry.status?.conditions?.find((condition) => condition.type === 'Ready')?.status;
  return status === 'True' || status === 'False' ? status : 'Unknown';
}

/** Throttling is classified as everywhere else (aws/errors.ts): by the exception's name, or HTTP 429. */
function ecrCallOutcome(outcome: 'success' | 'error', error: unknown): EcrCallOutcome {
  if (outcome === 'success') return 'success';
  return classifyAwsError(error).kind === 'Throttled' ? 'throttled' : 'error';
}
