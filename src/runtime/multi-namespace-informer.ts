import type { KubernetesObject } from '@kubernetes/client-node';
import type { IndexFunction, Informer, InformerHandler } from './informer.ts';

/**
 * What controllers use of an informer: its cache, its indexes and its events. An `Informer` is one;
 * so is a `MultiNamespaceInformer`, which serves the same calls from one informer per namespace.
 */
export type SharedInformer<T extends KubernetesObject> = Pick<
  Informer<T>,
  'name' | 'on' | 'start' | 'stop' | 'hasSynced' | 'waitForSync' | 'get' | 'list' | 'addIndex' | 'byIndex'
>;

/**
 * One collection watched in several namespaces, as controller-runtime's multi-namespace cache does:
 * one informer (one list and watch) per namespace, read as one. Every object lives in the informer
 * of its namespace, so `get` asks that one, `list` and `byIndex` join their answers, and handlers
 * hear every informer's events. Objects of other namespaces are never listed, watched or cached.
 */
export class MultiNamespaceInformer<T extends KubernetesObject> implements SharedInformer<T> {
  readonly name: string;
  readonly #byNamespace: ReadonlyMap<string, Informer<T>>;

  /** `informers`: namespace → the informer of that namespace's collection (e.g. `/api/v1/namespaces/<ns>/secrets`). */
  constructor(name: string, informers: ReadonlyMap<string, Informer<T>>) {
    if (informers.size === 0) throw new Error(`informer ${name}: no namespace to watch`);
    this.name = name;
    this.#byNamespace = informers;
  }

  /** The namespaces watched. */
  namespaces(): string[] {
    return [...this.#byNamespace.keys()];
  }

  on(handler: InformerHandler<T>): () => void {
    const unsubscribes = this.#all().map((informer) => informer.on(handler));
    return () => {
      for (const unsubscribe of unsubscribes) unsubscribe();
    };
  }

  start(): void {
    for (const informer of this.#all()) informer.start();
  }

  stop(): void {
    for (const informer of this.#all()) informer.stop();
  }

  /** True once every namespace has been listed. */
  hasSynced(): boolean {
    return this.#all().every((informer) => informer.hasSynced());
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.#all().map((informer) => informer.waitForSync(signal)));
  }

  /** The cached object; undefined for a namespace that is not watched (or no namespace). */
  get(namespace: string | undefined, name: string): T | undefined {
    return namespace === undefined ? undefined : this.#byNamespace.get(namespace)?.get(namespace, name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return this.#byNamespace.get(namespace)?.list(namespace) ?? [];
    return this.#all().flatMap((informer) => informer.list());
  }

  /** Adds the index to every namespace's informer; add indexes before `start`, as for an Informer. */
  addIndex(name: string, indexFunction: IndexFunction<T>): void {
    for (const informer of this.#all()) informer.addIndex(name, indexFunction);
  }

  byIndex(name: string, value: string): T[] {
    return this.#all().flatMap((informer) => informer.byIndex(name, value));
  }

  #all(): Informer<T>[] {
    return [...this.#byNamespace.values()];
  }
}

/**
 * The informer of a collection in the watched namespaces: `create(undefined)` for all of them
 * (one cluster-wide watch) or a single one, else a MultiNamespaceInformer over `create(namespace)`
 * for each. `create` builds the informer of one namespace's collection, or of every namespace's.
 */
export function informerForNamespaces<T extends KubernetesObject>(
  namespaces: readonly string[] | undefined,
  create: (namespace: string | undefined) => Informer<T>,
): SharedInformer<T> {
  if (namespaces === undefined) return create(undefined);
  if (namespaces.length === 0) throw new Error('an empty namespace list would watch nothing; leave it unset to watch every namespace');
  const unique = [...new Set(namespaces)];
  if (unique.length === 1) return create(unique[0]);
  const informers = new Map(unique.map((namespace) => [namespace, create(namespace)] as const));
  return new MultiNamespaceInformer(informers.get(unique[0]!)!.name, informers);
}
