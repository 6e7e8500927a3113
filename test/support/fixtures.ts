import { CoreV1Api, CustomObjectsApi, EventsV1Api, type EventsV1Event, type V1Secret } from '@kubernetes/client-node';
import type { EcrRegistry, EcrRegistrySpec } from '../../src/api/ecr-registry.ts';
import { API_GROUP, API_VERSION, ECR_REGISTRY, GROUP_VERSION } from '../../src/api/group.ts';
import type { Condition } from '../../src/api/meta.ts';
import { testEnv } from './env.ts';

/** Admin clients against the test control plane. */
export function adminClients() {
  const kc = testEnv().kubeConfig();
  return { core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi), events: kc.makeApiClient(EventsV1Api) };
}

const registryPath = (namespace: string) => ({ group: API_GROUP, version: API_VERSION, plural: ECR_REGISTRY.plural, namespace });

export async function createCredentialsSecret(namespace: string, name: string, keys: Record<string, string>): Promise<V1Secret> {
  return adminClients().core.createNamespacedSecret({ namespace, body: { metadata: { name }, stringData: keys } });
}

export async function replaceCredentialsSecret(namespace: string, name: string, keys: Record<string, string>): Promise<V1Secret> {
  const { core } = adminClients();
  const current = await core.readNamespacedSecret({ namespace, name });
  return core.replaceNamespacedSecret({ namespace, name, body: { metadata: current.metadata, stringData: keys } });
}

export async function createRegistry(namespace: string, name: string, spec: EcrRegistrySpec): Promise<EcrRegistry> {
  const body = { apiVersion: GROUP_VERSION, kind: ECR_REGISTRY.kind, metadata: { name, namespace }, spec };
  return (await adminClients().custom.createNamespacedCustomObject({ ...registryPath(namespace), body })) as EcrRegistry;
}

export async function getRegistry(namespace: string, name: string): Promise<EcrRegistry> {
  return (await adminClients().custom.getNamespacedCustomObject({ ...registryPath(namespace), name })) as EcrRegistry;
}

/** True once the EcrRegistry is gone from the API (finalizers done). */
export async function registryGone(namespace: string, name: string): Promise<boolean> {
  return getRegistry(namespace, name).then(
    () => false,
    (error: { code?: number }) => {
      if (error.code === 404) return true;
      throw error;
    },
  );
}

export async function deleteRegistry(namespace: string, name: string): Promise<void> {
  await adminClients().custom.deleteNamespacedCustomObject({ ...registryPath(namespace), name });
}

export function readyCondition(registry: { status?: { conditions?: Condition[] } }): Condition | undefined {
  return registry.status?.conditions?.find((c) => c.type === 'Ready');
}

export async function readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await adminClients().core.readNamespacedSecret({ namespace, name });
  } catch (error) {
    if ((error as { code?: number }).code === 404) return undefined;
    throw error;
  }
}

/** The password in a pull secret's docker config for `host`. */
export function pullSecretPassword(secret: V1Secret, host: string): string {
  const config = JSON.parse(Buffer.from(secret.data?.['.dockerconfigjson'] ?? '', 'base64').toString('utf8')) as {
    auths: Record<string, { username: string; password: string; auth: string }>;
  };
  const entry = config.auths[host];
  if (!entry) throw new Error(`pull secret has no entry for ${host}`);
  return entry.password;
}

export async function listEvents(namespace: string): Promise<EventsV1Event[]> {
  return (await adminClients().events.listNamespacedEvent({ namespace })).items;
}
