import { type ClusterEcrRegistryStatus, FAILED_NAMESPACES_LIMIT, type NamespaceFailure } from '../api/cluster-ecr-registry.ts';
import type { EcrAuthorization } from '../aws/ecr-token.ts';
import { redact } from '../observability/redact.ts';
import { ConditionType, RegistryReason } from '../registry/reasons.ts';
import type { Failure } from '../registry/registry-status.ts';
import { type Progress, removeCondition, setCondition, setProgress } from '../runtime/conditions.ts';
import { toKubeTime } from '../runtime/kube-time.ts';

/** The token step: the token to serve (with what it covers and when it is due), or why there is none. */
export interface ClusterTokenOutcome {
  token?: EcrAuthorization;
  fingerprint?: string;
  hosts: string[];
  nextRefresh?: Date;
  /** A token other than the one status last recorded. */
  rotated: boolean;
  failure?: Failure;
}

/** One selected namespace. */
export interface NamespaceOutcome {
  namespace: string;
  /** Its pull secret holds a valid token now. */
  served: boolean;
  /** Being deleted: neither served nor failed. */
  skipped?: boolean;
  failure?: Failure;
  missingServiceAccounts?: string[];
}

export interface ClusterStatusContext {
  generation: number | undefined;
  now: Date;
  pullSecretName: string;
  /** `namespace/name` of ImageImports holding a deletion. */
  inUseBy: readonly string[];
}

/**
 * The status after a reconcile. Ready: every selected namespace holds a valid pull secret. Refreshed:
 * the last token refresh, as on EcrRegistry. A failing namespace is listed (at most
 * FAILED_NAMESPACES_LIMIT) and makes Ready False with Stalled (a person must act, such as a conflict)
 * or Reconciling (retried); the other namespaces are still served and counted.
 */
export function nextClusterStatus(previous: ClusterEcrRegistryStatus | undefined, ctx: ClusterStatusContext, token: ClusterTokenOutcome, namespaces: readonly NamespaceOutcome[]): ClusterEcrRegistryStatus {
  const { generation, now } = ctx;
  const considered = namespaces.filter((n) => !n.skipped);
  const failures: NamespaceFailure[] = considered
    .filter((n) => n.failure || !n.served)
    .map((n) => ({ namespace: n.namespace, reason: n.failure?.reason ?? token.failure?.reason ?? RegistryReason.Progressing, message: redact(n.failure?.message ?? 'no valid token is served') }));
  const served = considered.filter((n) => n.served).length;
  const status: ClusterEcrRegistryStatus = {
    ...previous,
    observedGeneration: generation ?? 0,
    pullSecretName: ctx.pullSecretName,
    namespacesSelected: considered.length,
    namespacesReady: served,
    namespacesFailed: failures.length,
    failedNamespaces: failures.slice(0, FAILED_NAMESPACES_LIMIT),
    inUseBy: ctx.inUseBy.map((key) => {
      const [namespace, name] = key.split('/') as [string, string];
      return { namespace, name };
    }),
  };
  if (token.token) {
    status.expirationTime = token.token.expiresAt.toISOString();
    status.lastRefreshTime = token.token.issuedAt.toISOString();
    status.nextRefreshTime = token.nextRefresh!.toISOString();
  }

  let conditions = status.conditions;
  const set = (type: string, value: 'True' | 'False', reason: string, message: string) => {
    conditions = setCondition(conditions, { type, status: value, reason, message: redact(message) }, generation, now);
  };
  const until = token.token ? toKubeTime(token.token.expiresAt) : undefined;
  if (token.failure) {
    const note = token.token ? `; the pull secrets keep serving a token valid until ${until}` : '; no valid token is served';
    set(ConditionType.Refreshed, 'False', token.failure.reason, `${token.failure.message}${note}`);
  } else if (token.token) {
    set(ConditionType.Refreshed, 'True', RegistryReason.TokenRefreshed, `Token issued at ${toKubeTime(token.token.issuedAt)}; next refresh at ${toKubeTime(token.nextRefresh!)}`);
  }
  const firstFailures = failures
    .slice(0, 3)
    .map((f) => `${f.namespace} (${f.reason})`)
    .join(', ');
  if (noTokenServed(token, served)) {
    // Even with no namespace selected: a registry that cannot get a token is not Ready.
    set(ConditionType.Ready, 'False', token.failure!.reason, `${token.failure!.message}; no valid token is served`);
  } else if (failures.length === 0) {
    set(ConditionType.Ready, 'True', RegistryReason.PullSecretReady, `Pull secret ${ctx.pullSecretName} holds a token valid until ${until ?? 'its expiry'} in all ${served} selected namespaces`);
  } else {
    set(ConditionType.Ready, 'False', RegistryReason.NamespacesNotReady, `${failures.length} of ${considered.length} selected namespaces hold no valid pull secret: ${firstFailures}${failures.length > 3 ? ', …' : ''}`);
  }
  conditions = setProgress(conditions, progressOf(token, failures, namespaces), generation, now);
  if (ctx.inUseBy.length > 0) {
    set(ConditionType.Deleting, 'True', RegistryReason.InUse, `Deletion waits for ImageImports that use this registry: ${ctx.inUseBy.join(', ')}`);
  } else {
    conditions = removeCondition(conditions, ConditionType.Deleting);
  }
  status.conditions = conditions;
  return status;
}

/** The token could not be had and no pull secret holds a valid one. */
function noTokenServed(token: ClusterTokenOutcome, served: number): boolean {
  return token.failure !== undefined && token.token === undefined && served === 0;
}

function progressOf(token: ClusterTokenOutcome, failures: readonly NamespaceFailure[], namespaces: readonly NamespaceOutcome[]): Progress {
  const served = namespaces.filter((n) => n.served).length;
  if (failures.length === 0 && !noTokenServed(token, served)) return { state: 'done' };
  const failure = token.failure && !token.token ? token.failure : namespaces.find((n) => n.failure && !n.failure.retryable)?.failure ?? namespaces.find((n) => n.failure)?.failure;
  if (!failure) return { state: 'reconciling', reason: RegistryReason.Progressing, message: 'writing pull secrets' };
  const count = failures.length === 1 ? '1 namespace holds' : `${failures.length} namespaces hold`;
  const message = failure === token.failure ? failure.message : `${count} no valid pull secret; the first: ${failure.message}`;
  return failure.retryable ? { state: 'reconciling', reason: failure.reason, message: `${message}; retrying with backoff` } : { state: 'stalled', reason: failure.reason, message };
}
