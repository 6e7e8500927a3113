import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { ClusterEcrRegistry, ClusterEcrRegistryStatus } from '../api/cluster-ecr-registry.ts';
import type { RegistryWrites } from '../registry/store.ts';
import type { NamespaceView } from './namespace-selection.ts';

/** Reads of current state for ClusterEcrRegistries: informer caches, direct reads where none is kept. */
export interface ClusterRegistryReads {
  clusterRegistry(name: string): ClusterEcrRegistry | undefined;
  /** Every namespace, from a metadata-only cache. */
  namespaces(): NamespaceView[];
  /** The pull secrets this ClusterEcrRegistry owns, in every namespace (label-indexed cache). */
  ownedSecrets(name: string): V1Secret[];
  /** A pull secret this operator manages (label-selected cache). */
  managedSecret(namespace: string, name: string): V1Secret | undefined;
  /** Any Secret by name: the credentials, or one whose name a create found taken. */
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
  serviceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined>;
  /** `namespace/name` of the ImageImports that use the ClusterEcrRegistry; they hold its deletion. */
  users(name: string): string[];
}

/** The writes a ClusterEcrRegistry reconcile may make: the Secret and ServiceAccount writes EcrRegistry makes, and its own. */
export interface ClusterRegistryWrites extends Pick<RegistryWrites, 'createSecret' | 'replaceSecret' | 'deleteSecret' | 'addImagePullSecret' | 'removeImagePullSecret'> {
  setFinalizers(registry: ClusterEcrRegistry, finalizers: string[]): Promise<ClusterEcrRegistry>;
  patchStatus(registry: ClusterEcrRegistry, status: { [K in keyof ClusterEcrRegistryStatus]: ClusterEcrRegistryStatus[K] | null }): Promise<ClusterEcrRegistry>;
}
