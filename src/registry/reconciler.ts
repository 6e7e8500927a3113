import type { V1Secret } from '@kubernetes/client-node';
import type { EcrRegistry, EcrRegistryStatus } from '../api/ecr-registry.ts';
import { REGISTRY_FINALIZER } from '../api/group.ts';
import type { Condition } from '../api/meta.ts';
import { type AwsCredentialSet, credentialFingerprint, secretValues } from '../aws/credential-set.ts';
import type { EcrAuthorization } from '../aws/ecr-token.ts';
import type { EndpointAllowlist } from '../aws/endpoint-allowlist.ts';
import { classifyAwsError, conditionReasonFor } from '../aws/errors.ts';
import { defaultApiEndpoint, parseRegistryHost } from '../aws/registry-host.ts';
import { describeApiError, isConflict } from '../kube/errors.ts';
import type { Logger } from '../observability/logger.ts';
import { redact } from '../observability/redact.ts';
import type { Clock } from '../runtime/clock.ts';
import { setCondition } from '../runtime/conditions.ts';
import { parseDuration } from '../runtime/duration.ts';
import { statusPatch } from '../runtime/status-patch.ts';
import type { ObjectKey, ReconcileResult } from '../runtime/controller.ts';
import { credentialsFromSecret } from './credentials.ts';
import { desiredPullSecret, isOwnedBy, mergePullSecret, pullSecretMatches, pullSecretName, readHeldToken } from './pull-secret.ts';
import { ConditionType, RegistryReason } from './reasons.ts';
import { refreshTime } from './refresh-schedule.ts';
import { syncServiceAccounts, unbindServiceAccounts } from './service-accounts.ts';
import type { RegistryReads, RegistryWrites } from './store.ts';
import type { SharedTokenCache } from './token-cache.ts';

export interface EventSink {
  event(regarding: EcrRegistry, type: 'Normal' | 'Warning', reason: string, action: string, note: string): void;
}

export interface RegistryReconcilerDeps {
  reads: RegistryReads;
  writes: RegistryWrites;
  tokens: SharedTokenCache;
  events: EventSink;
  clock: Clock;
  logger: Logger;
  endpointAllowlist: EndpointAllowlist;
  /** How soon to look again after a failure only a human can fix (bad keys, denied policy, conflict). */
  slowRetryMs?: number;
}

/** A failure worth retrying with backoff; thrown after status and Events are written. */
export class RetryableRegistryError extends Error {}

interface Failure {
  reason: string;
  message: string;
  retryable: boolean;
}

/**
 * Makes one EcrRegistry's pull secret (and ServiceAccount entries) match its spec, refreshing the
 * token when due. Reads, decides, writes, then writes status once. A failure never touches the
 * last good pull secret.
 */
export async function reconcileRegistry(deps: RegistryReconcilerDeps, key: ObjectKey): Promise<ReconcileResult> {
  const registry = deps.reads.registry(key.namespace, key.name);
  if (!registry) return undefined;
  const log = deps.logger.child({ kind: 'EcrRegistry', namespace: key.namespace, name: key.name });
  const finalizers = registry.metadata.finalizers ?? [];

  if (registry.metadata.deletionTimestamp) return finalizeRegistry(deps, registry, log);
  if (!finalizers.includes(REGISTRY_FINALIZER)) await deps.writes.setFinalizers(registry, [...finalizers, REGISTRY_FINALIZER]);

  const status: EcrRegistryStatus = { ...registry.status, observedGeneration: registry.metadata.generation ?? 0 };
  const outcome = await syncPullSecret(deps, registry, status, log);
  let serviceAccountError: unknown;
  if (outcome.secretInPlace) {
    try {
      await syncServiceAccounts(deps, registry, status, log);
    } catch (error) {
      // Record the refreshed token in status before retrying the ServiceAccounts.
      serviceAccountError = error;
      const message = `updating ServiceAccounts: ${describeApiError(error)}`;
      status.conditions = setCondition(status.conditions, { type: ConditionType.ServiceAccountsReady, status: 'False', reason: RegistryReason.KubernetesApiError, message }, registry.metadata.generation, new Date(deps.clock.now()));
    }
  }
  status.inUseBy = undefined;
  await writeStatus(deps, registry, status);
  const previousSecret = registry.status?.pullSecretName;
  // spec.pullSecret.name changed: the old Secret would hold a token nobody refreshes.
  if (outcome.secretInPlace && !serviceAccountError && previousSecret && previousSecret !== pullSecretName(registry)) {
    await deleteOwnedSecret(deps, registry, previousSecret);
  }
  if (serviceAccountError) throw new RetryableRegistryError(`updating ServiceAccounts failed: ${describeApiError(serviceAccountError)}`, { cause: serviceAccountError });

  if (outcome.failure) {
    deps.events.event(registry, 'Warning', outcome.failure.reason, 'RefreshPullSecret', outcome.failure.message);
    log.warn('pull secret not refreshed', { reason: outcome.failure.reason, message: outcome.failure.message });
    if (outcome.failure.retryable) throw new RetryableRegistryError(`${outcome.failure.reason}: ${outcome.failure.message}`);
    if (outcome.failure.reason === RegistryReason.EndpointNotAllowed || outcome.failure.reason === RegistryReason.InvalidSpec) return undefined;
    return { requeueAfterMs: deps.slowRetryMs ?? 300_000 };
  }
  return { requeueAfterMs: Math.max(1_000, outcome.nextRefresh!.getTime() - deps.clock.now()) };
}

interface SyncOutcome {
  /** A pull secret we own exists (fresh or last good), so ServiceAccounts may point at it. */
  secretInPlace: boolean;
  nextRefresh?: Date;
  failure?: Failure;
}

async function syncPullSecret(deps: RegistryReconcilerDeps, registry: EcrRegistry, status: EcrRegistryStatus, log: Logger): Promise<SyncOutcome> {
  const namespace = registry.metadata.namespace!;
  const now = new Date(deps.clock.now());
  const secretName = pullSecretName(registry);
  const fail = (reason: string, message: string, retryable: boolean, secretInPlace: boolean): SyncOutcome => {
    setReady(status, registry, 'False', reason, secretInPlace ? `${message}; the last good pull secret ${secretName} is kept` : message, now);
    return { secretInPlace, failure: { reason, message, retryable } };
  };

  // Decide from the spec what the secret must cover and where ECR is.
  const hosts = [registry.spec.registry, ...(registry.spec.additionalRegistries ?? [])].map((h) => parseRegistryHost(h));
  const primary = hosts[0];
  if (!primary || hosts.some((h) => h === undefined || h.region !== primary.region)) {
    return fail(RegistryReason.InvalidSpec, 'registry hosts must all be private ECR hosts in one region', false, false);
  }
  if (registry.spec.region && registry.spec.region !== primary.region) {
    return fail(RegistryReason.InvalidSpec, `spec.region ${registry.spec.region} does not match the registry host's region ${primary.region}`, false, false);
  }
  const endpoint = registry.spec.endpoint ?? (primary.fips || primary.dualStack ? defaultApiEndpoint(primary) : undefined);
  if (registry.spec.endpoint && !deps.endpointAllowlist.allows(registry.spec.endpoint)) {
    return fail(
      RegistryReason.EndpointNotAllowed,
      `endpoint ${registry.spec.endpoint} is not in the operator's endpoint allowlist (${deps.endpointAllowlist.describe()})`,
      false,
      false,
    );
  }
  const refreshBeforeMs = registry.spec.refresh?.refreshBefore ? parseDuration(registry.spec.refresh.refreshBefore) : undefined;
  const policy = refreshBeforeMs === undefined ? {} : { refreshBeforeMs };
  const isDue = (token: EcrAuthorization) => refreshTime(token, policy, registry.metadata.uid!).getTime() <= now.getTime() || token.expiresAt <= now;

  // The Secret we will write must be ours, or not exist yet. The cache holds only Secrets we label.
  let current: V1Secret | undefined = deps.reads.managedSecret(namespace, secretName);
  if (current && !isOwnedBy(current, registry)) return conflict(current);
  const held = current ? readHeldToken(current) : undefined;
  const heldUsable = held !== undefined && held.expiresAt > now;

  const credentials = credentialsFromSecret(await deps.reads.secret(namespace, registry.spec.credentials.secretRef.name), registry.spec.credentials, {
    namespace,
    region: primary.region,
    ...(endpoint ? { endpoint } : {}),
  });
  if (!credentials.ok) return fail(credentials.reason, credentials.message, false, heldUsable);
  const fingerprint = credentialFingerprint(credentials.set);

  let token: EcrAuthorization | undefined;
  if (held && heldUsable && held.credentialsFingerprint === fingerprint && !isDue(held)) {
    token = held;
  } else {
    token = deps.tokens.peek(credentials.set, (t) => !isDue(t));
  }
  if (!token) {
    // About to spend an ECR call: first make sure a cache miss is not a foreign Secret of that name.
    // (With a token already in hand no call is at stake, and the create below meets such a Secret as a 409.)
    current ??= await deps.reads.secret(namespace, secretName);
    if (current && !isOwnedBy(current, registry)) return conflict(current);
    try {
      token = await deps.tokens.get(credentials.set, (t) => !isDue(t));
    } catch (error) {
      return awsFailure(error, credentials.set);
    }
    if (!token.password || token.expiresAt <= now) return fail(RegistryReason.EcrError, 'ECR returned a token that is empty or already expired', true, heldUsable);
  }

  const desired = desiredPullSecret(registry, hosts.map((h) => h!.host), token, fingerprint);
  try {
    if (!current) {
      current = await createOrAdopt(deps, registry, desired);
      if (!current) return conflict(undefined);
      // Adopted after a 409 on create: bring our own existing Secret up to date.
      if (!pullSecretMatches(current, desired)) current = await deps.writes.replaceSecret(mergePullSecret(current, desired));
    } else if (!pullSecretMatches(current, desired)) {
      current = await deps.writes.replaceSecret(mergePullSecret(current, desired));
    }
  } catch (error) {
    // A 409 means our cache lagged our own last write: retry with fresh state, no alarm.
    if (isConflict(error)) throw new RetryableRegistryError(`pull secret ${secretName} changed since it was read; retrying`);
    return fail(RegistryReason.KubernetesApiError, `writing pull secret ${secretName}: ${describeApiError(error)}`, true, heldUsable);
  }
  if (token !== held) {
    log.info('pull secret refreshed', { secret: secretName, expiresAt: token.expiresAt.toISOString() });
    deps.events.event(registry, 'Normal', 'Refreshed', 'RefreshPullSecret', `Pull secret ${secretName} holds a new token that expires at ${token.expiresAt.toISOString()}`);
  }

  const nextRefresh = refreshTime(token, policy, registry.metadata.uid!);
  status.pullSecretName = secretName;
  status.expiresAt = token.expiresAt.toISOString();
  status.lastRefreshTime = token.issuedAt.toISOString();
  status.nextRefreshTime = nextRefresh.toISOString();
  setReady(status, registry, 'True', RegistryReason.PullSecretReady, `Pull secret ${secretName} holds a token valid until ${token.expiresAt.toISOString()}`, now);
  return { secretInPlace: true, nextRefresh };

  function conflict(other: V1Secret | undefined): SyncOutcome {
    const owner = other?.metadata?.ownerReferences?.find((o) => o.controller)?.name;
    const by = owner ? `, owned by ${owner}` : other ? '' : ', not created by this operator';
    return fail(RegistryReason.PullSecretConflict, `Secret ${namespace}/${secretName} already exists${by}; it is left untouched. Choose another spec.pullSecret.name or remove that Secret`, false, false);
  }

  function awsFailure(error: unknown, set: AwsCredentialSet): SyncOutcome {
    const failure = classifyAwsError(error, secretValues(set));
    return fail(conditionReasonFor(failure.kind), `GetAuthorizationToken failed: ${failure.code}: ${failure.message}`, failure.retryable, heldUsable);
  }
}

/** Creates the pull secret; if a Secret of that name appeared meanwhile, adopts it only when it is ours. */
async function createOrAdopt(deps: RegistryReconcilerDeps, registry: EcrRegistry, desired: V1Secret): Promise<V1Secret | undefined> {
  try {
    return await deps.writes.createSecret(desired);
  } catch (error) {
    if (!isConflict(error)) throw error;
    const existing = await deps.reads.secret(desired.metadata!.namespace!, desired.metadata!.name!);
    return existing && isOwnedBy(existing, registry) ? existing : undefined;
  }
}

async function finalizeRegistry(deps: RegistryReconcilerDeps, registry: EcrRegistry, log: Logger): Promise<ReconcileResult> {
  const finalizers = registry.metadata.finalizers ?? [];
  if (!finalizers.includes(REGISTRY_FINALIZER)) return undefined;
  const namespace = registry.metadata.namespace!;
  const users = deps.reads.registryUsers(namespace, registry.metadata.name!);
  if (users.length > 0) {
    // In use: deletion waits for the last ImageImport (their deletion requeues us), and meanwhile
    // the pull secret keeps being refreshed, since pods still pull with it.
    const status: EcrRegistryStatus = { ...registry.status, inUseBy: [...users].sort() };
    const message = `Deletion waits for ImageImports that use this registry: ${status.inUseBy!.join(', ')}`;
    status.conditions = setCondition(status.conditions, { type: 'Deleting', status: 'True', reason: RegistryReason.InUse, message }, registry.metadata.generation, new Date(deps.clock.now()));
    const outcome = await syncPullSecret(deps, registry, status, log);
    if ((registry.status?.inUseBy ?? []).join() !== status.inUseBy!.join()) deps.events.event(registry, 'Normal', RegistryReason.InUse, 'Delete', message);
    await writeStatus(deps, registry, status);
    return outcome.nextRefresh ? { requeueAfterMs: Math.max(1_000, outcome.nextRefresh.getTime() - deps.clock.now()) } : { requeueAfterMs: deps.slowRetryMs ?? 300_000 };
  }
  const secretName = registry.status?.pullSecretName ?? pullSecretName(registry);
  // Entries may exist on accounts named in the spec whose status write never landed.
  const accounts = new Set([...(registry.status?.serviceAccounts ?? []), ...(registry.spec.pullSecret?.serviceAccounts ?? [])]);
  await unbindServiceAccounts(deps, namespace, [...accounts], secretName);
  for (const name of new Set([secretName, pullSecretName(registry)])) await deleteOwnedSecret(deps, registry, name);
  await deps.writes.setFinalizers(registry, finalizers.filter((f) => f !== REGISTRY_FINALIZER));
  log.info('registry finalized', { secret: secretName });
  return undefined;
}

/** Deletes a pull secret if this registry owns it. Owner-reference GC would too; this doesn't depend on a GC running. */
async function deleteOwnedSecret(deps: RegistryReconcilerDeps, registry: EcrRegistry, name: string): Promise<void> {
  const namespace = registry.metadata.namespace!;
  const secret = deps.reads.managedSecret(namespace, name) ?? (await deps.reads.secret(namespace, name));
  if (secret && isOwnedBy(secret, registry)) await deps.writes.deleteSecret(namespace, name, secret.metadata!.uid!);
}

function setReady(status: EcrRegistryStatus, registry: EcrRegistry, value: Condition['status'], reason: string, message: string, now: Date): void {
  status.conditions = setCondition(status.conditions, { type: ConditionType.Ready, status: value, reason, message: redact(message) }, registry.metadata.generation, now);
}

/** Writes status only when it changed (only the changed fields), so a steady state makes no writes. */
async function writeStatus(deps: RegistryReconcilerDeps, registry: EcrRegistry, status: EcrRegistryStatus): Promise<void> {
  const patch = statusPatch(registry.status, status);
  if (patch) await deps.writes.patchStatus(registry, patch);
}
