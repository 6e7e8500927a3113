import type { KubernetesObject } from '@kubernetes/client-node';
import type { InformerEvent } from './informer.ts';
import { keyOfObject } from './keys.ts';

/**
 * Objects this process wrote, kept until the informer's cache has caught up with them, after
 * client-go's MutationCache. A reconcile that runs before the watch delivers our own last write
 * would otherwise judge its next write against an older object, and skip a change the apiserver
 * does not hold (a status write that looks like a no-op). Like client-go's integer mutation cache,
 * it compares resourceVersions as integers, which etcd's are; an object whose versions are not
 * integers is never preferred over the cache.
 *
 * Feed it the informer's events (`observe`), as client-go's expires its entries: a write whose echo
 * has arrived is dropped then, not kept (a second copy of the object) until the next read, which for
 * a registry that only refreshes can be hours away.
 */
export class MutationCache<T extends KubernetesObject> {
  readonly #written = new Map<string, T>();

  /** Remembers an object as the apiserver returned it from a write. */
  assume(object: T): void {
    const key = keyOfObject(object);
    if (!key) return;
    const known = this.#written.get(key);
    if (!known || newer(object, known)) this.#written.set(key, object);
  }

  /** Forgets our write of this object once the informer holds it, or a newer version, or its deletion. */
  observe(event: InformerEvent<T>): void {
    const key = keyOfObject(event.object);
    const written = key === undefined ? undefined : this.#written.get(key);
    if (written && (event.type === 'DELETED' || !newer(written, event.object))) this.#written.delete(key!);
  }

  /** How many writes are kept. */
  get size(): number {
    return this.#written.size;
  }

  /**
   * The newer of the cached object and the one this process last wrote. A missing cached object
   * means deleted (or not listed yet): nothing written earlier can be newer than that.
   */
  newest(key: string, cached: T | undefined): T | undefined {
    const written = this.#written.get(key);
    if (!written) return cached;
    if (cached && newer(written, cached)) return written;
    this.#written.delete(key);
    return cached;
  }
}

function newer(a: KubernetesObject, b: KubernetesObject): boolean {
  const x = integerVersion(a);
  const y = integerVersion(b);
  return x !== undefined && y !== undefined && x > y;
}

function integerVersion(object: KubernetesObject): bigint | undefined {
  const version = object.metadata?.resourceVersion;
  return version && /^[0-9]+$/.test(version) ? BigInt(version) : undefined;
}
