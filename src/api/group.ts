/** The API group this operator owns, and the names its resources are served under. */
export const API_GROUP = 'ecr.pullsecrets.io';
export const API_VERSION = 'v1alpha1';
export const GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

export const ECR_REGISTRY = { kind: 'EcrRegistry', plural: 'ecrregistries' } as const;
export const IMAGE_IMPORT = { kind: 'ImageImport', plural: 'imageimports' } as const;
export const CLUSTER_ECR_REGISTRY = { kind: 'ClusterEcrRegistry', plural: 'clusterecrregistries' } as const;

/** Label on every object the operator writes; the managed-Secret informer selects on it. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'ecr-pullsecrets-operator';
/** The Secrets this operator manages (its pull secrets), which a label-selected cache holds. */
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
/** Every other Secret, such as credentials (`!=` also matches a Secret without the label). */
export const UNMANAGED_SELECTOR = `${MANAGED_BY_LABEL}!=${MANAGED_BY_VALUE}`;
/** Server-side field manager name for every write. */
export const FIELD_MANAGER = MANAGED_BY_VALUE;

/** Finalizer that lets the operator clean ServiceAccount entries and hold deletion while images use a registry. */
export const REGISTRY_FINALIZER = `${API_GROUP}/cleanup`;
