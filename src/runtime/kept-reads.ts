import type { KubernetesObject } from '@kubernetes/client-node';
import { formatKey } from './keys.ts';

/**
 * What a metadata-only watch behind KeptReads holds of each object: only what tells one version from the
 * next. Labels and annotations can be large, and kubectl's last-applied-configuration annotation would
 * hold a Secret's data.
 */
export function versionOnly({ metadata }: KubernetesObject): KubernetesObject {
  return { metadata: { name: metadata?.name, namespace: metadata?.namespace, resourceVersion: metadata?.resourceVersion, uid: metadata?.uid } };
}

/** Reads one whole object; undefined when it does not exist. */
export type ReadObject<T extends KubernetesObject> = (namespace: string, name: string) => Promise<T | undefined>;

/**
 * Whole objects read on demand behind a metadata-only watch, which reports each object's
 * resourceVersion and nothing of its contents. A copy read before is served while its resourceVersion
 * is the one the watch reports now; otherwise the object is read again. Concurrent reads of one object
 * at one version share a single request: the registries that share a credentials Secret, all reconciled
 * at once, wait for the same read instead of each making its own.
 */
export class KeptReads<T extends KubernetesObject> {
  readonly #read: ReadObject<T>;
  /** Whole objects by `namespace/name`. */
  readonly #kept = new Map<string, T>();
  /** Reads under way, by `namespace/name`, with the resourceVersion the watch reported when each began. */
  readonly #reading = new Map<string, { resourceVersion: string | undefined; read: Promise<T | undefined> }>();

  constructor(read: ReadObject<T>) {
    this.#read = read;
  }

  /**
   * The object at `resourceVersion`, the version the watch reports now: the kept copy when it is that
   * version, or one read. With no version (the watch has not listed yet) nothing is kept. `keep` is
   * asked once the read returns, so an object no longer wanted by then is not held.
   */
  get(namespace: string, name: string, resourceVersion: string | undefined, keep: () => boolean = () => true): Promise<T | undefined> {
    const key = formatKey(namespace, name);
    const kept = this.#kept.get(key);
    if (resourceVersion !== undefined && kept?.metadata?.resourceVersion === resourceVersion) return Promise.resolve(kept);
    const pending = this.#reading.get(key);
    if (pending && pending.resourceVersion === resourceVersion) return pending.read;
    const read = this.#read(namespace, name).then((object) => {
      if (resourceVersion !== undefined && object && keep()) this.#kept.set(key, object);
      return object;
    });
    const entry = { resourceVersion, read };
    this.#reading.set(key, entry);
    const done = () => {
      if (this.#reading.get(key) === entry) this.#reading.delete(key);
    };
    read.then(done, done);
    return read;
  }

  /** What the watch reported for an object: the kept copy goes unless it is at this version; undefined means the object is gone. */
  observe(key: string, resourceVersion: string | undefined): void {
    const kept = this.#kept.get(key);
    if (kept && (resourceVersion === undefined || kept.metadata?.resourceVersion !== resourceVersion)) this.#kept.delete(key);
  }

  /** Drops the kept copy of an object no longer wanted. */
  drop(key: string): void {
    this.#kept.delete(key);
  }

  clear(): void {
    this.#kept.clear();
  }

  /** How many whole objects are kept. */
  get size(): number {
    return this.#kept.size;
  }
}
