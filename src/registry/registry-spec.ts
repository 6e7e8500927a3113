import type { EcrRegistrySpec } from '../api/ecr-registry.ts';
import type { EndpointAllowlist } from '../aws/endpoint-allowlist.ts';
import { awsEndpointRegion, defaultApiEndpoint, parseRegistryHost } from '../aws/registry-host.ts';
import { parseDuration } from '../runtime/duration.ts';
import { RegistryReason } from './reasons.ts';
import type { RefreshPolicy } from './refresh-schedule.ts';
import type { Failure } from './registry-status.ts';

/** The spec fields EcrRegistry and ClusterEcrRegistry share. */
export type RegistryHostSpec = Pick<EcrRegistrySpec, 'registry' | 'additionalRegistries' | 'region' | 'endpoint' | 'refresh'>;

/** What a valid spec decides: the hosts the pull secret names, where ECR is, and when to refresh. */
export interface ResolvedRegistry {
  hosts: string[];
  region: string;
  /** The ECR API endpoint to call, when not the region's default: spec.endpoint, or the FIPS or dual-stack one. */
  endpoint?: string;
  policy: RefreshPolicy;
}

/** Checks a registry spec as the CRD's rules do (in case they were bypassed) and against the endpoint allowlist. */
export function resolveRegistrySpec(spec: RegistryHostSpec, allowlist: EndpointAllowlist): { ok: true; resolved: ResolvedRegistry } | { ok: false; failure: Failure } {
  const invalid = (reason: string, message: string) => ({ ok: false as const, failure: { reason, message, retryable: false } });
  const hosts = [spec.registry, ...(spec.additionalRegistries ?? [])].map((h) => parseRegistryHost(h));
  const primary = hosts[0];
  if (!primary || hosts.some((h) => h === undefined || h.region !== primary.region)) {
    return invalid(RegistryReason.InvalidSpec, 'registry hosts must all be private ECR hosts in one region');
  }
  if (spec.region && spec.region !== primary.region) {
    return invalid(RegistryReason.InvalidSpec, `spec.region ${spec.region} does not match the registry host's region ${primary.region}`);
  }
  // An AWS endpoint of another region or partition refuses the request with a signature error, which would read as bad keys.
  const endpointRegion = spec.endpoint ? awsEndpointRegion(spec.endpoint) : undefined;
  if (endpointRegion && (endpointRegion.region !== primary.region || endpointRegion.china !== primary.dnsSuffix.endsWith('.cn'))) {
    return invalid(RegistryReason.InvalidSpec, `spec.endpoint ${spec.endpoint} is an AWS endpoint of another region or partition than spec.registry (${primary.region}): use the endpoint of the registry's own region, or leave spec.endpoint unset`);
  }
  if (spec.endpoint && !allowlist.allows(spec.endpoint)) {
    return invalid(RegistryReason.EndpointNotAllowed, `endpoint ${spec.endpoint} is not in the operator's endpoint allowlist (${allowlist.describe()})`);
  }
  const endpoint = spec.endpoint ?? (primary.fips || primary.dualStack ? defaultApiEndpoint(primary) : undefined);
  const refreshBeforeMs = spec.refresh?.refreshBefore ? parseDuration(spec.refresh.refreshBefore) : undefined;
  return {
    ok: true,
    resolved: {
      hosts: hosts.map((h) => h!.host),
      region: primary.region,
      ...(endpoint ? { endpoint } : {}),
      policy: refreshBeforeMs === undefined ? {} : { refreshBeforeMs },
    },
  };
}
