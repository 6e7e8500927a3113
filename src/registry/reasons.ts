/** Reasons on an EcrRegistry's conditions. The README's troubleshooting table lists each with its fix. */
export const RegistryReason = {
  PullSecretReady: 'PullSecretReady',
  /** Refreshed=True: the last refresh succeeded. */
  TokenRefreshed: 'TokenRefreshed',
  /** Reconciling=True before the first attempt has an outcome. */
  Progressing: 'Progressing',
  CredentialsSecretNotFound: 'CredentialsSecretNotFound',
  CredentialsKeyMissing: 'CredentialsKeyMissing',
  /** A key in the credentials Secret cannot be an AWS key (binary, swapped, double-encoded, ASIA without a token); AWS is not called. */
  CredentialsMalformed: 'CredentialsMalformed',
  /** Warning Event: a key had whitespace or quotes around it, which were ignored; the user should store it clean. */
  CredentialsTrimmed: 'CredentialsTrimmed',
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
  /** credentials.serviceAccountRef: the apiserver refused the TokenRequest (RBAC, an admission policy). */
  TokenRequestDenied: 'TokenRequestDenied',
  /** credentials.serviceAccountRef: STS refused the token (audience, untrusted subject, expired, unknown issuer). */
  WebIdentityRejected: 'WebIdentityRejected',
  /** credentials.source Operator: the operator has no AWS identity of its own (no IRSA, Pod Identity or environment). */
  OperatorIdentityUnavailable: 'OperatorIdentityUnavailable',
  /** Warning Event: someone else's write dropped our imagePullSecrets entry, and it was put back. */
  ServiceAccountEntryRestored: 'ServiceAccountEntryRestored',
  InUse: 'InUse',
  /** ClusterEcrRegistry Ready=False: some selected namespaces hold no valid pull secret (status.failedNamespaces). */
  NamespacesNotReady: 'NamespacesNotReady',
} as const;
export type RegistryReason = (typeof RegistryReason)[keyof typeof RegistryReason];

export const ConditionType = {
  /** True while the pull secret serves a token valid for the current spec. */
  Ready: 'Ready',
  /** The last refresh: False with the failure's reason while refreshes fail. */
  Refreshed: 'Refreshed',
  ServiceAccountsReady: 'ServiceAccountsReady',
  /** True (reason InUse) while deletion waits for the ImageImports that use the registry. */
  Deleting: 'Deleting',
} as const;
