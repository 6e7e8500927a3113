import type { EcrRegistryCredentials, LocalObjectReference, RefreshSpec } from './ecr-registry.ts';
import type { Condition, ObjectMeta } from './meta.ts';

/** A label selector, as metav1.LabelSelector (matchLabels and matchExpressions, ANDed). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** The credentials Secret of a ClusterEcrRegistry: in a namespace its administrator names. */
export interface ClusterCredentialsSecretRef {
  namespace: string;
  name: string;
  accessKeyIDKey?: string;
  secretAccessKeyKey?: string;
  sessionTokenKey?: string;
}

/** Exactly one source: keys in a named namespace, a ServiceAccount in a named namespace, or the operator's own identity. */
export interface ClusterEcrRegistryCredentials extends Omit<EcrRegistryCredentials, 'secretRef' | 'serviceAccountRef'> {
  secretRef?: ClusterCredentialsSecretRef;
  serviceAccountRef?: { namespace: string; name: string; audience?: string };
  /** Operator: the operator's own AWS identity (IRSA, EKS Pod Identity, environment), optionally chained to roleArn. */
  source?: 'Operator';
}

export interface ClusterPullSecretSpec {
  /** Defaults to the ClusterEcrRegistry's name. */
  name?: string;
  /** ServiceAccounts, in each selected namespace, whose imagePullSecrets get the pull secret appended. */
  serviceAccounts?: LocalObjectReference[];
  /** Extra labels and annotations on every pull secret (for policy engines); the operator's own win. */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ClusterEcrRegistrySpec {
  registry: string;
  additionalRegistries?: string[];
  region?: string;
  credentials: ClusterEcrRegistryCredentials;
  endpoint?: string;
  pullSecret?: ClusterPullSecretSpec;
  refresh?: RefreshSpec;
  /**
   * Namespaces whose labels match get the pull secret. An empty selector selects nothing; every
   * namespace is `matchExpressions: [{key: kubernetes.io/metadata.name, operator: Exists}]`.
   */
  namespaceSelector?: LabelSelector;
  /** Namespaces selected by name, in addition to the selector. */
  namespaces?: string[];
  /** Namespaces never written to, whatever else selects them. */
  excludeNamespaces?: string[];
}

/** A selected namespace whose pull secret could not be written, and why. */
export interface NamespaceFailure {
  namespace: string;
  reason: string;
  message: string;
}

export interface ClusterEcrRegistryStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  pullSecretName?: string;
  expirationTime?: string;
  lastRefreshTime?: string;
  nextRefreshTime?: string;
  namespacesSelected?: number;
  namespacesReady?: number;
  namespacesFailed?: number;
  /** At most FAILED_NAMESPACES_LIMIT, sorted by namespace. */
  failedNamespaces?: NamespaceFailure[];
  /** ImageImports (in any namespace) that use this registry and so hold its deletion. */
  inUseBy?: { namespace: string; name: string }[];
}

export interface ClusterEcrRegistry {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: ClusterEcrRegistrySpec;
  status?: ClusterEcrRegistryStatus;
}

export const FAILED_NAMESPACES_LIMIT = 20;
/** The label every namespace carries (Kubernetes ≥ 1.21): `Exists` on it selects all namespaces. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';
