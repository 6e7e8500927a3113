import type { V1Secret } from '@kubernetes/client-node';
import { CLUSTER_ECR_REGISTRY, GROUP_VERSION, REGISTRY_FINALIZER } from '../api/group.ts';
import type { ClusterEcrRegistry, NamespaceFailure } from '../api/cluster-ecr-registry.ts';
import { credentialFingerprint, secretValues } from '../aws/credential-set.ts';
import type { EcrAuthorization } from '../aws/ecr-token.ts';
import type { EndpointAllowlist } from '../aws/endpoint-allowlist.ts';
import { CredentialSourceError, classifyAwsError, conditionReasonFor } from '../aws/errors.ts';
import { apiStatus, describeApiError, isConflict, isNotFound } from '../kube/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { resolveCredentials } from '../registry/credentials.ts';
import {
  CLUSTER_REGISTRY_LABEL,
  isOwnedBy,
  mergePullSecret,
  type PullSecretTarget,
  pullSecretMatches,
  readHeldToken,
  renderPullSecret,
} from '../registry/pull-secret.ts';
import { RegistryReason } from '../registry/reasons.ts';
import { refreshTime } from '../registry/refresh-schedule.ts';
import { resolveRegistrySpec } from '../registry/registry-spec.ts';
import type { Failure } from '../registry/registry-status.ts';
import { syncServiceAccounts, unbindServiceAccounts } from '../registry/service-accounts.ts';
import { SharedFailureError, type SharedTokenCache } from '../registry/token-cache.ts';
import type { Clock } from '../runtime/clock.ts';
import { mapConcurrently } from '../runtime/concurrency.ts';
import { type ReconcileResult, RetryError } from '../runtime/controller.ts';
import { statusPatch } from '../runtime/status-patch.ts';
import { type ClusterTokenOutcome, nextClusterStatus, type NamespaceOutcome } from './cluster-status.ts';
import { selectsNamespace } from './namespace-selection.ts';
import type { ClusterRegistryReads, ClusterRegistryWrites } from './store.ts';
import { refreshEventCause } from '../registry/refresh-events.ts';

export interface ClusterEventSink {
  event(regarding: ClusterEcrRegistry, type: 'Normal' | 'Warning', reason: string, action: string, note: string): void;
}

export interface ClusterRegistryReconcilerDeps {
  reads: ClusterRegistryReads;
  writes: ClusterRegistryWrites;
  tokens: SharedTokenCache;
  events: ClusterEventSink;
  clock: Clock;
  logger: Logger;
  endpointAllowlist: EndpointAllowlist;
  /** Namespaces written at once. */
  writeConcurrency?: number;
  slowRetryMs?: number;
}

export class RetryableClusterRegistryError extends RetryError {}

/** On each pull secret: the ServiceAccounts the operator was asked to bind in its namespace, so it can unbind them later. */
export const ANNOTATION_SERVICE_ACCOUNTS = 'ecr.pullsecrets.io/service-accounts';
const ACTION = 'RefreshPullSecret';

/**
 * Makes every selected namespace hold the ClusterEcrRegistry's pull secret with one token (one ECR call
 * per credential set per refresh, shared with EcrRegistries of the same set), removes it from
 * namespaces no longer selected, then writes status once. A namespace that fails (a Secret of that name
 * it does not own, say) is reported and skipped; every other namespace is still served.
 */
export async function reconcileClusterRegistry(deps: ClusterRegistryReconcilerDeps, name: string): Promise<ReconcileResult> {
  const registry = deps.reads.clusterRegistry(name);
  if (!registry) return undefined;
  const log = deps.logger.child({ kind: CLUSTER_ECR_REGISTRY.kind, name });
  const finalizers = registry.metadata.finalizers ?? [];
  // In use, a deleted registry goes on serving: pods in those namespaces still pull with its secrets.
  const users = registry.metadata.deletionTimestamp ? deps.reads.users(name) : [];
  if (registry.metadata.deletionTimestamp && (users.length === 0 || !finalizers.includes(REGISTRY_FINALIZER))) return finalize(deps, registry, log);
  if (!finalizers.includes(REGISTRY_FINALIZER)) await deps.writes.setFinalizers(registry, [...finalizers, REGISTRY_FINALIZER]);

  const now = new Date(deps.clock.now());
  const secretName = clusterPullSecretName(registry);
  const selected = deps.reads
    .namespaces()
    .filter((namespace) => selectsNamespace(registry.spec, namespace))
    .map((namespace) => namespace.name)
    .sort();
  const token = await clusterToken(deps, registry, now);

  const namespaces: NamespaceOutcome[] = token.token
    ? await mapConcurrently(selected, deps.writeConcurrency ?? 16, (namespace) => syncNamespace(deps, registry, namespace, token))
    : // No token at all, not even a valid one the pull secrets hold: no namespace is served.
      selected.map((namespace) => ({ namespace, served: false }));
  const removed = await removeUnselected(deps, registry, new Set(selected), secretName, log);

  const status = nextClusterStatus(registry.status, { generation: registry.metadata.generation, now, pullSecretName: secretName, inUseBy: users }, token, namespaces);
  const patch = statusPatch(registry.status, status);
  if (patch) await deps.writes.patchStatus(registry, patch);
  if (users.length > 0 && (registry.status?.inUseBy ?? []).length !== users.length) {
    deps.events.event(registry, 'Normal', RegistryReason.InUse, 'Delete', `Deletion waits for ImageImports that use this registry: ${users.join(', ')}`);
  }

  if (token.rotated && token.token) {
    const written = namespaces.filter((n) => n.served).length;
    log.info('pull secrets refreshed', { namespaces: written, expiresAt: token.token.expiresAt.toISOString() });
    const after = refreshEventCause(registry.status?.conditions, registry.metadata.generation);
    if (after) deps.events.event(registry, 'Normal', 'Refreshed', ACTION, `Pull secret ${secretName} in ${written} namespace${written === 1 ? '' : 's'} holds a new token that expires at ${token.token.expiresAt.toISOString()}, ${after}`);
  }
  if (token.failure) deps.events.event(registry, 'Warning', token.failure.reason, ACTION, token.failure.message);
  reportNamespaceFailures(deps, registry, namespaces, log);
  if (removed.error) throw new RetryableClusterRegistryError(removed.error);
  if (token.failure?.retryable || namespaces.some((n) => n.failure?.retryable)) {
    // However long the backoff has grown, look again when the served token expires, so Ready turns False then.
    const untilExpiryMs = token.token ? Math.max(1_000, token.token.expiresAt.getTime() - deps.clock.now() + 1_000) : Number.POSITIVE_INFINITY;
    const message = token.failure?.message ?? 'writing pull secrets failed in some namespaces; retrying';
    // Nothing was tried (the set's last call failed moments ago): try once that failure is no longer shared.
    const sharedForMs = namespaces.some((n) => n.failure?.retryable) ? undefined : token.failure?.sharedForMs;
    if (sharedForMs !== undefined) throw new RetryableClusterRegistryError(message, { retryWithinMs: Math.min(sharedForMs, untilExpiryMs), backoff: false });
    throw new RetryableClusterRegistryError(message, Number.isFinite(untilExpiryMs) ? { retryWithinMs: untilExpiryMs } : {});
  }
  const slowRetryMs = deps.slowRetryMs ?? 300_000;
  if (token.failure) {
    if (token.failure.reason === RegistryReason.InvalidSpec || token.failure.reason === RegistryReason.EndpointNotAllowed) return undefined;
    // A person must act: look again after the slow retry, and no later than the served token's expiry.
    const untilExpiryMs = token.token ? token.token.expiresAt.getTime() - deps.clock.now() + 1_000 : Number.POSITIVE_INFINITY;
    return { requeueAfterMs: Math.max(1_000, Math.min(slowRetryMs, untilExpiryMs)) };
  }
  const untilRefreshMs = token.nextRefresh!.getTime() - deps.clock.now();
  // A conflicting Secret is not watched (it is not ours): look again after the slow retry.
  const conflicted = namespaces.some((n) => n.failure);
  return { requeueAfterMs: Math.max(1_000, conflicted ? Math.min(slowRetryMs, untilRefreshMs) : untilRefreshMs) };
}

export function clusterPullSecretName(registry: ClusterEcrRegistry): string {
  return registry.spec.pullSecret?.name ?? registry.metadata.name!;
}

/**
 * The token to serve: the one the pull secrets hold while it is valid and not due (no ECR call after a
 * restart), else the credential set's shared one, else a new one from ECR.
 */
async function clusterToken(deps: ClusterRegistryReconcilerDeps, registry: ClusterEcrRegistry, now: Date): Promise<ClusterTokenOutcome> {
  const spec = resolveRegistrySpec(registry.spec, deps.endpointAllowlist);
  if (!spec.ok) return { rotated: false, hosts: [], failure: spec.failure };
  const { hosts, region, endpoint, policy } = spec.resolved;
  const nextRefreshOf = (token: EcrAuthorization) => refreshTime(token, policy, registry.metadata.uid!);
  const isDue = (token: EcrAuthorization) => nextRefreshOf(token).getTime() <= now.getTime() || token.expiresAt <= now;
  const held = heldTokens(deps, registry, hosts, now);
  // A refresh that fails keeps serving the longest-lived valid token the pull secrets hold, to
  // namespaces selected since as well, as EcrRegistry keeps its last good pull secret.
  const fail = (failure: Failure): ClusterTokenOutcome => {
    const last = held[0];
    return last
      ? { token: last, fingerprint: last.credentialsFingerprint, hosts, nextRefresh: nextRefreshOf(last), rotated: false, failure }
      : { rotated: false, hosts, failure };
  };

  const credentials = await resolveCredentials(registry.spec.credentials, undefined, deps.reads, { region, ...(endpoint ? { endpoint } : {}) });
  if (!credentials.ok) return fail({ reason: credentials.reason, message: credentials.message, retryable: false });
  const fingerprint = credentialFingerprint(credentials.set);

  const current = held.find((t) => t.credentialsFingerprint === fingerprint && !isDue(t));
  let token: EcrAuthorization | undefined = current ?? deps.tokens.peek(credentials.set, (t) => !isDue(t));
  if (!token) {
    try {
      token = await deps.tokens.get(credentials.set, (t) => !isDue(t));
    } catch (thrown) {
      // The set's last call's failure, still shared: the same failure, and when trying again makes sense.
      const error = thrown instanceof SharedFailureError ? thrown.cause : thrown;
      const shared = thrown instanceof SharedFailureError ? { sharedForMs: thrown.remainingMs } : {};
      if (error instanceof CredentialSourceError) return fail({ reason: error.reason, message: error.message, retryable: error.retryable, ...shared });
      const failure = classifyAwsError(error, secretValues(credentials.set));
      return fail({ reason: conditionReasonFor(failure.kind), message: `GetAuthorizationToken failed: ${failure.code}: ${failure.message}`, retryable: failure.retryable, ...shared });
    }
    if (!token.password || token.expiresAt <= now) return fail({ reason: RegistryReason.EcrError, message: 'ECR returned a token that is empty or already expired', retryable: true });
  }
  const recorded = registry.status?.expirationTime;
  return { token, fingerprint, hosts, nextRefresh: nextRefreshOf(token), rotated: recorded !== token.expiresAt.toISOString() };
}

/** Valid tokens the owned pull secrets hold for these hosts, longest-lived first. */
function heldTokens(deps: ClusterRegistryReconcilerDeps, registry: ClusterEcrRegistry, hosts: readonly string[], now: Date) {
  const recorded = { issuedAt: registry.status?.lastRefreshTime, expiresAt: registry.status?.expirationTime };
  const wanted = [...new Set(hosts)].sort().join();
  return deps.reads
    .ownedSecrets(registry.metadata.name!)
    .filter((secret) => secret.metadata?.name === clusterPullSecretName(registry) && isOwnedBy(secret, registry))
    .flatMap((secret) => readHeldToken(secret, recorded) ?? [])
    .filter((t) => t.expiresAt > now && t.hosts.join() === wanted)
    .sort((a, b) => b.expiresAt.getTime() - a.expiresAt.getTime());
}

function target(registry: ClusterEcrRegistry, namespace: string, hosts: readonly string[], serviceAccounts: readonly string[]): PullSecretTarget {
  const { labels, annotations } = registry.spec.pullSecret ?? {};
  return {
    owner: { apiVersion: GROUP_VERSION, kind: CLUSTER_ECR_REGISTRY.kind, name: registry.metadata.name!, uid: registry.metadata.uid! },
    namespace,
    name: clusterPullSecretName(registry),
    hosts,
    labels: { [CLUSTER_REGISTRY_LABEL]: registry.metadata.name! },
    ...(labels ? { extraLabels: labels } : {}),
    extraAnnotations: { ...annotations, [ANNOTATION_SERVICE_ACCOUNTS]: serviceAccounts.join(',') },
  };
}

/** One namespace: the pull secret (never over a Secret it does not own), then its ServiceAccount entries. */
async function syncNamespace(deps: ClusterRegistryReconcilerDeps, registry: ClusterEcrRegistry, namespace: string, token: ClusterTokenOutcome): Promise<NamespaceOutcome> {
  const name = clusterPullSecretName(registry);
  const wanted = [...new Set((registry.spec.pullSecret?.serviceAccounts ?? []).map((ref) => ref.name))].sort();
  const desired = renderPullSecret(target(registry, namespace, token.hosts, wanted), token.token!, token.fingerprint!);
  let current = deps.reads.managedSecret(namespace, name);
  if (current && !isOwnedBy(current, registry)) return conflict(registry, namespace, current);
  const previouslyBound = boundAccounts(current);
  try {
    if (!current) {
      try {
        current = await deps.writes.createSecret(desired);
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Taken: ours without its label (adopt it), or someone else's (leave it alone).
        const existing = await deps.reads.secret(namespace, name);
        if (!existing || !isOwnedBy(existing, registry)) return conflict(registry, namespace, existing);
        current = await deps.writes.replaceSecret(mergePullSecret(existing, desired));
      }
    } else if (!pullSecretMatches(current, desired)) {
      current = await deps.writes.replaceSecret(mergePullSecret(current, desired));
    }
    const accounts = await syncServiceAccounts(deps, { namespace, secretName: name, wanted, previouslyBound }, deps.logger);
    if (accounts.error) return { namespace, served: true, failure: { reason: RegistryReason.KubernetesApiError, message: `updating ServiceAccounts: ${accounts.error}`, retryable: true } };
    return { namespace, served: true, missingServiceAccounts: accounts.missing };
  } catch (error) {
    if (isNamespaceGoing(error)) return { namespace, served: false, skipped: true };
    if (isConflict(error)) return { namespace, served: false, failure: { reason: RegistryReason.KubernetesApiError, message: 'changed since it was read; retrying', retryable: true } };
    return { namespace, served: false, failure: { reason: RegistryReason.KubernetesApiError, message: `writing pull secret ${name}: ${describeApiError(error)}`, retryable: true } };
  }
}

function conflict(registry: ClusterEcrRegistry, namespace: string, other: V1Secret | undefined): NamespaceOutcome {
  const owner = other?.metadata?.ownerReferences?.find((o) => o.controller);
  const by = owner ? `, owned by ${owner.kind} ${owner.name}` : '';
  const name = clusterPullSecretName(registry);
  return {
    namespace,
    served: false,
    failure: { reason: RegistryReason.PullSecretConflict, message: `Secret ${namespace}/${name} already exists${by}; it is left untouched`, retryable: false },
  };
}

function boundAccounts(secret: V1Secret | undefined): string[] {
  const listed = secret?.metadata?.annotations?.[ANNOTATION_SERVICE_ACCOUNTS];
  return listed ? listed.split(',').filter(Boolean) : [];
}

/** A namespace being deleted refuses new objects (403) or is gone (404): nothing to serve there. */
function isNamespaceGoing(error: unknown): boolean {
  if (isNotFound(error)) return true;
  return apiStatus(error) === 403 && /being terminated/.test(describeApiError(error));
}

/** Deletes the pull secrets (and ServiceAccount entries) in namespaces no longer selected, or under an old name. */
async function removeUnselected(deps: ClusterRegistryReconcilerDeps, registry: ClusterEcrRegistry, selected: ReadonlySet<string>, secretName: string, log: Logger): Promise<{ error?: string }> {
  const stale = deps.reads.ownedSecrets(registry.metadata.name!).filter((s) => isOwnedBy(s, registry) && (!selected.has(s.metadata!.namespace!) || s.metadata!.name !== secretName));
  const errors: string[] = [];
  await mapConcurrently(stale, deps.writeConcurrency ?? 16, async (secret) => {
    const { namespace, name } = secret.metadata as { namespace: string; name: string };
    try {
      await unbindServiceAccounts(deps, namespace, boundAccounts(secret), name);
      await deps.writes.deleteSecret(namespace, name, secret.metadata!.uid!);
      log.info('pull secret removed from a namespace no longer selected', { namespace, secret: name });
    } catch (error) {
      if (!isNamespaceGoing(error)) errors.push(`${namespace}/${name}: ${describeApiError(error)}`);
    }
  });
  return errors.length > 0 ? { error: `removing pull secrets failed: ${errors.join('; ')}` } : {};
}

/** One Warning per failure reason, naming the namespaces (a few), so a thousand failing namespaces cost a few Events. */
function reportNamespaceFailures(deps: ClusterRegistryReconcilerDeps, registry: ClusterEcrRegistry, namespaces: readonly NamespaceOutcome[], log: Logger): void {
  const byReason = new Map<string, NamespaceFailure[]>();
  for (const n of namespaces) {
    if (!n.failure) continue;
    const list = byReason.get(n.failure.reason) ?? [];
    list.push({ namespace: n.namespace, reason: n.failure.reason, message: n.failure.message });
    byReason.set(n.failure.reason, list);
  }
  for (const [reason, failures] of byReason) {
    const names = failures.slice(0, 5).map((f) => f.namespace);
    const more = failures.length > names.length ? ` and ${failures.length - names.length} more` : '';
    const note = `${failures.length} namespace${failures.length > 1 ? 's' : ''} not served (${names.join(', ')}${more}): ${failures[0]!.message}`;
    deps.events.event(registry, 'Warning', reason, ACTION, note);
    log.warn('namespaces not served', { reason, namespaces: failures.length });
  }
}

/** Deleted and no longer in use: takes every pull secret and ServiceAccount entry away, then lets go. */
async function finalize(deps: ClusterRegistryReconcilerDeps, registry: ClusterEcrRegistry, log: Logger): Promise<ReconcileResult> {
  const finalizers = registry.metadata.finalizers ?? [];
  if (!finalizers.includes(REGISTRY_FINALIZER)) return undefined;
  const removed = await removeUnselected(deps, registry, new Set(), '', log);
  if (removed.error) throw new RetryableClusterRegistryError(removed.error);
  await deps.writes.setFinalizers(registry, finalizers.filter((f) => f !== REGISTRY_FINALIZER));
  log.info('cluster registry finalized');
  return undefined;
}
