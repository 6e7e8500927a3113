import type { ClusterEcrRegistry } from '../api/cluster-ecr-registry.ts';
import { API_GROUP, API_VERSION, CLUSTER_ECR_REGISTRY, FIELD_MANAGER } from '../api/group.ts';
import { type KubeClients, mergePatch } from '../kube/clients.ts';
import { kubeRegistryWrites } from '../registry/kube-store.ts';
import type { ClusterRegistryWrites } from './store.ts';

/** ClusterRegistryWrites over the Kubernetes API: the pull-secret writes EcrRegistry makes, and its own object. */
export function kubeClusterRegistryWrites(clients: KubeClients): ClusterRegistryWrites {
  const path = (registry: ClusterEcrRegistry) => ({ group: API_GROUP, version: API_VERSION, plural: CLUSTER_ECR_REGISTRY.plural, name: registry.metadata.name! });
  const { createSecret, replaceSecret, deleteSecret, addImagePullSecret, removeImagePullSecret } = kubeRegistryWrites(clients);
  return {
    createSecret,
    replaceSecret,
    deleteSecret,
    addImagePullSecret,
    removeImagePullSecret,
    async setFinalizers(registry, finalizers) {
      return (await clients.customObjects.patchClusterCustomObject(
        { ...path(registry), body: { metadata: { finalizers, resourceVersion: registry.metadata.resourceVersion } }, fieldManager: FIELD_MANAGER },
        mergePatch(),
      )) as ClusterEcrRegistry;
    },
    async patchStatus(registry, status) {
      return (await clients.customObjects.patchClusterCustomObjectStatus({ ...path(registry), body: { status }, fieldManager: FIELD_MANAGER }, mergePatch())) as ClusterEcrRegistry;
    },
  };
}
