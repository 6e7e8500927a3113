import type { V1Secret } from '@kubernetes/client-node';
import { parseDockerConfigJson } from '../registry/docker-config.ts';
import { DOCKER_CONFIG_JSON_KEY, isOwnedBy } from '../registry/pull-secret.ts';

export interface BasicCredentials {
  username: string;
  password: string;
}

export type PullCredentialsResult = { ok: true; credentials: BasicCredentials } | { ok: false; message: string };

/**
 * The registry login that pods get from the registry's pull secret `name`. Only the Secret the registry
 * itself wrote (ours, owned by that registry) is used, so the check proves what pods will use.
 */
export function pullCredentials(secret: V1Secret | undefined, name: string, owner: { kind: string; name: string; metadata: { uid?: string } }, host: string): PullCredentialsResult {
  if (!secret) return { ok: false, message: `pull secret ${name} does not exist` };
  if (!isOwnedBy(secret, owner)) return { ok: false, message: `Secret ${name} is not the pull secret ${owner.kind} ${owner.name} manages` };
  const encoded = secret.data?.[DOCKER_CONFIG_JSON_KEY];
  const auths = encoded ? parseDockerConfigJson(Buffer.from(encoded, 'base64').toString('utf8')) : undefined;
  if (!auths) return { ok: false, message: `pull secret ${name} holds no readable ${DOCKER_CONFIG_JSON_KEY}` };
  // The kubelet matches the host with or without a scheme, so either form counts.
  const entry = auths[host] ?? auths[`https://${host}`];
  if (!entry?.username || !entry.password) return { ok: false, message: `pull secret ${name} has no login for ${host}` };
  return { ok: true, credentials: { username: entry.username, password: entry.password } };
}
