import type { V1Secret } from '@kubernetes/client-node';
import type { EcrRegistry, EcrRegistryStatus } from '../api/ecr-registry.ts';
import { REGISTRY_FINALIZER } from '../api/group.ts';
import { type AwsCredentialSet, credentialFingerprint, secretValues } from '../aws/credential-set.ts';
import type { EcrAuthorization } from '../aws/ecr-token.ts';
import type { EndpointAllowlist } from '../aws/endpoint-allowlist.ts';
import { CredentialSourceError, classifyAwsError, conditionReasonFor } from '../aws/errors.ts';
import { describeApiError, isConflict } from '../kube/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../runtime/clock.ts';
import { setCondition } from '../runtime/conditions.ts';
import { NotSyncedError } from '../runtime/informer.ts';
import { type ObjectKey, type ReconcileResult, RetryError } from '../runtime/controller.ts';
import { statusPatch } from '../runtime/status-patch.ts';
import { resolveCredentials } from './credentials.ts';
import { desiredPullSecret, isOwnedBy, mergePullSecret, pullSecretMatches, pullSecretName, readHeldToken } from './pull-secret.ts';
import { ConditionType, RegistryReason } from './reasons.ts';
import { refreshEventCause } from './refresh-events.ts';
import { refreshTime } from './refresh-schedule.ts';
import { resolveRegistrySpec } from './registry-spec.ts';
import { nextRegistryStatus, type PullSecretOutcome, type ServiceAccountOutcome, servedNote } from './registry-status.ts';
import { syncServiceAccounts, unbindServiceAccounts } from './service-accounts.ts';
import type { RegistryReads, RegistryWrites } from './store.ts';
import { SharedFailureError, type SharedTokenCache } from './token-cache.ts';

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
export class RetryableRegistryError extends RetryError {}

const ACTION = 'RefreshPullSecret';

/**
 * Makes one EcrRegistry's pull secret (and ServiceAccount entries) match its spec, refreshing the
 * token when due. Reads, decides, writes the children, then writes status once, computed from what
 * each step returned. A failure never touches the last good pull secret.
 */
export async function reconcileRegistry(deps: RegistryReconcilerDeps, key: ObjectKey): Promise<ReconcileResult> {
  const registry = deps.reads.registry(key.namespace, key.name);
  if (!registry) return undefined;
  const log = deps.logger.child({ kind: 'EcrRegistry', namespace: key.namespace, name: key.name });
  if (registry.metadata.deletionTimestamp) return finalizeRegistry(deps, registry, log);
  // Before any ServiceAccount entry is written or an import relies on the registry: the finalizer that undoes them.
  // Until ImageImports are listed their users are unknown; once they are, each import's arrival enqueues us.
  const users = knownUsers(deps, key);
  const finalizers = registry.metadata.finalizers ?? [];
  if (needsFinalizer(registry.spec, registry.status, users ?? []) && !finalizers.includes(REGISTRY_FINALIZER)) {
    await deps.writes.setFinalizers(registry, [...finalizers, REGISTRY_FINALIZER]);
  }

  const pullSecret = await syncPullSecret(deps, registry, log);
  const { accounts, recordedName, stale } = await syncChildren(deps, registry, pullSecret, log);
  const status = nextRegistryStatus(registry.status, { generation: registry.metadata.generation, now: new Date(deps.clock.now()), pullSecretName: recordedName }, pullSecret, accounts);
  await writeStatus(deps, registry, status);
  // Nothing left that garbage collection cannot clean: let the registry go without the operator.
  if (finalizers.includes(REGISTRY_FINALIZER) && users !== undefined && !needsFinalizer(registry.spec, status, users)) {
    await deps.writes.setFinalizers(deps.reads.registry(key.namespace, key.name) ?? registry, finalizers.filter((f) => f !== REGISTRY_FINALIZER));
  }

  if (stale) throw new RetryableRegistryError(stale);
  if (accounts?.error) throw new RetryableRegistryError(`updating ServiceAccounts failed: ${accounts.error}`);
  for (const { serviceAccount, removedBy } of accounts?.restored ?? []) {
    const who = removedBy.length > 0 ? removedBy.join(', ') : 'another client';
    const secret = pullSecretName(registry);
    deps.events.event(
      registry,
      'Warning',
      RegistryReason.ServiceAccountEntryRestored,
      'BindServiceAccounts',
      `${who} wrote the imagePullSecrets of ServiceAccount ${serviceAccount} without ${secret}; it is back. ` +
        `If a GitOps tool applies this ServiceAccount, leave imagePullSecrets out of its manifest or list ${secret} in it, or every sync removes it again.`,
    );
  }
  if (accounts && accounts.missing.length > 0) {
    deps.events.event(registry, 'Warning', RegistryReason.ServiceAccountNotFound, 'BindServiceAccounts', `${accounts.missing.length > 1 ? 'ServiceAccounts' : 'ServiceAccount'} ${accounts.missing.join(', ')} not found in namespace ${key.namespace}`);
  }
  if (pullSecret.notices?.length) deps.events.event(registry, 'Warning', RegistryReason.CredentialsTrimmed, ACTION, pullSecret.notices.join('. '));
  const { served, failure } = pullSecret;
  if (!failure) return { requeueAfterMs: Math.max(1_000, served!.nextRefresh.getTime() - deps.clock.now()) };

  const note = `${failure.message}; ${servedNote(served)}`;
  deps.events.event(registry, 'Warning', failure.reason, ACTION, note);
  log.warn('pull secret not refreshed', { reason: failure.reason, message: note });
  if (failure.retryable) {
    // However long the backoff has grown, look again when the served token expires, so Ready turns False then.
    const untilExpiryMs = served ? Math.max(1_000, served.token.expiresAt.getTime() - deps.clock.now() + 1_000) : Number.POSITIVE_INFINITY;
    // Nothing was tried (the set's last call failed moments ago): try once that failure is no longer shared.
    if (failure.sharedForMs !== undefined) throw new RetryableRegistryError(`${failure.reason}: ${failure.message}`, { retryWithinMs: Math.min(failure.sharedForMs, untilExpiryMs), backoff: false });
    throw new RetryableRegistryError(`${failure.reason}: ${failure.message}`, Number.isFinite(untilExpiryMs) ? { retryWithinMs: untilExpiryMs } : {});
  }
  if (failure.reason === RegistryReason.EndpointNotAllowed || failure.reason === RegistryReason.InvalidSpec) return undefined;
  // Look again after the slow retry, and no later than the served token's expiry, when Ready turns False.
  const untilExpiryMs = served ? served.token.expiresAt.getTime() - deps.clock.now() + 1_000 : Number.POSITIVE_INFINITY;
  return { requeueAfterMs: Math.max(1_000, Math.min(deps.slowRetryMs ?? 300_000, untilExpiryMs)) };
}

interface ChildrenOutcome {
  accounts?: ServiceAccountOutcome;
  /** status.pullSecretName: the previous name until its Secret and entries are cleaned up. */
  recordedName: string | undefined;
  /** Why a retry is needed without alarm (a stale read), if one is. */
  stale?: string;
}

/**
 * Points the ServiceAccounts at the served pull secret and, after spec.pullSecret.name changed,
 * removes the old name's entries and Secret. The old name stays in status until both are gone, so
 * a failed clean-up is retried from status rather than forgotten.
 */
async function syncChildren(deps: RegistryReconcilerDeps, registry: EcrRegistry, pullSecret: PullSecretOutcome, log: Logger): Promise<ChildrenOutcome> {
  const namespace = registry.metadata.namespace!;
  const previousName = registry.status?.pullSecretName;
  const secretName = pullSecretName(registry);
  if (!pullSecret.served) return { recordedName: previousName };
  const staleSecretName = previousName && previousName !== secretName ? previousName : undefined;
  let accounts: ServiceAccountOutcome;
  try {
    accounts = await syncServiceAccounts(
      deps,
      {
        namespace,
        secretName,
        ...(staleSecretName ? { staleSecretName } : {}),
        wanted: (registry.spec.pullSecret?.serviceAccounts ?? []).map((ref) => ref.name),
        previouslyBound: (registry.status?.serviceAccounts ?? []).map((ref) => ref.name),
      },
      log,
    );
  } catch (error) {
    if (!isConflict(error)) throw error;
    return { recordedName: previousName ?? secretName, stale: `a ServiceAccount changed since it was read; retrying (${describeApiError(error)})` };
  }
  if (!staleSecretName) return { accounts, recordedName: secretName };
  if (accounts.error) return { accounts, recordedName: staleSecretName };
  try {
    await deleteOwnedSecret(deps, registry, staleSecretName);
  } catch (error) {
    return { accounts: { ...accounts, error: `deleting the previous pull secret ${staleSecretName}: ${describeApiError(error)}` }, recordedName: staleSecretName };
  }
  log.info('previous pull secret removed', { secret: staleSecretName });
  return { accounts, recordedName: secretName };
}

/**
 * Makes the pull secret hold a token that is valid for the spec, calling ECR only when the held token
 * (or the credential set's shared one) is due. Returns what it serves and what failed; writes nothing else.
 */
async function syncPullSecret(deps: RegistryReconcilerDeps, registry: EcrRegistry, log: Logger): Promise<PullSecretOutcome> {
  const namespace = registry.metadata.namespace!;
  const now = new Date(deps.clock.now());
  const secretName = pullSecretName(registry);
  const failed = (reason: string, message: string, retryable: boolean, served?: PullSecretOutcome['served']): PullSecretOutcome => ({
    rotated: false,
    failure: { reason, message, retryable },
    ...(served ? { served } : {}),
  });

  const spec = resolveRegistrySpec(registry.spec, deps.endpointAllowlist);
  if (!spec.ok) return { rotated: false, failure: spec.failure };
  const { hosts: hostNames, region, endpoint, policy } = spec.resolved;
  const nextRefreshOf = (token: EcrAuthorization) => refreshTime(token, policy, registry.metadata.uid!);
  const isDue = (token: EcrAuthorization) => nextRefreshOf(token).getTime() <= now.getTime() || token.expiresAt <= now;
  const serving = (token: EcrAuthorization) => ({ secretName, token, nextRefresh: nextRefreshOf(token) });

  const credentials = await resolveCredentials(registry.spec.credentials, namespace, deps.reads, { region, ...(endpoint ? { endpoint } : {}) });
  const fingerprint = credentials.ok ? credentialFingerprint(credentials.set) : undefined;
  const shared = credentials.ok ? deps.tokens.peek(credentials.set, (t) => !isDue(t)) : undefined;

  // The Secret we write must be ours, or not exist yet. The cache holds only Secrets we label, so a
  // miss is read directly (a foreign Secret, or ours with its label removed) unless a token is in
  // hand anyway: then no ECR call is at stake, and the create below meets such a Secret as a 409.
  let current: V1Secret | undefined = deps.reads.managedSecret(namespace, secretName);
  if (!current && !shared) current = await deps.reads.secret(namespace, secretName);
  if (current && !isOwnedBy(current, registry)) return conflict(current);
  const recorded = { issuedAt: registry.status?.lastRefreshTime, expiresAt: registry.status?.expirationTime };
  const held = current ? readHeldToken(current, recorded) : undefined;
  // The held token still serves pods if it is unexpired and names every host the spec asks for.
  const served = held && held.expiresAt > now && sameHosts(held.hosts, hostNames) ? serving(held) : undefined;

  if (!credentials.ok) return failed(credentials.reason, credentials.message, false, served);
  // Whitespace or quotes around a key were ignored: say so, whatever happens next.
  const noted = (outcome: PullSecretOutcome): PullSecretOutcome => (credentials.notices ? { ...outcome, notices: credentials.notices } : outcome);
  let token: EcrAuthorization | undefined = held && served && held.credentialsFingerprint === fingerprint && !isDue(held) ? held : shared;
  if (!token) {
    try {
      token = await deps.tokens.get(credentials.set, (t) => !isDue(t));
    } catch (error) {
      return noted(awsFailure(error, credentials.set));
    }
    if (!token.password || token.expiresAt <= now) return noted(failed(RegistryReason.EcrError, 'ECR returned a token that is empty or already expired', true, served));
  }

  const desired = desiredPullSecret(registry, hostNames, token, fingerprint!);
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
    return noted(failed(RegistryReason.KubernetesApiError, `writing pull secret ${secretName}: ${describeApiError(error)}`, true, served));
  }
  const rotated = token !== held;
  if (rotated) {
    log.info('pull secret refreshed', { secret: secretName, expiresAt: token.expiresAt.toISOString() });
    const after = refreshEventCause(registry.status?.conditions, registry.metadata.generation);
    if (after) deps.events.event(registry, 'Normal', 'Refreshed', ACTION, `Pull secret ${secretName} holds a new token that expires at ${token.expiresAt.toISOString()}, ${after}`);
  }
  return noted({ served: serving(token), rotated });

  function conflict(other: V1Secret | undefined): PullSecretOutcome {
    const owner = other?.metadata?.ownerReferences?.find((o) => o.controller)?.name;
    const by = owner ? `, owned by ${owner}` : other ? '' : ', not created by this operator';
    return failed(RegistryReason.PullSecretConflict, `Secret ${namespace}/${secretName} already exists${by}; it is left untouched. Choose another spec.pullSecret.name or remove that Secret`, false);
  }

  function awsFailure(thrown: unknown, set: AwsCredentialSet): PullSecretOutcome {
    // The set's last call's failure, still shared: the same failure, and when trying again makes sense.
    const error = thrown instanceof SharedFailureError ? thrown.cause : thrown;
    let outcome: PullSecretOutcome;
    if (error instanceof CredentialSourceError) {
      outcome = failed(error.reason, error.message, error.retryable, served);
    } else {
      const failure = classifyAwsError(error, secretValues(set));
      outcome = failed(conditionReasonFor(failure.kind), `GetAuthorizationToken failed: ${failure.code}: ${failure.message}`, failure.retryable, served);
    }
    return thrown instanceof SharedFailureError ? { ...outcome, failure: { ...outcome.failure!, sharedForMs: thrown.remainingMs } } : outcome;
  }
}

/**
 * The finalizer guards what garbage collection cannot undo: entries in ServiceAccounts' imagePullSecrets
 * (wanted by the spec, or still bound as status records), and a deletion that must wait for the
 * ImageImports using the registry. The pull secrets themselves are owned by the registry, so the garbage
 * collector deletes them. Without either, the registry needs no finalizer, and its first reconcile one write less.
 */
export function needsFinalizer(spec: EcrRegistry['spec'], status: EcrRegistryStatus | undefined, users: readonly string[]): boolean {
  return (spec.pullSecret?.serviceAccounts ?? []).length > 0 || (status?.serviceAccounts ?? []).length > 0 || users.length > 0;
}

/** The ImageImports using the registry, or undefined while they are not listed yet. */
function knownUsers(deps: RegistryReconcilerDeps, key: ObjectKey): string[] | undefined {
  try {
    return deps.reads.registryUsers(key.namespace, key.name);
  } catch (error) {
    if (error instanceof NotSyncedError) return undefined;
    throw error;
  }
}

function sameHosts(held: readonly string[], wanted: readonly string[]): boolean {
  const want = [...new Set(wanted)].sort();
  return held.length === want.length && held.every((host, i) => host === want[i]);
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
  const now = new Date(deps.clock.now());
  if (users.length > 0) {
    // In use: deletion waits for the last ImageImport (their deletion requeues us), and meanwhile
    // the pull secret keeps being refreshed, since pods still pull with it.
    const inUseBy = [...users].sort();
    const message = `Deletion waits for ImageImports that use this registry: ${inUseBy.join(', ')}`;
    const outcome = await syncPullSecret(deps, registry, log);
    const next = nextRegistryStatus(registry.status, { generation: registry.metadata.generation, now, pullSecretName: registry.status?.pullSecretName ?? (outcome.served ? pullSecretName(registry) : undefined) }, outcome, undefined);
    const status: EcrRegistryStatus = {
      ...next,
      inUseBy: inUseBy.map((name) => ({ name })),
      conditions: setCondition(next.conditions, { type: ConditionType.Deleting, status: 'True', reason: RegistryReason.InUse, message }, registry.metadata.generation, now),
    };
    if ((registry.status?.inUseBy ?? []).map((u) => u.name).join() !== inUseBy.join()) deps.events.event(registry, 'Normal', RegistryReason.InUse, 'Delete', message);
    await writeStatus(deps, registry, status);
    return outcome.served && !outcome.failure
      ? { requeueAfterMs: Math.max(1_000, outcome.served.nextRefresh.getTime() - deps.clock.now()) }
      : { requeueAfterMs: deps.slowRetryMs ?? 300_000 };
  }
  // Entries may name the current or the previous pull secret, on accounts in status or in the spec
  // (a status write may not have landed).
  const names = new Set([pullSecretName(registry), ...(registry.status?.pullSecretName ? [registry.status.pullSecretName] : [])]);
  const accounts = [...new Set([...(registry.status?.serviceAccounts ?? []), ...(registry.spec.pullSecret?.serviceAccounts ?? [])].map((ref) => ref.name))];
  for (const name of names) {
    await unbindServiceAccounts(deps, namespace, accounts, name);
    await deleteOwnedSecret(deps, registry, name);
  }
  await deps.writes.setFinalizers(registry, finalizers.filter((f) => f !== REGISTRY_FINALIZER));
  log.info('registry finalized', { secrets: [...names] });
  return undefined;
}

/** Deletes a pull secret if this registry owns it. Owner-reference GC would too; this doesn't depend on a GC running. */
async function deleteOwnedSecret(deps: RegistryReconcilerDeps, registry: EcrRegistry, name: string): Promise<void> {
  const namespace = registry.metadata.namespace!;
  const secret = deps.reads.managedSecret(namespace, name) ?? (await deps.reads.secret(namespace, name));
  if (secret && isOwnedBy(secret, registry)) await deps.writes.deleteSecret(namespace, name, secret.metadata!.uid!);
}

/**
 * Writes status only when it changed (only the changed fields), so a steady state makes no writes.
 * `registry` is the newest this process knows (the cache, or its own last write when the cache lags),
 * so a change is never judged against a status the apiserver no longer holds.
 */
async function writeStatus(deps: RegistryReconcilerDeps, registry: EcrRegistry, status: EcrRegistryStatus): Promise<void> {
  const patch = statusPatch(registry.status, status);
  if (patch) await deps.writes.patchStatus(registry, patch);
}
