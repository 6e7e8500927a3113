import { API_GROUP, API_VERSION, FIELD_MANAGER, IMAGE_IMPORT } from '../api/group.ts';
import { type KubeClients, mergePatch } from '../kube/clients.ts';
import type { ImageImportWrites } from './store.ts';


/** ImageImportWrites over the Kubernetes API. */
export function kubeImageImportWrites(clients: KubeClients): ImageImportWrites {
  return {
    async patchStatus(imageImport, patch) {
      await clients.customObjects.patchNamespacedCustomObjectStatus(
        {
          group: API_GROUP,
          version: API_VERSION,
          plural: IMAGE_IMPORT.plural,
          namespace: imageImport.metadata.namespace!,
          name: imageImport.metadata.name!,
          body: { status: patch },
          fieldManager: FIELD_MANAGER,
        },
        mergePatch(),
      );
    },
  };
}
