import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from './clock.ts';
import { Informer, type InformerHandler, type ListFunction, type WatchSource } from './informer.ts';
import { KeptReads, type ReadObject, versionOnly } from './kept-reads.ts';
import { formatKey } from './keys.ts';

export interface MetadataBackedReadsOptions<T extends KubernetesObject> {
  name: string;
  /** The collection across all namespaces, such as `/api/v1/serviceaccounts`. */
  path: string;
  /** Lists it, metadata only (PartialObjectMetadataList). */
  listMetadata: ListFunction<KubernetesObject>;
  metadataWatchSource: WatchSource;
  /** Reads one whole object; undefined when it does not exist. */
  read: ReadObject<T>;
  clock?: Clock;
  logger?: Logger;
}

/**
 * Whole objects of a collection read on demand, behind ONE metadata-only watch of the whole collection
 * (name, namespace and resourceVersion of each object, nothing of its contents): an object that the
 * watch says does not exist is not read, and one read before is served from the kept copy while its
 * resourceVersion is the one the watch reports (KeptReads, which also shares concurrent reads). For
 * objects named in many namespaces at once (the ServiceAccounts of a ClusterEcrRegistry), where one
 * watch per namespace would be thousands.
 * The watch starts with the first `start()`.
 */
export class MetadataBackedReads<T extends KubernetesObject> {
  readonly #informer: Informer<KubernetesObject>;
  readonly #kept: KeptReads<T>;
  #started = false;

  constructor(options: MetadataBackedReadsOptions<T>) {
    this.#kept = new KeptReads(options.read);
    this.#informer = new Informer<KubernetesObject>({
      name: options.name,
      path: options.path,
      list: options.listMetadata,
      watchSource: options.metadataWatchSource,
      transform: versionOnly,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.#informer.on(({ type, object }) => {
      this.#kept.observe(formatKey(object.metadata?.namespace, object.metadata?.name ?? ''), type === 'DELETED' ? undefined : object.metadata?.resourceVersion);
    });
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#informer.start();
  }

  stop(): void {
    this.#informer.stop();
    this.#kept.clear();
  }

  /** Called with each change the watch sees (metadata only). */
  on(handler: InformerHandler<KubernetesObject>): () => void {
    return this.#informer.on(handler);
  }

  /** The object as it is now: undefined when the watch says it does not exist, the kept copy while unchanged, read otherwise. */
  async get(namespace: string, name: string): Promise<T | undefined> {
    if (!this.#informer.hasSynced()) return this.#kept.get(namespace, name, undefined);
    const current = this.#informer.get(namespace, name);
    if (!current) return undefined;
    return this.#kept.get(namespace, name, current.metadata?.resourceVersion);
  }
}
