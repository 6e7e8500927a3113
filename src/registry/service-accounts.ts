import { describeApiError, isConflict } from '../kube/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { FIELD_MANAGER } from '../api/group.ts';
import type { RestoredEntry, ServiceAccountOutcome } from './registry-status.ts';
import type { RegistryReads, RegistryWrites } from './store.ts';

interface ServiceAccountDeps {
  reads: Pick<RegistryReads, 'serviceAccount'>;
  writes: Pick<RegistryWrites, 'addImagePullSecret' | 'removeImagePullSecret'>;
}

export interface ServiceAccountPlan {
  namespace: string;
  /** The pull secret the entries must name. */
  secretName: string;
  /** A pull secret name entries named before spec.pullSecret.name changed; all of those come off. */
  staleSecretName?: string;
  /** ServiceAccounts the spec lists. */
  wanted: readonly string[];
  /** ServiceAccounts status says carry our entry. */
  previouslyBound: readonly string[];
}

/**
 * Appends the pull secret to each wanted ServiceAccount's imagePullSecrets (never replacing other
 * entries), repairs entries that were removed, and takes ours off accounts no longer listed and
 * entries that name a pull secret we no longer write. A stale read (the ServiceAccount moved since
 * the cache saw it) is thrown as a conflict, to be retried quietly.
 */
export async function syncServiceAccounts(deps: ServiceAccountDeps, plan: ServiceAccountPlan, log: Logger): Promise<ServiceAccountOutcome> {
  const wanted = [...new Set(plan.wanted)].sort();
  const bound: string[] = [];
  const missing: string[] = [];
  const restored: RestoredEntry[] = [];
  try {
    if (plan.staleSecretName) {
      await unbindServiceAccounts(deps, plan.namespace, [...new Set([...plan.previouslyBound, ...wanted])], plan.staleSecretName);
    }
    await unbindServiceAccounts(deps, plan.namespace, plan.previouslyBound.filter((sa) => !wanted.includes(sa)), plan.secretName);
    for (const name of wanted) {
      const account = await deps.reads.serviceAccount(plan.namespace, name);
      if (!account) {
        missing.push(name);
        continue;
      }
      if (!(account.imagePullSecrets ?? []).some((ref) => ref.name === plan.secretName)) {
        await deps.writes.addImagePullSecret(account, plan.secretName);
        log.info('pull secret added to ServiceAccount', { serviceAccount: name, secret: plan.secretName });
        if (plan.previouslyBound.includes(name)) restored.push({ serviceAccount: name, removedBy: imagePullSecretsManagers(account) });
      }
      bound.push(name);
    }
  } catch (error) {
    if (isConflict(error)) throw error;
    return { wanted, bound: [...new Set([...bound, ...plan.previouslyBound])].sort(), missing, error: describeApiError(error) };
  }
  return { wanted, bound, missing, ...(restored.length > 0 ? { restored } : {}) };
}

/**
 * Who last wrote imagePullSecrets: it is an atomic list, so whoever replaced it owns all of it (a
 * GitOps tool's apply, typically). Empty when the list is gone altogether.
 */
function imagePullSecretsManagers(account: V1ServiceAccount): string[] {
  return (account.metadata?.managedFields ?? [])
    .filter((entry) => entry.manager !== FIELD_MANAGER && entry.fieldsV1 !== undefined && 'f:imagePullSecrets' in entry.fieldsV1)
    .map((entry) => entry.manager ?? 'unknown')
    .sort();
}

/** Removes our entry (by name) from each ServiceAccount, leaving every other entry as it is. */
export async function unbindServiceAccounts(deps: ServiceAccountDeps, namespace: string, serviceAccounts: readonly string[], secretName: string): Promise<void> {
  for (const name of serviceAccounts) {
    const account = await deps.reads.serviceAccount(namespace, name);
    const index = (account?.imagePullSecrets ?? []).findIndex((ref) => ref.name === secretName);
    if (index >= 0) await deps.writes.removeImagePullSecret(namespace, name, index, secretName);
  }
}
