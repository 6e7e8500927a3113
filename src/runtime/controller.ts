import type { KubernetesObject } from '@kubernetes/client-node';
import { retryAfterMs } from '../kube/errors.ts';
import { type Logger, silentLogger } from '../observability/logger.ts';
import { type Clock, systemClock, type TimerHandle } from './clock.ts';
import type { Informer, InformerEvent } from './informer.ts';
import { keyOfObject, type ObjectKey, parseKey, toKeyString } from './keys.ts';
import { WorkQueue } from './work-queue.ts';

export type { ObjectKey } from './keys.ts';

/** What a reconcile asks for on success: nothing, or another pass after a delay. */
// biome-ignore lint/suspicious/noConfusingVoidType: lets `async (key) => { ... }` with no return serve as a reconcile function.
export type ReconcileResult = { requeueAfterMs?: number } | undefined | void;

/**
 * Reconciles one object. `signal` aborts when the controller's stop deadline passes, so
 * long external calls can give up.
 */
export type ReconcileFunction = (key: ObjectKey, signal: AbortSignal) => Promise<ReconcileResult>;

/**
 * An error retrying cannot fix (invalid spec, say): the controller forgets the key and does
 * not requeue it. The next change to the object enqueues it again.
 */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/**
 * A failure to retry with backoff that also bounds the wait: the key is looked at again after the
 * backoff or after `retryWithinMs`, whichever comes first. For a deadline the status must not miss
 * however long the backoff has grown, such as the expiry of the credential still being served.
 * With `backoff: false` nothing was tried (another caller's failure, still shared): the key waits
 * `retryWithinMs` alone and its backoff does not grow, so a wait that costs nothing cannot push the
 * next real attempt further out.
 */
export class RetryError extends Error {
  readonly retryWithinMs: number | undefined;
  readonly backoff: boolean;

  constructor(message: string, options: { cause?: unknown; retryWithinMs?: number; backoff?: boolean } = {}) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'RetryError';
    this.retryWithinMs = options.retryWithinMs;
    this.backoff = options.backoff ?? true;
  }
}

/** As controller-runtime's result label: requeue_after is a success (or a wait) that scheduled the next look. */
export type ReconcileOutcome = 'success' | 'error' | 'requeue_after';

export interface ControllerMetrics {
  reconcileFinished(controller: string, outcome: ReconcileOutcome, seconds: number): void;
  queueDepth(controller: string, depth: number): void;
}

export const noopControllerMetrics: ControllerMetrics = {
  reconcileFinished: () => {},
  queueDepth: () => {},
};

export interface ControllerOptions {
  name: string;
  reconcile: ReconcileFunction;
  /** Keys reconciled concurrently; one key is never reconciled by two workers at once. */
  workers?: number;
  queue?: WorkQueue;
  clock?: Clock;
  logger?: Logger;
  metrics?: ControllerMetrics;
}

export interface StopOptions {
  /** How long to wait for in-flight reconciles before giving up on them (their signal is aborted). */
  deadlineMs?: number;
}

/**
 * Runs `reconcile` for queued keys, after controller-runtime: success forgets the key's
 * backoff (and schedules `requeueAfterMs` if asked), an error requeues it with backoff,
 * a TerminalError drops it until the object changes.
 */
export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly reconcileFn: ReconcileFunction;
  private readonly workerCount: number;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly metrics: ControllerMetrics;
  private readonly abort = new AbortController();
  private workerLoops: Promise<void>[] = [];
  private inFlightCount = 0;

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.reconcileFn = options.reconcile;
    this.workerCount = Math.max(1, Math.floor(options.workers ?? 2));
    this.clock = options.clock ?? systemClock;
    this.queue = options.queue ?? new WorkQueue({ name: options.name, clock: this.clock });
    this.logger = (options.logger ?? silentLogger()).child({ controller: options.name });
    this.metrics = options.metrics ?? noopControllerMetrics;
  }

  enqueue(key: ObjectKey | string): void {
    this.queue.add(toKeyString(key));
    this.metrics.queueDepth(this.name, this.queue.len());
  }

  enqueueAfter(key: ObjectKey | string, ms: number): void {
    this.queue.addAfter(toKeyString(key), ms);
    this.metrics.queueDepth(this.name, this.queue.len());
  }

  start(): void {
    if (this.workerLoops.length > 0 || this.queue.shuttingDown()) return;
    this.logger.info('starting', { workers: this.workerCount });
    for (let i = 0; i < this.workerCount; i++) this.workerLoops.push(this.runWorker());
  }

  /** Stops taking work and waits for in-flight reconciles, at most `deadlineMs` (default 30 s). */
  async stop(options: StopOptions = {}): Promise<void> {
    const deadlineMs = options.deadlineMs ?? 30_000;
    this.queue.shutDown();
    let timer: TimerHandle | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = this.clock.setTimeout(() => resolve('deadline'), deadlineMs);
    });
    const finished = Promise.all(this.workerLoops).then(() => 'finished' as const);
    const outcome = await Promise.race([finished, deadline]);
    this.clock.clearTimeout(timer);
    if (outcome === 'deadline') {
      this.logger.warn('stop deadline passed with reconciles still running', { inFlight: this.inFlightCount });
      this.abort.abort(new Error(`controller ${this.name} stopped`));
    } else {
      this.logger.info('stopped');
    }
  }

  /** Reconciles currently running. */
  inFlight(): number {
    return this.inFlightCount;
  }

  private async runWorker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      await this.processKey(key);
    }
  }

  private async processKey(key: string): Promise<void> {
    const startedMs = this.clock.now();
    let outcome: ReconcileOutcome = 'success';
    this.inFlightCount++;
    try {
      const result = await this.reconcileFn(parseKey(key), this.abort.signal);
      this.queue.forget(key);
      const requeueAfterMs = result?.requeueAfterMs;
      if (requeueAfterMs !== undefined) {
        outcome = 'requeue_after';
        this.queue.addAfter(key, requeueAfterMs);
      }
    } catch (err) {
      outcome = 'error';
      const { namespace, name } = parseKey(key);
      const error = err instanceof Error ? err.message : String(err);
      if (err instanceof TerminalError) {
        this.queue.forget(key);
        this.logger.error('reconcile failed; not retrying until the object changes', { namespace, name, error });
      } else if (err instanceof RetryError && !err.backoff && err.retryWithinMs !== undefined) {
        this.queue.addAfter(key, err.retryWithinMs);
        this.logger.debug('reconcile waits on a shared failure', { namespace, name, error, retryInMs: err.retryWithinMs });
      } else {
        // An apiserver that answered 429 (or 5xx) with Retry-After is not asked again sooner, as client-go does.
        const retryAfter = retryAfterMs(err);
        this.queue.addRateLimited(key, retryAfter);
        // A deadline the error names comes first, unless the apiserver asked for a longer wait (addAfter keeps the earlier).
        if (err instanceof RetryError && err.retryWithinMs !== undefined) this.queue.addAfter(key, Math.max(err.retryWithinMs, retryAfter));
        this.logger.error('reconcile failed; retrying with backoff', {
          namespace,
          name,
          error,
          retries: this.queue.numRequeues(key),
          ...(retryAfter > 0 ? { retryAfterMs: retryAfter } : {}),
        });
      }
    } finally {
      this.inFlightCount--;
      this.queue.done(key);
      this.metrics.reconcileFinished(this.name, outcome, (this.clock.now() - startedMs) / 1000);
      this.metrics.queueDepth(this.name, this.queue.len());
    }
  }
}

/** Maps an informer event to the keys to reconcile; return undefined or [] to skip it. */
export type EventToKeys<T> = (
  event: InformerEvent<T>,
) => ObjectKey | string | ReadonlyArray<ObjectKey | string> | undefined;

/**
 * Enqueues keys for informer events: by default the object's own `namespace/name`; pass
 * `mapFn` to reach the owner instead (a managed Secret's registry, say). Returns the unsubscribe function.
 */
export function enqueueFromInformer<T extends KubernetesObject>(
  informer: Pick<Informer<T>, 'on'>,
  controller: Pick<Controller, 'enqueue'>,
  mapFn?: EventToKeys<T>,
): () => void {
  const toKeys: EventToKeys<T> = mapFn ?? ((event) => keyOfObject(event.object));
  return informer.on((event) => {
    const keys = toKeys(event);
    if (keys === undefined) return;
    if (isKeyList(keys)) for (const key of keys) controller.enqueue(key);
    else controller.enqueue(keys);
  });
}

function isKeyList(keys: ObjectKey | string | ReadonlyArray<ObjectKey | string>): keys is ReadonlyArray<ObjectKey | string> {
  return Array.isArray(keys);
}
