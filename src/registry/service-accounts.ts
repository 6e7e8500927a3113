import type { EcrRegistry, EcrRegistryStatus } from '../api/ecr-registry.ts';
import type { Logger } from '../observability/logger.ts';
import { removeCondition, setCondition } from '../runtime/conditions.ts';
import { pullSecretName } from './pull-secret.ts';
import { ConditionType, RegistryReason } from './reasons.ts';
import type { RegistryReads, RegistryWrites } from './store.ts';

interface ServiceAccountDeps {
  reads: RegistryReads;
  writes: RegistryWrites;
  clock: { now(): number };
  events: { event(regarding: EcrRegistry, type: 'Normal' | 'Warning', reason: string, action: string, note: string): void };
}

/**
 * Appends the pull secret to each requested ServiceAccount's imagePullSecrets (never replacing other
 * entries), repairs entries that were removed, and takes ours off ServiceAccounts no longer listed.
 */
export async function syncServiceAccounts(deps: ServiceAccountDeps, registry: EcrRegistry, status: EcrRegistryStatus, log: Logger): Promise<void> {
  const namespace = registry.metadata.namespace!;
  const secretName = pullSecretName(registry);
  const wanted = [...new Set(registry.spec.pullSecret?.serviceAccounts ?? [])].sort();
  const previousSecret = status.pullSecretName ?? secretName;
  const previous = status.serviceAccounts ?? [];

  // Entries naming a pull secret we no longer write, or on accounts no longer listed, come off first.
  const stale = previousSecret !== secretName ? previous : previous.filter((sa) => !wanted.includes(sa));
  await unbindServiceAccounts(deps, namespace, stale, previousSecret);

  const bound: string[] = [];
  const missing: string[] = [];
  for (const name of wanted) {
    const account = await deps.reads.serviceAccount(namespace, name);
    if (!account) {
      missing.push(name);
      continue;
    }
    if (!(account.imagePullSecrets ?? []).some((ref) => ref.name === secretName)) {
      await deps.writes.addImagePullSecret(account, secretName);
      log.info('pull secret added to ServiceAccount', { serviceAccount: name, secret: secretName });
    }
    bound.push(name);
  }
  status.serviceAccounts = bound;

  const now = new Date(deps.clock.now());
  if (wanted.length === 0) {
    status.conditions = removeCondition(status.conditions, ConditionType.ServiceAccountsReady);
    return;
  }
  if (missing.length > 0) {
    const message = `ServiceAccount${missing.length > 1 ? 's' : ''} ${missing.join(', ')} not found in namespace ${namespace}`;
    status.conditions = setCondition(status.conditions, { type: ConditionType.ServiceAccountsReady, status: 'False', reason: RegistryReason.ServiceAccountNotFound, message }, registry.metadata.generation, now);
    deps.events.event(registry, 'Warning', RegistryReason.ServiceAccountNotFound, 'BindServiceAccounts', message);
  } else {
    const message = `imagePullSecrets of ${bound.join(', ')} include ${secretName}`;
    status.conditions = setCondition(status.conditions, { type: ConditionType.ServiceAccountsReady, status: 'True', reason: RegistryReason.ServiceAccountsBound, message }, registry.metadata.generation, now);
  }
}

/** Removes our entry (by name) from each ServiceAccount, leaving every other entry as it is. */
export async function unbindServiceAccounts(
  deps: Pick<ServiceAccountDeps, 'reads' | 'writes'>,
  namespace: string,
  serviceAccounts: readonly string[],
  secretName: string,
): Promise<void> {
  for (const name of serviceAccounts) {
    const account = await deps.reads.serviceAccount(namespace, name);
    const index = (account?.imagePullSecrets ?? []).findIndex((ref) => ref.name === secretName);
    if (index >= 0) await deps.writes.removeImagePullSecret(namespace, name, index, secretName);
  }
}
