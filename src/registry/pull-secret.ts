import type { V1Secret } from '@kubernetes/client-node';
import type { EcrRegistry } from '../api/ecr-registry.ts';
import { API_GROUP, ECR_REGISTRY, GROUP_VERSION, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../api/group.ts';
import type { EcrAuthorization } from '../aws/ecr-token.ts';
import { parseDockerConfigJson, renderDockerConfigJson } from './docker-config.ts';

export const DOCKER_CONFIG_JSON_TYPE = 'kubernetes.io/dockerconfigjson';
export const DOCKER_CONFIG_JSON_KEY = '.dockerconfigjson';
export const ANNOTATION_ISSUED_AT = `${API_GROUP}/issued-at`;
export const ANNOTATION_EXPIRES_AT = `${API_GROUP}/expires-at`;
export const ANNOTATION_CREDENTIALS = `${API_GROUP}/credentials-fingerprint`;
/** Label naming the owning registry, so a pull secret is found without listing every Secret. */
export const REGISTRY_LABEL = `${API_GROUP}/registry`;
/** Label naming the owning ClusterEcrRegistry on each namespace's pull secret. */
export const CLUSTER_REGISTRY_LABEL = `${API_GROUP}/cluster-registry`;

export function pullSecretName(registry: EcrRegistry): string {
  return registry.spec.pullSecret?.name ?? registry.metadata.name!;
}

/**
 * True when the Secret was written by this operator for this very registry: its controller
 * ownerReference carries the registry's uid, which only the apiserver assigns. The managed-by label
 * is not required: a Secret whose label was removed is still ours, and the next write restores it.
 */
export function isOwnedBy(secret: V1Secret, owner: { metadata: { uid?: string | undefined } }): boolean {
  return (secret.metadata?.ownerReferences ?? []).some((o) => o.controller === true && o.uid === owner.metadata.uid);
}

/** The token a pull secret we own currently holds, read back from its data and annotations. */
export interface HeldToken extends EcrAuthorization {
  credentialsFingerprint: string;
  hosts: string[];
}

/** What the operator recorded in status about the token it last wrote. */
export interface RecordedToken {
  issuedAt?: string;
  expiresAt?: string;
}

/**
 * The token a pull secret we own holds. Its annotations are editable by anyone who may update the
 * Secret, so they are never trusted past what the operator recorded: the expiry (and the issue time,
 * which places the refresh) are capped at the recorded ones, and a later value only refreshes sooner.
 */
export function readHeldToken(secret: V1Secret, recorded: RecordedToken = {}): HeldToken | undefined {
  const held = readAnnotatedToken(secret);
  if (!held) return undefined;
  return { ...held, issuedAt: earliest(held.issuedAt, recorded.issuedAt), expiresAt: earliest(held.expiresAt, recorded.expiresAt) };
}

function earliest(annotated: Date, recorded: string | undefined): Date {
  const recordedMs = recorded ? Date.parse(recorded) : Number.NaN;
  return Number.isNaN(recordedMs) || recordedMs >= annotated.getTime() ? annotated : new Date(recordedMs);
}

function readAnnotatedToken(secret: V1Secret): HeldToken | undefined {
  const encoded = secret.data?.[DOCKER_CONFIG_JSON_KEY];
  const annotations = secret.metadata?.annotations ?? {};
  const issuedAt = new Date(annotations[ANNOTATION_ISSUED_AT] ?? '');
  const expiresAt = new Date(annotations[ANNOTATION_EXPIRES_AT] ?? '');
  if (!encoded || Number.isNaN(issuedAt.getTime()) || Number.isNaN(expiresAt.getTime())) return undefined;
  const auths = parseDockerConfigJson(Buffer.from(encoded, 'base64').toString('utf8'));
  const first = auths && Object.values(auths)[0];
  // An edited or emptied password is not a token we hold: refresh rather than trust it.
  if (!auths || !first?.username || !first.password) return undefined;
  return {
    username: first.username,
    password: first.password,
    issuedAt,
    expiresAt,
    credentialsFingerprint: annotations[ANNOTATION_CREDENTIALS] ?? '',
    hosts: Object.keys(auths).sort(),
  };
}

/** Who a pull secret belongs to: its controller ownerReference. */
export interface PullSecretOwner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/** Where a pull secret goes and what it names, for either kind of registry. */
export interface PullSecretTarget {
  owner: PullSecretOwner;
  namespace: string;
  name: string;
  hosts: readonly string[];
  /** The operator's labels (managed-by and the owner's), which win over `extraLabels`. */
  labels: Record<string, string>;
  extraLabels?: Record<string, string>;
  extraAnnotations?: Record<string, string>;
}

/** The pull secret as it should be. Rendering refuses empty credentials, so it can never write a broken secret. */
export function renderPullSecret(target: PullSecretTarget, token: EcrAuthorization, credentialsFingerprint: string): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: DOCKER_CONFIG_JSON_TYPE,
    metadata: {
      name: target.name,
      namespace: target.namespace,
      labels: { ...target.extraLabels, [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, ...target.labels },
      annotations: {
        ...target.extraAnnotations,
        [ANNOTATION_ISSUED_AT]: token.issuedAt.toISOString(),
        [ANNOTATION_EXPIRES_AT]: token.expiresAt.toISOString(),
        [ANNOTATION_CREDENTIALS]: credentialsFingerprint,
      },
      ownerReferences: [{ ...target.owner, controller: true, blockOwnerDeletion: true }],
    },
    data: { [DOCKER_CONFIG_JSON_KEY]: Buffer.from(renderDockerConfigJson(target.hosts, token)).toString('base64') },
  };
}

/** An EcrRegistry's pull secret, in its own namespace. */
export function registryPullSecretTarget(registry: EcrRegistry, hosts: readonly string[]): PullSecretTarget {
  return {
    owner: { apiVersion: GROUP_VERSION, kind: ECR_REGISTRY.kind, name: registry.metadata.name!, uid: registry.metadata.uid! },
    namespace: registry.metadata.namespace!,
    name: pullSecretName(registry),
    hosts,
    labels: { [REGISTRY_LABEL]: registry.metadata.name! },
  };
}

/** The EcrRegistry's pull secret as it should be. */
export function desiredPullSecret(registry: EcrRegistry, hosts: readonly string[], token: EcrAuthorization, credentialsFingerprint: string): V1Secret {
  return renderPullSecret(registryPullSecretTarget(registry, hosts), token, credentialsFingerprint);
}

/** Whether `current` already matches `desired` in everything the operator sets (other fields are left alone). */
export function pullSecretMatches(current: V1Secret, desired: V1Secret): boolean {
  const sameMap = (a: Record<string, string> | undefined, b: Record<string, string> | undefined) =>
    Object.entries(b ?? {}).every(([k, v]) => a?.[k] === v);
  const owner = desired.metadata!.ownerReferences![0]!;
  return (
    current.type === desired.type &&
    sameMap(current.data, desired.data) &&
    Object.keys(current.data ?? {}).length === Object.keys(desired.data ?? {}).length &&
    sameMap(current.metadata?.labels, desired.metadata?.labels) &&
    sameMap(current.metadata?.annotations, desired.metadata?.annotations) &&
    (current.metadata?.ownerReferences ?? []).some((o) => o.uid === owner.uid && o.controller === true)
  );
}

/** Merges the desired fields into the current object, keeping labels and annotations others added. */
export function mergePullSecret(current: V1Secret, desired: V1Secret): V1Secret {
  const others = (current.metadata?.ownerReferences ?? []).filter((o) => o.uid !== desired.metadata!.ownerReferences![0]!.uid && !o.controller);
  return {
    ...current,
    type: desired.type,
    data: desired.data,
    metadata: {
      ...current.metadata,
      labels: { ...current.metadata?.labels, ...desired.metadata!.labels },
      annotations: { ...current.metadata?.annotations, ...desired.metadata!.annotations },
      ownerReferences: [...others, ...desired.metadata!.ownerReferences!],
    },
  };
}
