/** Reasons on an EcrRegistry's conditions. The README's troubleshooting table lists each with its fix. */
export const RegistryReason = {
  PullSecretReady: 'PullSecretReady',
  CredentialsSecretNotFound: 'CredentialsSecretNotFound',
  CredentialsKeyMissing: 'CredentialsKeyMissing',
  CredentialsRejected: 'CredentialsRejected',
  AccessDenied: 'AccessDenied',
  Throttled: 'Throttled',
  EcrUnreachable: 'EcrUnreachable',
  EcrError: 'EcrError',
  PullSecretConflict: 'PullSecretConflict',
  EndpointNotAllowed: 'EndpointNotAllowed',
  InvalidSpec: 'InvalidSpec',
  KubernetesApiError: 'KubernetesApiError',
  ServiceAccountsBound: 'ServiceAccountsBound',
  ServiceAccountNotFound: 'ServiceAccountNotFound',
  InUse: 'InUse',
} as const;
export type RegistryReason = (typeof RegistryReason)[keyof typeof RegistryReason];

export const ConditionType = {
  Ready: 'Ready',
  ServiceAccountsReady: 'ServiceAccountsReady',
} as const;
