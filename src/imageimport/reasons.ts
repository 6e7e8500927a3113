/** Reasons on an ImageImport's conditions and Events. */
export const ImportReason = {
  Imported: 'Imported',
  RegistryNotFound: 'RegistryNotFound',
  RegistryNotReady: 'RegistryNotReady',
  RegistryDeleting: 'RegistryDeleting',
  RepositoryNotFound: 'RepositoryNotFound',
  TagNotFound: 'TagNotFound',
  InvalidManifest: 'InvalidManifest',
  AccessDenied: 'AccessDenied',
  PullCheckFailed: 'PullCheckFailed',
  CredentialsSecretNotFound: 'CredentialsSecretNotFound',
  CredentialsKeyMissing: 'CredentialsKeyMissing',
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
  ImportReason.RegistryNotReady,
  ImportReason.RegistryDeleting,
]);
