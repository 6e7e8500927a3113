/** Reasons on an ImageImport's conditions and Events. */
export const ImportReason = {
  Imported: 'Imported',
  RegistryNotFound: 'RegistryNotFound',
  /** The ClusterEcrRegistry does not select the import's namespace. */
  RegistryNotServingNamespace: 'RegistryNotServingNamespace',
  RegistryNotReady: 'RegistryNotReady',
  RegistryDeleting: 'RegistryDeleting',
  RepositoryNotFound: 'RepositoryNotFound',
  TagNotFound: 'TagNotFound',
  InvalidManifest: 'InvalidManifest',
  AccessDenied: 'AccessDenied',
  PullCheckFailed: 'PullCheckFailed',
  CredentialsSecretNotFound: 'CredentialsSecretNotFound',
  CredentialsKeyMissing: 'CredentialsKeyMissing',
  CredentialsMalformed: 'CredentialsMalformed',
  CredentialsRejected: 'CredentialsRejected',
  Throttled: 'Throttled',
  EcrUnreachable: 'EcrUnreachable',
  EcrError: 'EcrError',
  Suspended: 'Suspended',
  /** Event: a tag moved to a new digest. */
  TagUpdated: 'TagUpdated',
  /** Per-tag conditions. */
  Resolved: 'Resolved',
  Pulled: 'Pulled',
} as const;
export type ImportReason = (typeof ImportReason)[keyof typeof ImportReason];

export const ImportConditionType = {
  Ready: 'Ready',
  /** Present (True) while spec.importPolicy.suspend stops scheduled imports. */
  Suspended: 'Suspended',
} as const;

export const TagConditionType = {
  /** The last import found the tag. */
  Resolved: 'Resolved',
  /** The last import fetched the image's config through the registry with the pull secret. */
  Pullable: 'Pullable',
} as const;

/** Reasons that mean the import waits for the EcrRegistry; the registry's next change, not a timer, retries it. */
export const REGISTRY_WAIT_REASONS: ReadonlySet<string> = new Set([
  ImportReason.RegistryNotFound,
  ImportReason.RegistryNotServingNamespace,
  ImportReason.RegistryNotReady,
  ImportReason.RegistryDeleting,
]);

/**
 * How kstatus (Flux, `kubectl wait`, cli-utils) should read an ImageImport whose Ready is False, by
 * its Ready reason: `reconciling` (Reconciling=True: the import gets there by itself, retrying or
 * waiting) or `stalled` (Stalled=True: it will not get there until a person acts). Ready=True, or
 * spec.importPolicy.suspend, removes both; both carry the Ready reason and message.
 *
 * - RegistryNotReady: reconciling, the registry is getting its first token or retrying and the import
 *   follows it; stalled when the registry is itself Stalled, or names an endpoint the operator refuses
 *   (registryAccess decides those).
 * - Throttled, EcrUnreachable, EcrError: reconciling, retried with backoff (EcrError: an unexpected
 *   ECR answer, or a tag that moved mid-cycle).
 * - PullCheckFailed: stalled when the registry refused the pull secret or served something wrong (401,
 *   403, a digest mismatch); reconciling when every failed pull check can be retried (network, 429,
 *   5xx), which import-status.ts decides per tag.
 * - RegistryNotFound, RegistryDeleting: stalled; create the registry (which wakes the import at once),
 *   or point the import elsewhere. RegistryNotServingNamespace: stalled; select the namespace in the
 *   ClusterEcrRegistry (which wakes the import), or point the import elsewhere.
 * - RepositoryNotFound, TagNotFound (any tag), InvalidManifest: stalled; re-checked on schedule, but a
 *   push or a spec change is needed.
 * - AccessDenied, CredentialsSecretNotFound, CredentialsKeyMissing, CredentialsMalformed, CredentialsRejected: stalled; fix
 *   the IAM policy or the keys.
 */
export const PROGRESS_BY_REASON: Readonly<Record<string, 'reconciling' | 'stalled'>> = {
  [ImportReason.RegistryNotReady]: 'reconciling',
  [ImportReason.Throttled]: 'reconciling',
  [ImportReason.EcrUnreachable]: 'reconciling',
  [ImportReason.EcrError]: 'reconciling',
  [ImportReason.PullCheckFailed]: 'stalled',
  [ImportReason.RegistryNotFound]: 'stalled',
  [ImportReason.RegistryNotServingNamespace]: 'stalled',
  [ImportReason.RegistryDeleting]: 'stalled',
  [ImportReason.RepositoryNotFound]: 'stalled',
  [ImportReason.TagNotFound]: 'stalled',
  [ImportReason.InvalidManifest]: 'stalled',
  [ImportReason.AccessDenied]: 'stalled',
  [ImportReason.CredentialsSecretNotFound]: 'stalled',
  [ImportReason.CredentialsKeyMissing]: 'stalled',
  [ImportReason.CredentialsMalformed]: 'stalled',
  [ImportReason.CredentialsRejected]: 'stalled',
};

/** A reason the table does not name is retried like any failure, so it reads as Reconciling. */
export function progressOfReason(reason: string): 'reconciling' | 'stalled' {
  return Object.hasOwn(PROGRESS_BY_REASON, reason) ? PROGRESS_BY_REASON[reason]! : 'reconciling';
}
