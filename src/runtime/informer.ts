import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { makeWatch } from '../kube/clients.ts';
import { type Logger, silentLogger } from '../observability/logger.ts';
import { type Clock, systemClock, type TimerHandle } from './clock.ts';
import { internStrings } from './intern.ts';
import { formatKey, keyOfObject } from './keys.ts';
import { ExponentialBackoffRateLimiter, type RateLimiter } from './rate-limiter.ts';
import { apiStatus } from '../kube/errors.ts';

export type InformerEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** A change to the cache. `old` is the previously cached object, set for MODIFIED. */
export interface InformerEvent<T> {
  type: InformerEventType;
  object: T;
  old?: T;
}

export type InformerHandler<T> = (event: InformerEvent<T>) => void;

/** The values an object is filed under in one index (client-go's IndexFunc); none leaves it out. */
export type IndexFunction<T> = (object: T) => readonly string[];

export type WatchQueryParams = Record<string, string | number | boolean | undefined>;

export interface WatchHandle {
  abort(): void;
}

/**
 * Starts one watch request. `onDone` is called once, when the stream ends or fails.
 * client-node's `Watch` satisfies this; tests pass a fake.
 */
export interface WatchSource {
  watch(
    path: string,
    params: WatchQueryParams,
    onEvent: (phase: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<WatchHandle>;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
}

export type ListResult<T> = { items: T[]; metadata?: { resourceVersion?: string } };

export type ListFunction<T> = (options: ListOptions) => Promise<ListResult<T>>;

export interface InformerOptions<T extends KubernetesObject> {
  /** Used in logs. */
  name: string;
  /** Builds the default watch source; not needed when `watchSource` is given. */
  kubeConfig?: KubeConfig;
  watchSource?: WatchSource;
  /** Collection path to watch, such as `/api/v1/secrets` or `/apis/<group>/<version>/namespaces/<ns>/<plural>`. */
  path: string;
  list: ListFunction<T>;
  labelSelector?: string;
  fieldSelector?: string;
  clock?: Clock;
  logger?: Logger;
  /** Backoff between failed lists or watches; defaults to 1 s doubling to 30 s, with jitter. */
  backoff?: RateLimiter;
  /** Shapes each received object before it is cached (after managedFields are dropped), e.g. to keep only what is read. */
  transform?: (object: T) => T;
  /** A watch that ends cleanly sooner than this without delivering anything counts as a failure, so a server that closes at once is not hammered. */
  minWatchDurationMs?: number;
  /**
   * Each watch asks the apiserver to end it after a random time between this and twice this
   * (`timeoutSeconds`), like client-go's reflector (5 minutes): a quiet watch lasts that long,
   * kept alive by the apiserver's bookmarks, and watches opened together do not all reopen together.
   */
  minWatchTimeoutSeconds?: number;
  /** A number in [0, 1); Math.random by default. Spreads the watch timeouts. */
  random?: () => number;
}

/** client-go's reflector default: watches last 5 to 10 minutes. */
export const MIN_WATCH_TIMEOUT_SECONDS = 300;

const BACKOFF_KEY = 'list-watch';
/** Backoff of relists after 410s in a row; forgotten once a watch serves again. */
const EXPIRED_KEY = 'relist-after-expiry';

/** A question about a cache that has not listed yet: the answer is not known (retry once it has synced). */
export class NotSyncedError extends Error {}

/**
 * List-then-watch cache of one resource collection, after client-go's reflector and informer.
 *
 * The cache holds the objects as received, less `metadata.managedFields` (the operator never reads
 * them, and they are often the largest part of an object; controller-runtime's
 * TransformStripManagedFields) and with each repeated text held once (runtime/intern.ts), keyed by
 * `namespace/name`. Objects returned by `get`/`list` and passed to handlers are shared with the
 * cache: treat them as read-only (copy with `structuredClone` before changing one).
 *
 * When the watch's resourceVersion has expired (410 Gone), the informer relists and emits
 * ADDED/MODIFIED/DELETED for the differences, so handlers see every change, coalesced.
 * An informer is started once; after `stop` it stays stopped.
 *
 * Indexes (client-go's Indexers, controller-runtime's IndexField) answer "which objects have value v"
 * without scanning the cache: `addIndex` files each object under the values its function returns,
 * and every add, update, delete and relist refiles it before handlers hear of the change.
 */
export class Informer<T extends KubernetesObject> {
  readonly name: string;
  private readonly path: string;
  private readonly listFn: ListFunction<T>;
  private readonly source: WatchSource;
  private readonly labelSelector: string | undefined;
  private readonly fieldSelector: string | undefined;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly backoff: RateLimiter;
  private readonly minWatchDurationMs: number;
  private readonly transform: ((object: T) => T) | undefined;
  private readonly minWatchTimeoutSeconds: number;
  private readonly random: () => number;

  private cache = new Map<string, T>();
  private readonly indexes = new Map<string, ObjectIndex<T>>();
  private readonly handlers = new Set<InformerHandler<T>>();
  private readonly syncWaiters = new Set<{ resolve: () => void; reject: (err: unknown) => void }>();
  private resourceVersion: string | undefined;
  private needsList = true;
  private synced = false;
  private started = false;
  private stopped = false;

  /** Bumped whenever a watch is abandoned, so late callbacks from it are ignored. */
  private watchGeneration = 0;
  private currentWatch: WatchHandle | undefined;
  private watchStartedMs = 0;
  private watchDeliveredEvents = false;
  /** 410s since a watch last served (delivered an event or ran a while); the second and later ones back off. */
  private expiredInARow = 0;
  private retryTimer: TimerHandle | undefined;

  constructor(options: InformerOptions<T>) {
    this.name = options.name;
    this.path = options.path;
    this.listFn = options.list;
    this.labelSelector = options.labelSelector;
    this.fieldSelector = options.fieldSelector;
    this.clock = options.clock ?? systemClock;
    this.logger = (options.logger ?? silentLogger()).child({ informer: options.name });
    this.backoff =
      options.backoff ?? new ExponentialBackoffRateLimiter({ baseDelayMs: 1000, maxDelayMs: 30_000, jitter: 0.5 });
    this.minWatchDurationMs = options.minWatchDurationMs ?? 1000;
    this.transform = options.transform;
    this.minWatchTimeoutSeconds = options.minWatchTimeoutSeconds ?? MIN_WATCH_TIMEOUT_SECONDS;
    this.random = options.random ?? Math.random;
    if (options.watchSource) this.source = options.watchSource;
    else if (options.kubeConfig) this.source = makeWatch(options.kubeConfig);
    else throw new Error(`informer ${options.name}: kubeConfig or watchSource is required`);
  }

  /**
   * Subscribes to cache changes and returns the unsubscribe function. A handler added
   * after objects are cached first receives an ADDED for each of them.
   */
  on(handler: InformerHandler<T>): () => void {
    this.handlers.add(handler);
    for (const object of this.cache.values()) this.deliver(handler, { type: 'ADDED', object });
    return () => {
      this.handlers.delete(handler);
    };
  }

  onAdd(fn: (object: T) => void): () => void {
    return this.on((event) => {
      if (event.type === 'ADDED') fn(event.object);
    });
  }

  onUpdate(fn: (object: T, old: T) => void): () => void {
    return this.on((event) => {
      if (event.type === 'MODIFIED' && event.old) fn(event.object, event.old);
    });
  }

  onDelete(fn: (object: T) => void): () => void {
    return this.on((event) => {
      if (event.type === 'DELETED') fn(event.object);
    });
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    void this.listAndWatch();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.abandonWatch();
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const waiter of this.syncWaiters) waiter.reject(new Error(`informer ${this.name} stopped before it synced`));
    this.syncWaiters.clear();
  }

  /** True once the first list has been delivered to the cache and handlers. */
  hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    if (this.stopped) return Promise.reject(new Error(`informer ${this.name} stopped before it synced`));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.syncWaiters.delete(waiter);
        reject(signal?.reason);
      };
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      this.syncWaiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The cached object (read-only), with `namespace` undefined or '' for cluster-scoped objects. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(formatKey(namespace, name));
  }

  /** Cached objects (read-only), all of them or those in one namespace. */
  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((object) => (object.metadata?.namespace ?? '') === namespace);
  }

  /**
   * Adds an index named `name`, filled from what is cached now and kept up to date from then on.
   * Add indexes before `start`, as controller-runtime requires, so none is missing when handlers run.
   */
  addIndex(name: string, indexFunction: IndexFunction<T>): void {
    if (this.indexes.has(name)) throw new Error(`informer ${this.name}: index ${name} already exists`);
    const index = new ObjectIndex(indexFunction);
    for (const [key, object] of this.cache) index.add(key, object);
    this.indexes.set(name, index);
  }

  /** The cached objects (read-only) that index `name` files under `value`. */
  byIndex(name: string, value: string): T[] {
    const index = this.indexes.get(name);
    if (!index) throw new Error(`informer ${this.name}: no index named ${name}`);
    return [...index.keysOf(value)].map((key) => this.cache.get(key)!);
  }

  /** The resourceVersion the next watch would resume from. */
  lastSyncResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  private async listAndWatch(): Promise<void> {
    if (this.stopped) return;
    if (this.needsList) {
      let result: ListResult<T>;
      try {
        result = await this.listFn({ labelSelector: this.labelSelector, fieldSelector: this.fieldSelector });
      } catch (err) {
        if (this.stopped) return;
        this.retryLater('list failed', err);
        return;
      }
      if (this.stopped) return;
      this.replace(result);
      this.needsList = false;
    }
    this.startWatch();
  }

  private startWatch(): void {
    const generation = ++this.watchGeneration;
    this.watchStartedMs = this.clock.now();
    this.watchDeliveredEvents = false;
    const params: WatchQueryParams = {
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.floor(this.minWatchTimeoutSeconds * (1 + this.random())),
      labelSelector: this.labelSelector,
      fieldSelector: this.fieldSelector,
    };
    let started: Promise<WatchHandle>;
    try {
      started = this.source.watch(
        this.path,
        params,
        (phase, object) => {
          if (generation === this.watchGeneration) this.onWatchEvent(phase, object);
        },
        (err) => {
          if (generation === this.watchGeneration) this.onWatchEnd(err);
        },
      );
    } catch (err) {
      started = Promise.reject(err);
    }
    started.then(
      (handle) => {
        if (generation === this.watchGeneration) this.currentWatch = handle;
        else handle.abort();
      },
      (err: unknown) => {
        if (generation === this.watchGeneration) this.onWatchEnd(err);
      },
    );
  }

  private onWatchEvent(phase: string, raw: unknown): void {
    if (phase === 'ERROR') {
      const status = asStatus(raw);
      const useful = this.watchWasUseful();
      this.abandonWatch();
      if (status.code === 410) {
        this.relistAfterExpiry(useful);
      } else {
        this.retryLater('watch error event', new Error(status.message ?? `watch error ${status.code ?? 'unknown'}`));
      }
      return;
    }
    if (phase === 'BOOKMARK') {
      // A bookmark carries only metadata.resourceVersion: progress to resume from, no change.
      const resourceVersion = resourceVersionOf(raw);
      if (resourceVersion) this.resourceVersion = resourceVersion;
      this.watchDeliveredEvents = true;
      this.backoff.forget(BACKOFF_KEY);
      return;
    }
    if (!isObjectWithName(raw)) {
      this.logger.warn('ignoring watch event without an object name', { phase });
      return;
    }
    const object = this.shape(raw as T);
    this.watchDeliveredEvents = true;
    this.backoff.forget(BACKOFF_KEY);
    this.resetExpiries();
    const resourceVersion = object.metadata?.resourceVersion;
    if (resourceVersion) this.resourceVersion = resourceVersion;
    const key = keyOfObject(object)!;
    const old = this.cache.get(key);
    switch (phase) {
      case 'ADDED':
      case 'MODIFIED':
        this.cache.set(key, object);
        for (const index of this.indexes.values()) index.update(key, old, object);
        this.emit(old ? { type: 'MODIFIED', object, old } : { type: 'ADDED', object });
        break;
      case 'DELETED':
        this.cache.delete(key);
        // Filed under what the cache held, which is what the index last saw.
        for (const index of this.indexes.values()) index.update(key, old ?? object, undefined);
        this.emit({ type: 'DELETED', object });
        break;
      default:
        this.logger.debug('ignoring watch event of unknown type', { phase });
    }
  }

  private onWatchEnd(err: unknown): void {
    const ranMs = this.clock.now() - this.watchStartedMs;
    const delivered = this.watchDeliveredEvents;
    const useful = this.watchWasUseful();
    this.abandonWatch();
    if (this.stopped) return;
    if (apiStatus(err) === 410) {
      this.relistAfterExpiry(useful);
    } else if (err === null || err === undefined || isTimeout(err)) {
      // The apiserver ends each watch at its timeoutSeconds; that is routine.
      if (delivered || ranMs >= this.minWatchDurationMs) {
        this.logger.debug('watch ended, resuming', { resourceVersion: this.resourceVersion, ranMs });
        this.restartNow();
      } else this.retryLater('watch closed immediately', err);
    } else {
      this.retryLater('watch failed', err);
    }
  }

  /** Whether the current watch delivered anything or ran a while, so ending it now is not a failure in a row. */
  private watchWasUseful(): boolean {
    return this.watchDeliveredEvents || this.clock.now() - this.watchStartedMs >= this.minWatchDurationMs;
  }

  /**
   * A 410 Gone: the resourceVersion is too old to resume from, so relist: at once the first time,
   * and with growing backoff while 410s keep coming with no watch serving in between, since
   * relisting at once would only loop (client-go's reflector backs off its relists the same way).
   */
  private relistAfterExpiry(afterUsefulWatch: boolean): void {
    this.needsList = true;
    if (afterUsefulWatch) this.resetExpiries();
    if (this.expiredInARow++ === 0) {
      this.logger.info('watch resourceVersion expired, relisting', { resourceVersion: this.resourceVersion });
      this.restartNow();
      return;
    }
    const delayMs = this.backoff.when(EXPIRED_KEY);
    this.logger.warn('watch resourceVersion expired again; relisting after a backoff', {
      resourceVersion: this.resourceVersion,
      retryInMs: delayMs,
      expiredInARow: this.expiredInARow,
    });
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.listAndWatch();
    }, delayMs);
  }

  private resetExpiries(): void {
    this.expiredInARow = 0;
    this.backoff.forget(EXPIRED_KEY);
  }

  /** Stops listening to the current watch; its late callbacks are ignored. */
  private abandonWatch(): void {
    this.watchGeneration++;
    const handle = this.currentWatch;
    this.currentWatch = undefined;
    handle?.abort();
  }

  private restartNow(): void {
    queueMicrotask(() => void this.listAndWatch());
  }

  private retryLater(what: string, err: unknown): void {
    const delayMs = this.backoff.when(BACKOFF_KEY);
    this.logger.warn(`${what}, retrying`, {
      error: err instanceof Error ? err.message : String(err),
      retryInMs: delayMs,
      failures: this.backoff.retries(BACKOFF_KEY),
    });
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      void this.listAndWatch();
    }, delayMs);
  }

  private shape(received: T): T {
    const object = withoutManagedFields(received);
    return internStrings(this.transform ? this.transform(object) : object);
  }

  /** Replaces the cache with a fresh list and emits the differences. */
  private replace(result: ListResult<T>): void {
    const next = new Map<string, T>();
    // A metadata-only list of an empty collection has `"items": null`.
    for (const received of result.items ?? []) {
      const item = this.shape(received);
      const key = keyOfObject(item);
      if (key) next.set(key, item);
    }
    const events: InformerEvent<T>[] = [];
    for (const [key, object] of next) {
      const old = this.cache.get(key);
      if (!old) events.push({ type: 'ADDED', object });
      else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion) {
        events.push({ type: 'MODIFIED', object, old });
      }
    }
    for (const [key, old] of this.cache) {
      if (!next.has(key)) events.push({ type: 'DELETED', object: old });
    }
    this.cache = next;
    for (const index of this.indexes.values()) index.rebuild(next);
    this.resourceVersion = result.metadata?.resourceVersion;
    if (!this.resourceVersion) this.logger.warn('list returned no resourceVersion; the watch will start from now');
    this.backoff.forget(BACKOFF_KEY);
    for (const event of events) this.emit(event);
    if (!this.synced) {
      this.synced = true;
      this.logger.debug('synced', { objects: next.size });
      for (const waiter of this.syncWaiters) waiter.resolve();
      this.syncWaiters.clear();
    }
  }

  private emit(event: InformerEvent<T>): void {
    for (const handler of this.handlers) this.deliver(handler, event);
  }

  private deliver(handler: InformerHandler<T>, event: InformerEvent<T>): void {
    try {
      handler(event);
    } catch (err) {
      this.logger.error('informer event handler threw', {
        type: event.type,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}

/** One index: value → keys of the objects filed under it. */
class ObjectIndex<T> {
  readonly #indexFunction: IndexFunction<T>;
  readonly #keysByValue = new Map<string, Set<string>>();

  constructor(indexFunction: IndexFunction<T>) {
    this.#indexFunction = indexFunction;
  }

  keysOf(value: string): ReadonlySet<string> {
    return this.#keysByValue.get(value) ?? new Set();
  }

  add(key: string, object: T): void {
    for (const value of this.#indexFunction(object)) {
      const keys = this.#keysByValue.get(value) ?? new Set<string>();
      keys.add(key);
      this.#keysByValue.set(value, keys);
    }
  }

  /** Refiles `key` from what `old` was filed under to what `next` is (undefined: removed). */
  update(key: string, old: T | undefined, next: T | undefined): void {
    if (old) {
      for (const value of this.#indexFunction(old)) {
        const keys = this.#keysByValue.get(value);
        keys?.delete(key);
        if (keys?.size === 0) this.#keysByValue.delete(value);
      }
    }
    if (next) this.add(key, next);
  }

  rebuild(cache: ReadonlyMap<string, T>): void {
    this.#keysByValue.clear();
    for (const [key, object] of cache) this.add(key, object);
  }
}

function isObjectWithName(value: unknown): value is KubernetesObject {
  if (typeof value !== 'object' || value === null) return false;
  const metadata = (value as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null) return false;
  const name = (metadata as { name?: unknown }).name;
  return typeof name === 'string' && name !== '';
}

function resourceVersionOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const metadata = (value as { metadata?: unknown }).metadata;
  if (typeof metadata !== 'object' || metadata === null) return undefined;
  const resourceVersion = (metadata as { resourceVersion?: unknown }).resourceVersion;
  return typeof resourceVersion === 'string' ? resourceVersion : undefined;
}

/** The metav1.Status an ERROR watch event carries. */
function asStatus(value: unknown): { code?: number; message?: string } {
  if (typeof value !== 'object' || value === null) return {};
  const { code, message } = value as { code?: unknown; message?: unknown };
  return {
    code: typeof code === 'number' ? code : undefined,
    message: typeof message === 'string' ? message : undefined,
  };
}

/** HTTP status of a watch failure: client-node sets `statusCode`, ApiException sets `code`. */
function isTimeout(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'TimeoutError';
}

/** Drops managedFields from an object the informer has just received (and so owns). */
function withoutManagedFields<T extends KubernetesObject>(object: T): T {
  if (object.metadata && 'managedFields' in object.metadata) delete object.metadata.managedFields;
  return object;
}
