import type { Condition, ObjectMeta } from './meta.ts';

/** Where the AWS keys live: a Secret in the registry's own namespace (the field has no namespace on purpose). */
export interface CredentialsSecretRef {
  name: string;
  /** Defaults: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional). */
  accessKeyIDKey?: string;
  secretAccessKeyKey?: string;
  sessionTokenKey?: string;
}

/** A ServiceAccount in the registry's own namespace whose tokens are exchanged for an AWS session (web identity). */
export interface ServiceAccountCredentialsRef {
  name: string;
  /** The token's audience, which the IAM OIDC provider expects; defaults to sts.amazonaws.com. */
  audience?: string;
}

/** Exactly one source: static keys (secretRef) or a ServiceAccount's web identity (serviceAccountRef, with roleArn). */
export interface EcrRegistryCredentials {
  secretRef?: CredentialsSecretRef;
  serviceAccountRef?: ServiceAccountCredentialsRef;
  /** With secretRef: assume this role with the keys. With serviceAccountRef: the role to assume with the token (required). */
  roleArn?: string;
  externalId?: string;
}

/** A reference to an object in the same namespace; an object, not a bare name, so it can grow fields. */
export interface LocalObjectReference {
  name: string;
}

export interface PullSecretSpec {
  /** Defaults to the EcrRegistry's name. */
  name?: string;
  /** ServiceAccounts in the same namespace whose imagePullSecrets get this secret appended. */
  serviceAccounts?: LocalObjectReference[];
}

export interface RefreshSpec {
  /** Go-style duration ("30m", "2h"). Refresh this long before expiry instead of at half the token's life. */
  refreshBefore?: string;
}

export interface EcrRegistrySpec {
  /** <account>.dkr.ecr.<region>.amazonaws.com (or a FIPS, China or dual-stack form). */
  registry: string;
  /** More registry hosts in the same region (other accounts) that the same token serves. */
  additionalRegistries?: string[];
  /** Derived from the host when unset; must match it when set. */
  region?: string;
  credentials: EcrRegistryCredentials;
  /** ECR API endpoint override (VPC endpoint); only honoured when the operator's allowlist matches it. */
  endpoint?: string;
  pullSecret?: PullSecretSpec;
  refresh?: RefreshSpec;
}

export interface EcrRegistryStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  pullSecretName?: string;
  /** When the served token expires: never later than the expiry ECR reported. */
  expirationTime?: string;
  lastRefreshTime?: string;
  nextRefreshTime?: string;
  /** ServiceAccounts that carry this registry's pull secret, so entries can be removed later. */
  serviceAccounts?: LocalObjectReference[];
  /** ImageImports that still use this registry and so hold its deletion. */
  inUseBy?: LocalObjectReference[];
}

export interface EcrRegistry {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: EcrRegistrySpec;
  status?: EcrRegistryStatus;
}

export const DEFAULT_WEB_IDENTITY_AUDIENCE = 'sts.amazonaws.com';
export const DEFAULT_ACCESS_KEY_ID_KEY = 'AWS_ACCESS_KEY_ID';
export const DEFAULT_SECRET_ACCESS_KEY_KEY = 'AWS_SECRET_ACCESS_KEY';
export const DEFAULT_SESSION_TOKEN_KEY = 'AWS_SESSION_TOKEN';
