import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from './clock.ts';
import { Informer, type ListFunction, type WatchSource } from './informer.ts';
import { KeptReads, type ReadObject, versionOnly } from './kept-reads.ts';
import { formatKey, type ObjectKey, parseKey } from './keys.ts';

export interface ReferenceWatchesOptions<T extends KubernetesObject> {
  name: string;
  /** Collection path in a namespace, e.g. `/api/v1/namespaces/${namespace}/secrets`. */
  pathFor: (namespace: string) => string;
  /** Lists one namespace's collection, metadata only (PartialObjectMetadataList). */
  listMetadataFor: (namespace: string) => ListFunction<KubernetesObject>;
  /** Reads one whole object; undefined when it does not exist. */
  read: ReadObject<T>;
  /** Called with the holders of a referenced object whenever it changes (appears, changes, goes). */
  onChange: (holders: string[]) => void;
  /** A watch source that asks for metadata only. */
  metadataWatchSource: WatchSource;
  /**
   * Watches only the objects this selects, such as all but the pull secrets the operator writes (a
   * cache of their own holds those): each of those writes would otherwise also reach every metadata
   * watch of its namespace. An object it leaves out reads as absent; the cache that holds it answers
   * for it, and reports its changes to `holdersOf`.
   */
  labelSelector?: string;
  clock?: Clock;
  logger?: Logger;
}

interface WatchedNamespace {
  /** Name, namespace and resourceVersion of every object in the namespace; nothing else. */
  informer: Informer<KubernetesObject>;
  /** Referenced object name → its holders. */
  references: Map<string, Set<string>>;
}

/**
 * Follows exactly the objects something references (the credentials Secrets and ServiceAccounts of
 * EcrRegistries) without caching a whole collection such as every Secret in the cluster:
 *
 * - one metadata-only watch per namespace that holds a referenced object (name and resourceVersion of
 *   its objects, nothing of their contents), so a change to a referenced object is seen at once, and
 *   1,000 referenced Secrets in 50 namespaces cost 50 watches, not 1,000;
 * - the whole objects of referenced names only, read once and kept while their resourceVersion is
 *   the one the watch reports; a change drops the copy and the next `get` reads it again.
 *
 * A namespace's watch starts with its first referenced object and stops with its last.
 */
export class ReferenceWatches<T extends KubernetesObject> {
  readonly #options: ReferenceWatchesOptions<T>;
  readonly #namespaces = new Map<string, WatchedNamespace>();
  readonly #byHolder = new Map<string, Set<string>>();
  /** Whole referenced objects, valid while their resourceVersion matches the watch. */
  readonly #objects: KeptReads<T>;

  constructor(options: ReferenceWatchesOptions<T>) {
    this.#options = options;
    this.#objects = new KeptReads(options.read);
  }

  /** Replaces the set of objects `holder` references. */
  setReferences(holder: string, references: readonly ObjectKey[]): void {
    const next = new Map(references.map((r) => [formatKey(r.namespace, r.name), r]));
    const previous = this.#byHolder.get(holder) ?? new Set<string>();
    for (const key of previous) if (!next.has(key)) this.#release(key, holder);
    for (const [key, reference] of next) if (!previous.has(key)) this.#acquire(reference, holder);
    if (next.size === 0) this.#byHolder.delete(holder);
    else this.#byHolder.set(holder, new Set(next.keys()));
  }

  /**
   * The object as it is now: from the kept copy while the namespace's watch says it is unchanged,
   * undefined when the watch says it does not exist, and read otherwise (one read for concurrent gets).
   */
  async get(namespace: string, name: string): Promise<T | undefined> {
    const watched = this.#namespaces.get(namespace);
    if (!watched?.informer.hasSynced()) return this.#objects.get(namespace, name, undefined);
    const current = watched.informer.get(namespace, name);
    if (!current) return undefined;
    // Kept only while it is still referenced when the read returns.
    return this.#objects.get(namespace, name, current.metadata?.resourceVersion, () => this.#namespaces.get(namespace)?.references.has(name) === true);
  }

  /**
   * The holders that reference an object, for a change another cache sees: an object the label
   * selector leaves out (a credentials Secret that carries the operator's managed-by label) reaches
   * only that cache's watch.
   */
  holdersOf(namespace: string, name: string): string[] {
    return [...(this.#namespaces.get(namespace)?.references.get(name) ?? [])];
  }

  /** How many namespaces are being watched. */
  get watchedNamespaces(): number {
    return this.#namespaces.size;
  }

  /** How many whole objects are kept. */
  get keptObjects(): number {
    return this.#objects.size;
  }

  stop(): void {
    for (const { informer } of this.#namespaces.values()) informer.stop();
    this.#namespaces.clear();
    this.#byHolder.clear();
    this.#objects.clear();
  }

  #acquire(reference: ObjectKey, holder: string): void {
    const watched = this.#namespaces.get(reference.namespace) ?? this.#watch(reference.namespace);
    const holders = watched.references.get(reference.name) ?? new Set<string>();
    holders.add(holder);
    watched.references.set(reference.name, holders);
  }

  #release(key: string, holder: string): void {
    const { namespace, name } = parseKey(key);
    const watched = this.#namespaces.get(namespace);
    const holders = watched?.references.get(name);
    if (!watched || !holders) return;
    holders.delete(holder);
    if (holders.size > 0) return;
    watched.references.delete(name);
    this.#objects.drop(key);
    if (watched.references.size > 0) return;
    watched.informer.stop();
    this.#namespaces.delete(namespace);
  }

  #watch(namespace: string): WatchedNamespace {
    const o = this.#options;
    const informer = new Informer<KubernetesObject>({
      name: `${o.name}:${namespace}`,
      path: o.pathFor(namespace),
      list: o.listMetadataFor(namespace),
      watchSource: o.metadataWatchSource,
      ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
      transform: versionOnly,
      ...(o.clock ? { clock: o.clock } : {}),
      ...(o.logger ? { logger: o.logger } : {}),
    });
    const watched: WatchedNamespace = { informer, references: new Map() };
    this.#namespaces.set(namespace, watched);
    informer.on((event) => {
      const name = event.object.metadata?.name ?? '';
      const holders = watched.references.get(name);
      if (!holders) return;
      this.#objects.observe(formatKey(namespace, name), event.type === 'DELETED' ? undefined : event.object.metadata?.resourceVersion);
      o.onChange([...holders]);
    });
    informer.start();
    return watched;
  }
}
