import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from './clock.ts';
import { Informer, type ListFunction, type WatchSource } from './informer.ts';
import { formatKey, type ObjectKey } from './keys.ts';

export interface ReferenceWatchesOptions<T extends KubernetesObject> {
  name: string;
  /** Collection path in a namespace, e.g. `/api/v1/namespaces/${namespace}/secrets`. */
  pathFor: (namespace: string) => string;
  /** Lists one namespace's collection with the given selectors. */
  listFor: (namespace: string) => ListFunction<T>;
  /** Called with the holders of a referenced object whenever it changes (appears, changes, goes). */
  onChange: (holders: string[]) => void;
  kubeConfig?: KubeConfig;
  watchSource?: WatchSource;
  clock?: Clock;
  logger?: Logger;
}

interface Watched<T extends KubernetesObject> {
  informer: Informer<T>;
  holders: Set<string>;
}

/**
 * Watches exactly the objects something references, one name-scoped watch each
 * (`fieldSelector=metadata.name=…`), instead of caching a whole collection such as every Secret
 * in the cluster. Watches start when the first holder references an object and stop with the last.
 */
export class ReferenceWatches<T extends KubernetesObject> {
  readonly #options: ReferenceWatchesOptions<T>;
  readonly #watched = new Map<string, Watched<T>>();
  readonly #byHolder = new Map<string, Set<string>>();

  constructor(options: ReferenceWatchesOptions<T>) {
    this.#options = options;
  }

  /** Replaces the set of objects `holder` references. */
  setReferences(holder: string, references: readonly ObjectKey[]): void {
    const next = new Set(references.map((r) => formatKey(r.namespace, r.name)));
    const previous = this.#byHolder.get(holder) ?? new Set<string>();
    for (const key of previous) if (!next.has(key)) this.#release(key, holder);
    for (const reference of references) {
      const key = formatKey(reference.namespace, reference.name);
      if (!previous.has(key)) this.#acquire(reference, holder);
    }
    if (next.size === 0) this.#byHolder.delete(holder);
    else this.#byHolder.set(holder, next);
  }

  /**
   * The referenced object from its watch, once that watch has synced: `{ synced: false }` means
   * the caller must read it directly; `{ synced: true, object: undefined }` means it doesn't exist.
   */
  get(namespace: string, name: string): { synced: boolean; object?: T } {
    const watched = this.#watched.get(formatKey(namespace, name));
    if (!watched?.informer.hasSynced()) return { synced: false };
    const object = watched.informer.get(namespace, name);
    return object ? { synced: true, object } : { synced: true };
  }

  /** How many objects are being watched. */
  get size(): number {
    return this.#watched.size;
  }

  stop(): void {
    for (const { informer } of this.#watched.values()) informer.stop();
    this.#watched.clear();
    this.#byHolder.clear();
  }

  #acquire(reference: ObjectKey, holder: string): void {
    const key = formatKey(reference.namespace, reference.name);
    const existing = this.#watched.get(key);
    if (existing) {
      existing.holders.add(holder);
      return;
    }
    const o = this.#options;
    const informer = new Informer<T>({
      name: `${o.name}:${key}`,
      path: o.pathFor(reference.namespace),
      list: o.listFor(reference.namespace),
      fieldSelector: `metadata.name=${reference.name}`,
      ...(o.kubeConfig ? { kubeConfig: o.kubeConfig } : {}),
      ...(o.watchSource ? { watchSource: o.watchSource } : {}),
      ...(o.clock ? { clock: o.clock } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
    });
    const watched: Watched<T> = { informer, holders: new Set([holder]) };
    this.#watched.set(key, watched);
    informer.on(() => o.onChange([...watched.holders]));
    informer.start();
  }

  #release(key: string, holder: string): void {
    const watched = this.#watched.get(key);
    if (!watched) return;
    watched.holders.delete(holder);
    if (watched.holders.size > 0) return;
    watched.informer.stop();
    this.#watched.delete(key);
  }
}
