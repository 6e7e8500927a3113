import type { EcrRegistry } from '../api/ecr-registry.ts';
import { API_GROUP, API_VERSION, ECR_REGISTRY, FIELD_MANAGER } from '../api/group.ts';
import { type KubeClients, jsonPatch, mergePatch } from '../kube/clients.ts';
import { isNotFound, isPatchTestFailure, PatchTestFailedError } from '../kube/errors.ts';
import type { RegistryWrites } from './store.ts';


/** RegistryWrites over the Kubernetes API. */
export function kubeRegistryWrites(clients: KubeClients): RegistryWrites {
  const registryPath = (registry: EcrRegistry) => ({
    group: API_GROUP,
    version: API_VERSION,
    plural: ECR_REGISTRY.plural,
    namespace: registry.metadata.namespace!,
    name: registry.metadata.name!,
  });
  return {
    createSecret: (secret) => clients.core.createNamespacedSecret({ namespace: secret.metadata!.namespace!, body: secret, fieldManager: FIELD_MANAGER }),
    // The body carries the resourceVersion we read, so a concurrent change makes this a 409, not a lost update.
    replaceSecret: (secret) =>
      clients.core.replaceNamespacedSecret({ namespace: secret.metadata!.namespace!, name: secret.metadata!.name!, body: secret, fieldManager: FIELD_MANAGER }),
    async deleteSecret(namespace, name, uid) {
      try {
        await clients.core.deleteNamespacedSecret({ namespace, name, body: { preconditions: { uid } } });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    },
    async addImagePullSecret(account, secretName) {
      // A ServiceAccount's imagePullSecrets has no merge strategy (unlike a Pod's), so a strategic
      // merge patch would replace the list: append with a JSON patch guarded by the resourceVersion we read.
      const guard = { op: 'test', path: '/metadata/resourceVersion', value: account.metadata!.resourceVersion };
      const append = account.imagePullSecrets
        ? { op: 'add', path: '/imagePullSecrets/-', value: { name: secretName } }
        : { op: 'add', path: '/imagePullSecrets', value: [{ name: secretName }] };
      await staleAsConflict(
        clients.core.patchNamespacedServiceAccount(
          { namespace: account.metadata!.namespace!, name: account.metadata!.name!, body: [guard, append], fieldManager: FIELD_MANAGER },
          jsonPatch(),
        ),
        `ServiceAccount ${account.metadata!.namespace}/${account.metadata!.name} changed since it was read`,
      );
    },
    async removeImagePullSecret(namespace, serviceAccount, index, secretName) {
      // The test op makes the removal fail if the list moved since we read it.
      await staleAsConflict(
        clients.core.patchNamespacedServiceAccount(
          {
            namespace,
            name: serviceAccount,
            body: [
              { op: 'test', path: `/imagePullSecrets/${index}/name`, value: secretName },
              { op: 'remove', path: `/imagePullSecrets/${index}` },
            ],
            fieldManager: FIELD_MANAGER,
          },
          jsonPatch(),
        ),
        `ServiceAccount ${namespace}/${serviceAccount} changed since it was read`,
      );
    },
    async setFinalizers(registry, finalizers) {
      return (await clients.customObjects.patchNamespacedCustomObject(
        { ...registryPath(registry), body: { metadata: { finalizers, resourceVersion: registry.metadata.resourceVersion } }, fieldManager: FIELD_MANAGER },
        mergePatch(),
      )) as EcrRegistry;
    },
    async patchStatus(registry, status) {
      return (await clients.customObjects.patchNamespacedCustomObjectStatus({ ...registryPath(registry), body: { status }, fieldManager: FIELD_MANAGER }, mergePatch())) as EcrRegistry;
    },
  };
}

/** A failed JSON-patch test op (422) is a stale read: re-thrown as a conflict, retried quietly. */
async function staleAsConflict<T>(request: Promise<T>, what: string): Promise<T> {
  try {
    return await request;
  } catch (error) {
    if (isPatchTestFailure(error)) throw new PatchTestFailedError(what, { cause: error });
    throw error;
  }
}
