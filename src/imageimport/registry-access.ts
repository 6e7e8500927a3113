import type { ClusterEcrRegistry } from '../api/cluster-ecr-registry.ts';
import type { EcrRegistry } from '../api/ecr-registry.ts';
import type { CredentialsSpec } from '../registry/credentials.ts';
import { CLUSTER_ECR_REGISTRY, ECR_REGISTRY } from '../api/group.ts';
import type { EndpointAllowlist } from '../aws/endpoint-allowlist.ts';
import { defaultApiEndpoint, parseRegistryHost, type RegistryHost } from '../aws/registry-host.ts';
import { findCondition, isTrue, ProgressConditionType } from '../runtime/conditions.ts';
import { ImportReason } from './reasons.ts';

/** How an import reaches ECR and the registry, all of it decided by the EcrRegistry and the operator's allowlist. */
export interface RegistryAccess {
  /** The registry host, as pinned references and the pull secret name it. */
  host: string;
  /** ECR's registryId: the account in the host, so a registry in another account works too. */
  accountId: string;
  region: string;
  /** ECR API endpoint override, allowed by the operator's allowlist. */
  apiEndpoint?: string;
  /** Origin that registry v2 requests, and so the pull secret's token, go to. */
  registryBaseUrl: string;
  pullSecretName: string;
  /** The registry's credentials, and its own namespace (an EcrRegistry's; a ClusterEcrRegistry's refs name theirs). */
  credentials: { namespace: string | undefined; spec: CredentialsSpec };
  /** The registry that must own the pull secret, so the pull check proves what pods will use. */
  owner: { kind: string; name: string; metadata: { uid?: string } };
}

/** `stalled`: the import cannot go on until a person acts on the registry (see PROGRESS_BY_REASON). */
export type RegistryAccessResult = { ok: true; access: RegistryAccess } | { ok: false; reason: string; message: string; stalled?: boolean };

/**
 * Whether the referenced EcrRegistry can serve an import now, and how to reach it.
 *
 * Registry v2 requests go to `https://<spec.registry>`, a host already checked to be ECR's, except
 * when spec.endpoint is a stand-in for ECR that the administrator allowlisted (an emulator): then to
 * that endpoint's origin. No other input (proxyEndpoint, a manifest) ever decides where the token goes.
 */
export function registryAccess(registry: EcrRegistry | undefined, name: string, allowlist: EndpointAllowlist): RegistryAccessResult {
  if (!registry) {
    return { ok: false, reason: ImportReason.RegistryNotFound, message: `EcrRegistry ${name} does not exist in this namespace` };
  }
  if (registry.metadata.deletionTimestamp) {
    return {
      ok: false,
      reason: ImportReason.RegistryDeleting,
      message: `EcrRegistry ${name} is being deleted; it keeps its pull secret until the ImageImports that use it are deleted`,
    };
  }
  const ready = findCondition(registry.status?.conditions, 'Ready');
  if (ready?.status !== 'True') {
    const why = ready ? ` (${ready.reason}: ${cut(ready.message, 300)})` : '';
    // Only Ready and Stalled are read: Ready stays True while a token refresh fails and the served token is valid.
    const stalled = isTrue(registry.status?.conditions, ProgressConditionType.Stalled);
    return { ok: false, reason: ImportReason.RegistryNotReady, message: `EcrRegistry ${name} is not Ready${why}`, ...(stalled ? { stalled } : {}) };
  }
  const pullSecretName = registry.status?.pullSecretName;
  const host = parseRegistryHost(registry.spec.registry);
  if (!pullSecretName || !host) {
    return { ok: false, reason: ImportReason.RegistryNotReady, message: `EcrRegistry ${name} has no usable registry host or pull secret yet` };
  }
  return withEndpoint(registry.spec, host, allowlist, `EcrRegistry ${name}`, {
    pullSecretName,
    credentials: { namespace: registry.metadata.namespace!, spec: registry.spec.credentials },
    owner: { kind: ECR_REGISTRY.kind, name, metadata: registry.metadata },
  });
}

/** The rest of the access, from the spec's host and endpoint, the same for both kinds. */
function withEndpoint(
  spec: Pick<EcrRegistry['spec'], 'endpoint' | 'region'>,
  host: RegistryHost,
  allowlist: EndpointAllowlist,
  what: string,
  rest: Pick<RegistryAccess, 'pullSecretName' | 'credentials' | 'owner'>,
): RegistryAccessResult {
  const endpoint = spec.endpoint;
  // The registry controller refuses such an endpoint too; checked again so a token can never follow it.
  if (endpoint && !allowlist.allows(endpoint)) {
    return { ok: false, reason: ImportReason.RegistryNotReady, message: `${what} names an endpoint the operator does not allow`, stalled: true };
  }
  const apiEndpoint = endpoint ?? (host.fips || host.dualStack ? defaultApiEndpoint(host) : undefined);
  const registryBaseUrl = endpoint && allowlist.isAdministratorEndpoint(endpoint) ? new URL(endpoint).origin : `https://${host.host}`;
  return {
    ok: true,
    access: { host: host.host, accountId: host.accountId, region: spec.region ?? host.region, ...(apiEndpoint ? { apiEndpoint } : {}), registryBaseUrl, ...rest },
  };
}

/**
 * Whether a ClusterEcrRegistry can serve an import in `namespace` now: it exists, is not being
 * deleted, selects the namespace (`selected`), and holds a valid pull secret there. Its Ready
 * condition is not read: another namespace's conflict must not stop this one's imports.
 */
export function clusterRegistryAccess(registry: ClusterEcrRegistry | undefined, name: string, namespace: string, selected: boolean, allowlist: EndpointAllowlist): RegistryAccessResult {
  const kind = CLUSTER_ECR_REGISTRY.kind;
  if (!registry) {
    return {
      ok: false,
      reason: ImportReason.RegistryNotFound,
      message: `${kind} ${name} does not exist (an operator started with --namespaces serves no ClusterEcrRegistry)`,
    };
  }
  if (registry.metadata.deletionTimestamp) {
    return { ok: false, reason: ImportReason.RegistryDeleting, message: `${kind} ${name} is being deleted; it keeps its pull secrets until the ImageImports that use it are deleted` };
  }
  if (!selected) {
    return { ok: false, reason: ImportReason.RegistryNotServingNamespace, message: `${kind} ${name} does not select namespace ${namespace}: add it to its namespaceSelector or namespaces`, stalled: true };
  }
  const failed = registry.status?.failedNamespaces?.find((f) => f.namespace === namespace);
  if (failed) {
    return { ok: false, reason: ImportReason.RegistryNotReady, message: `${kind} ${name} holds no valid pull secret in this namespace (${failed.reason}: ${cut(failed.message, 300)})`, stalled: failed.reason === 'PullSecretConflict' };
  }
  const expiresAtMs = Date.parse(registry.status?.expirationTime ?? '');
  const host = parseRegistryHost(registry.spec.registry);
  if (Number.isNaN(expiresAtMs) || !host || registry.status?.pullSecretName === undefined) {
    const stalled = isTrue(registry.status?.conditions, ProgressConditionType.Stalled);
    return { ok: false, reason: ImportReason.RegistryNotReady, message: `${kind} ${name} has no token yet`, ...(stalled ? { stalled } : {}) };
  }
  return withEndpoint(registry.spec, host, allowlist, `${kind} ${name}`, {
    pullSecretName: registry.status.pullSecretName,
    credentials: { namespace: undefined, spec: registry.spec.credentials },
    owner: { kind, name, metadata: registry.metadata },
  });
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
