import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { KubeClients } from './clients.ts';
import { isNotFound } from './errors.ts';

/** Direct reads, for objects the operator deliberately does not cache (arbitrary Secrets, ServiceAccounts). */
export function kubeDirectReads(clients: KubeClients) {
  return {
    secret: (namespace: string, name: string): Promise<V1Secret | undefined> => orUndefined(clients.core.readNamespacedSecret({ namespace, name })),
    serviceAccount: (namespace: string, name: string): Promise<V1ServiceAccount | undefined> =>
      orUndefined(clients.core.readNamespacedServiceAccount({ namespace, name })),
  };
}

/** The object, or undefined when the API says it doesn't exist. */
async function orUndefined<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
