import type { KubernetesObject } from '@kubernetes/client-node';

/** Identifies one object. `namespace` is '' for cluster-scoped objects. */
export interface ObjectKey {
  namespace: string;
  name: string;
}

/** `namespace/name`, or just `name` for cluster-scoped objects (the client-go convention). */
export function formatKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export function parseKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  return slash === -1 ? { namespace: '', name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export function toKeyString(key: ObjectKey | string): string {
  return typeof key === 'string' ? key : formatKey(key.namespace, key.name);
}

/** The cache key of an object, or undefined when it has no name (which a valid API object always has). */
export function keyOfObject(object: KubernetesObject): string | undefined {
  const name = object.metadata?.name;
  return name ? formatKey(object.metadata?.namespace, name) : undefined;
}
