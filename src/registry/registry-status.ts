import type { EcrRegistryStatus } from '../api/ecr-registry.ts';
import type { EcrAuthorization } from '../aws/ecr-token.ts';
import { redact } from '../observability/redact.ts';
import { type Progress, removeCondition, setCondition, setProgress } from '../runtime/conditions.ts';
import { toKubeTime } from '../runtime/kube-time.ts';
import { ConditionType, RegistryReason } from './reasons.ts';

/** Why a refresh, or the spec itself, failed. */
export interface Failure {
  reason: string;
  message: string;
  /** Retrying fixes it (throttling, ECR or the API server unreachable); otherwise a person must act. */
  retryable: boolean;
  /**
   * Set when nothing was tried: the credential set's last call failed and its failure is still shared
   * for this long. A retry then waits this long, and does not count as a failure of its own.
   */
  sharedForMs?: number;
}

/** The token a pull secret serves: valid now, for the hosts the current spec names. */
export interface ServedToken {
  secretName: string;
  token: EcrAuthorization;
  nextRefresh: Date;
}

/** What the pull-secret step found and did. */
export interface PullSecretOutcome {
  /** Unset when no valid token is served for the current spec. */
  served?: ServedToken;
  /** This reconcile wrote a new token. */
  rotated: boolean;
  failure?: Failure;
  /** What was wrong with the credentials but worked around (a key's trailing newline), for the user to clean up. */
  notices?: string[];
}

/** What the ServiceAccount step found and did; unset when it did not run (no pull secret to point at). */
export interface ServiceAccountOutcome {
  wanted: string[];
  bound: string[];
  missing: string[];
  /** Bound ServiceAccounts whose entry someone else removed, and that got it back in this reconcile. */
  restored?: RestoredEntry[];
  /** The API refused a write (other than a stale read, which is retried quietly). */
  error?: string;
}

export interface RestoredEntry {
  serviceAccount: string;
  /** The field managers that own imagePullSecrets as read: who wrote the list without our entry. */
  removedBy: string[];
}

export interface StatusContext {
  generation: number | undefined;
  now: Date;
  /** The pull secret name to record: the old one until its Secret and ServiceAccount entries are gone. */
  pullSecretName: string | undefined;
}

/**
 * The status a reconcile leaves, from the previous status and what it found. Ready follows the
 * served token, as cert-manager's Certificate Ready follows the served certificate: a failing
 * refresh turns Refreshed False (with the time the served token has left) and Ready only once no
 * valid token is served. Reconciling or Stalled then say whether retrying will help (kstatus).
 */
export function nextRegistryStatus(
  previous: EcrRegistryStatus | undefined,
  ctx: StatusContext,
  pullSecret: PullSecretOutcome,
  accounts: ServiceAccountOutcome | undefined,
): EcrRegistryStatus {
  const { generation, now } = ctx;
  const { served, failure } = pullSecret;
  const status: EcrRegistryStatus = { ...previous, observedGeneration: generation ?? 0, inUseBy: undefined };
  if (ctx.pullSecretName) status.pullSecretName = ctx.pullSecretName;
  if (served) {
    // Millisecond precision, as in the pull secret's annotations: the recorded expiry caps the annotated one.
    status.expirationTime = served.token.expiresAt.toISOString();
    status.lastRefreshTime = served.token.issuedAt.toISOString();
    status.nextRefreshTime = served.nextRefresh.toISOString();
  }

  let conditions = status.conditions;
  const set = (type: string, value: 'True' | 'False', reason: string, message: string) => {
    conditions = setCondition(conditions, { type, status: value, reason, message: redact(message) }, generation, now);
  };
  if (served) {
    set(ConditionType.Ready, 'True', RegistryReason.PullSecretReady, `Pull secret ${served.secretName} holds a token valid until ${toKubeTime(served.token.expiresAt)}`);
  } else if (failure) {
    set(ConditionType.Ready, 'False', failure.reason, `${failure.message}; no valid token is served`);
  }
  const notices = pullSecret.notices?.length ? `. ${pullSecret.notices.join('. ')}` : '';
  if (failure) {
    set(ConditionType.Refreshed, 'False', failure.reason, `${failure.message}; ${servedNote(served)}${notices}`);
  } else if (served) {
    set(ConditionType.Refreshed, 'True', RegistryReason.TokenRefreshed, `Token issued at ${toKubeTime(served.token.issuedAt)}; next refresh at ${toKubeTime(served.nextRefresh)}${notices}`);
  }
  conditions = setProgress(conditions, progressOf(pullSecret), generation, now);

  if (accounts) {
    if (accounts.wanted.length === 0) {
      conditions = removeCondition(conditions, ConditionType.ServiceAccountsReady);
    } else if (accounts.error) {
      set(ConditionType.ServiceAccountsReady, 'False', RegistryReason.KubernetesApiError, `updating ServiceAccounts: ${accounts.error}`);
    } else if (accounts.missing.length > 0) {
      set(ConditionType.ServiceAccountsReady, 'False', RegistryReason.ServiceAccountNotFound, missingMessage(accounts.missing));
    } else {
      set(ConditionType.ServiceAccountsReady, 'True', RegistryReason.ServiceAccountsBound, `imagePullSecrets of ${accounts.bound.join(', ')} include ${ctx.pullSecretName}`);
    }
    status.serviceAccounts = accounts.bound.map((name) => ({ name }));
  }
  status.conditions = conditions;
  return status;
}

/** The note on a failed refresh: how long pods can still pull with what the pull secret holds. */
export function servedNote(served: ServedToken | undefined): string {
  return served
    ? `the pull secret ${served.secretName} keeps serving a token valid until ${toKubeTime(served.token.expiresAt)}`
    : 'no valid token is served';
}

export function missingMessage(missing: readonly string[]): string {
  return `ServiceAccount${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found`;
}

function progressOf(outcome: PullSecretOutcome): Progress {
  if (outcome.served) return { state: 'done' };
  const failure = outcome.failure ?? { reason: RegistryReason.Progressing, message: 'waiting for the first token', retryable: true };
  return failure.retryable
    ? { state: 'reconciling', reason: failure.reason, message: `${failure.message}; retrying with backoff` }
    : { state: 'stalled', reason: failure.reason, message: failure.message };
}
