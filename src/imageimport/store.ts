import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { ClusterEcrRegistry } from '../api/cluster-ecr-registry.ts';
import type { EcrRegistry } from '../api/ecr-registry.ts';
import type { ImageImport, ImageImportStatus } from '../api/image-import.ts';

/** Reads of current state: informer caches, and Secrets from the registry controller's caches or read directly (never cached wholesale). */
export interface ImageImportReads {
  imageImport(namespace: string, name: string): ImageImport | undefined;
  registry(namespace: string, name: string): EcrRegistry | undefined;
  /** Undefined for every name when the operator watches one namespace (no ClusterEcrRegistries then). */
  clusterRegistry(name: string): ClusterEcrRegistry | undefined;
  /** Whether the ClusterEcrRegistry selects the namespace, by the namespace's labels as cached. */
  selects(registry: ClusterEcrRegistry, namespace: string): boolean;
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** A ServiceAccount whose web identity a registry uses, through the registry controllers' caches. */
  serviceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined>;
}

/** A status merge patch: the fields that changed, with null for fields to remove. */
export type ImageImportStatusPatch = { [K in keyof ImageImportStatus]?: ImageImportStatus[K] | null };

/** The only write an ImageImport reconcile makes. Nothing here can touch a registry's pull secret. */
export interface ImageImportWrites {
  patchStatus(imageImport: ImageImport, patch: ImageImportStatusPatch): Promise<void>;
}
