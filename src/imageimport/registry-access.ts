import type { EcrRegistry } from '../api/ecr-registry.ts';
import type { EndpointAllowlist } from '../aws/endpoint-allowlist.ts';
import { defaultApiEndpoint, parseRegistryHost } from '../aws/registry-host.ts';
import { findCondition } from '../runtime/conditions.ts';
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
}

export type RegistryAccessResult = { ok: true; access: RegistryAccess } | { ok: false; reason: string; message: string };

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
    return { ok: false, reason: ImportReason.RegistryNotReady, message: `EcrRegistry ${name} is not Ready${why}` };
  }
  const pullSecretName = registry.status?.pullSecretName;
  const host = parseRegistryHost(registry.spec.registry);
  if (!pullSecretName || !host) {
    return { ok: false, reason: ImportReason.RegistryNotReady, message: `EcrRegistry ${name} has no usable registry host or pull secret yet` };
  }
  const endpoint = registry.spec.endpoint;
  // The registry controller refuses such an endpoint too; checked again so a token can never follow it.
  if (endpoint && !allowlist.allows(endpoint)) {
    return { ok: false, reason: ImportReason.RegistryNotReady, message: `EcrRegistry ${name} names an endpoint the operator does not allow` };
  }
  const apiEndpoint = endpoint ?? (host.fips || host.dualStack ? defaultApiEndpoint(host) : undefined);
  const registryBaseUrl = endpoint && allowlist.isAdministratorEndpoint(endpoint) ? new URL(endpoint).origin : `https://${host.host}`;
  return {
    ok: true,
    access: {
      host: host.host,
      accountId: host.accountId,
      region: registry.spec.region ?? host.region,
      ...(apiEndpoint ? { apiEndpoint } : {}),
      registryBaseUrl,
      pullSecretName,
    },
  };
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
