import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { EcrRegistry, EcrRegistryStatus } from '../api/ecr-registry.ts';
import { formatKey } from '../runtime/keys.ts';
import { MutationCache } from '../runtime/mutation-cache.ts';

/** Reads of current state: informer caches where the operator watches, direct reads elsewhere. */
export interface RegistryReads {
  registry(namespace: string, name: string): EcrRegistry | undefined;
  /** Pull secrets this operator manages (label-selected cache). */
  managedSecret(namespace: string, name: string): V1Secret | undefined;
  /** Any Secret by name: the referenced credentials, or a Secret whose name we are about to take. */
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
  serviceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined>;
  /** ImageImports in the namespace that reference the registry; they hold its deletion. */
  registryUsers(namespace: string, name: string): string[];
}

/** The writes a registry reconcile may make. Each is one API call. */
export interface RegistryWrites {
  createSecret(secret: V1Secret): Promise<V1Secret>;
  replaceSecret(secret: V1Secret): Promise<V1Secret>;
  deleteSecret(namespace: string, name: string, uid: string): Promise<void>;
  /**
   * Appends `{ name: secretName }` to the imagePullSecrets of the ServiceAccount as read, keeping every
   * other entry. Throws a conflict (409) when the ServiceAccount changed since it was read.
   */
  addImagePullSecret(serviceAccount: V1ServiceAccount, secretName: string): Promise<void>;
  /** Removes the entry at `index` only if it still names `secretName`; a conflict (409) otherwise. */
  removeImagePullSecret(namespace: string, serviceAccount: string, index: number, secretName: string): Promise<void>;
  /** Returns the registry as written, so a reader can prefer it over a cache that lags. */
  setFinalizers(registry: EcrRegistry, finalizers: string[]): Promise<EcrRegistry>;
  /** Merge-patches status; a null field removes it. Returns the registry as written. */
  patchStatus(registry: EcrRegistry, status: { [K in keyof EcrRegistryStatus]: EcrRegistryStatus[K] | null }): Promise<EcrRegistry>;
}

/**
 * Reads that see this process's own writes of a registry (finalizers, status) before the informer
 * delivers them. Without it, a reconcile that follows a failed one before the failure's echo arrives
 * diffs its status against the older cached copy, finds nothing to write, and leaves the failure in
 * place (the echo itself is dropped as our own write). Pass the MutationCache that the registry
 * informer's events feed (`observe`), so a write is forgotten once its echo arrives.
 */
export function readYourWrites(reads: RegistryReads, writes: RegistryWrites, written = new MutationCache<EcrRegistry>()): { reads: RegistryReads; writes: RegistryWrites } {
  const assumed = (registry: EcrRegistry) => {
    written.assume(registry);
    return registry;
  };
  return {
    reads: { ...reads, registry: (namespace, name) => written.newest(formatKey(namespace, name), reads.registry(namespace, name)) },
    writes: {
      ...writes,
      setFinalizers: async (registry, finalizers) => assumed(await writes.setFinalizers(registry, finalizers)),
      patchStatus: async (registry, status) => assumed(await writes.patchStatus(registry, status)),
    },
  };
}
