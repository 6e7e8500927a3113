import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { EcrRegistry, EcrRegistryStatus } from '../api/ecr-registry.ts';

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
  /** Appends `{ name: secretName }` to the imagePullSecrets of the ServiceAccount as read, keeping every other entry. */
  addImagePullSecret(serviceAccount: V1ServiceAccount, secretName: string): Promise<void>;
  /** Removes the entry at `index` only if it still names `secretName`. */
  removeImagePullSecret(namespace: string, serviceAccount: string, index: number, secretName: string): Promise<void>;
  setFinalizers(registry: EcrRegistry, finalizers: string[]): Promise<void>;
  /** Merge-patches status; a null field removes it. */
  patchStatus(registry: EcrRegistry, status: { [K in keyof EcrRegistryStatus]: EcrRegistryStatus[K] | null }): Promise<void>;
}
