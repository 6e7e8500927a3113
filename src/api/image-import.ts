import type { Condition, ObjectMeta } from './meta.ts';

/**
 * An EcrRegistry in the ImageImport's own namespace (the field has no namespace on purpose), or a
 * ClusterEcrRegistry that selects that namespace.
 */
export interface RegistryRef {
  /** Defaulted to EcrRegistry by the apiserver. */
  kind?: 'EcrRegistry' | 'ClusterEcrRegistry';
  name: string;
}

/** Kubernetes quantities; the schema accepts a YAML number or a string such as "500m" or "4Gi". */
export interface WorkspaceDefaults {
  cpu?: string | number;
  memory?: string | number;
  disk?: string | number;
}

export interface ImportPolicy {
  /** Go-style duration between 10s and 168h; the apiserver defaults it to "1h". */
  interval?: string;
  /** Stops scheduled re-checks; a spec change still imports. Defaults to false. */
  suspend?: boolean;
}

export interface ImageImportSpec {
  registryRef: RegistryRef;
  /** ECR repository name, such as "team/app". */
  repository: string;
  /** Defaulted to ["latest"] by the apiserver, so present on every object read back. */
  tags?: string[];
  /** One of tags (a CEL rule); unset means tags[0]. */
  defaultTag?: string;
  description?: string;
  url?: string;
  deprecated?: boolean;
  workspaceDefaults?: WorkspaceDefaults;
  /** Defaulted to {} (then interval "1h", suspend false) by the apiserver. */
  importPolicy?: ImportPolicy;
}

/** One platform-specific manifest of a manifest list or OCI index. */
export interface ImagePlatform {
  os?: string;
  architecture?: string;
  variant?: string;
  digest?: string;
}

/** The fields read from the image config blob. */
export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  user?: string;
  labels?: Record<string, string>;
}

export interface TagHistoryEntry {
  digest: string;
  firstSeen?: string;
}

export interface TagStatus {
  tag: string;
  digest?: string;
  /** `<host>/<repository>@sha256:…` */
  image?: string;
  pushedAt?: string;
  sizeBytes?: number;
  mediaType?: string;
  platforms?: ImagePlatform[];
  config?: ImageConfig;
  pullable?: boolean;
  digestChangedAt?: string;
  /** Earlier digests, newest first; the schema caps it at TAG_HISTORY_LIMIT. */
  history?: TagHistoryEntry[];
  /** `Resolved` and its reason (TagNotFound, AccessDenied, …); the fields above keep the last good result. */
  conditions?: Condition[];
  /** Fields of this entry left out to keep the whole status within its size budget. */
  truncatedFields?: TruncatedField[];
}

/**
 * What may be left out of a tag's status when the whole status would be too large, in the order it is
 * cut: the config's labels, then the rest of the config, then the history, then the platforms.
 * `config` means the whole config was left out (labels included).
 */
export const TRUNCATED_FIELDS = ['config.labels', 'config', 'history', 'platforms'] as const;
export type TruncatedField = (typeof TRUNCATED_FIELDS)[number];

export interface ImageImportStatus {
  /** The apiserver defaults it to -1 on a new object, so kstatus reads it as not yet reconciled. */
  observedGeneration?: number;
  conditions?: Condition[];
  lastImportTime?: string;
  nextImportTime?: string;
  pullSecretName?: string;
  /** spec.defaultTag, or tags[0] when that is unset. */
  defaultTag?: string;
  defaultDigest?: string;
  /** First 12 hex digits of defaultDigest, for the Digest printer column. */
  defaultShortDigest?: string;
  tags?: TagStatus[];
}

export interface ImageImport {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: ImageImportSpec;
  status?: ImageImportStatus;
}

export const DEFAULT_TAGS: readonly string[] = ['latest'];
export const DEFAULT_IMPORT_INTERVAL = '1h';
export const MIN_IMPORT_INTERVAL = '10s';
/** Matches the schema's maxItems on status.tags[].history. */
export const TAG_HISTORY_LIMIT = 10;
export const SHORT_DIGEST_LENGTH = 12;
