import type { ImagePlatform } from '../api/image-import.ts';

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

const IMAGE_MANIFEST_TYPES: readonly string[] = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest];
/** What an image manifest's config is when the manifest is a container image, not another OCI artifact. */
const IMAGE_CONFIG_TYPES: readonly string[] = ['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json'];
const INDEX_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList];
const KNOWN_TYPES: readonly string[] = [...IMAGE_MANIFEST_TYPES, ...INDEX_TYPES];

/**
 * What BatchGetImage is asked to return. Without index types ECR reports a multi-platform tag as
 * not found; schema 1 manifests are left out because they carry no config blob to check.
 */
export const ACCEPTED_MANIFEST_MEDIA_TYPES: readonly string[] = KNOWN_TYPES;

/** The Accept header for fetching one platform's manifest from the registry. */
export const IMAGE_MANIFEST_ACCEPT = IMAGE_MANIFEST_TYPES.join(', ');

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
}

export interface IndexEntry extends Descriptor {
  platform?: { os?: string; architecture?: string; variant?: string };
  /** A build attestation (provenance, SBOM) stored beside the platform images, not a platform. */
  attestation: boolean;
}

export type Manifest =
  | { kind: 'image'; mediaType: string; config: Descriptor }
  | { kind: 'index'; mediaType: string; manifests: IndexEntry[] };

/** A manifest that cannot be read as an image manifest or index. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

// sha256 and sha512 are the algorithms OCI registers, and the ones a fetched blob can be checked against.
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

/**
 * Parses a manifest from ECR or the registry. `declaredMediaType` (ECR's imageManifestMediaType or
 * the Content-Type) wins over the document's own `mediaType`, which OCI makes optional.
 */
export function parseManifest(text: string, declaredMediaType?: string): Manifest {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new ManifestError('the manifest is not JSON');
  }
  if (!isRecord(document)) throw new ManifestError('the manifest is not a JSON object');
  const ownType = typeof document.mediaType === 'string' ? document.mediaType : undefined;
  const declared = declaredMediaType?.split(';')[0]?.trim() || undefined;
  // A registry may serve a manifest as application/json; then the document's own type, or its shape, decides.
  const mediaType = [declared, ownType].find((t) => t !== undefined && KNOWN_TYPES.includes(t));

  const isIndex = mediaType ? INDEX_TYPES.includes(mediaType) : Array.isArray(document.manifests);
  const isImage = mediaType ? IMAGE_MANIFEST_TYPES.includes(mediaType) : isRecord(document.config);
  if (isIndex) {
    if (!Array.isArray(document.manifests)) throw new ManifestError('the index has no manifests list');
    return { kind: 'index', mediaType: mediaType ?? MEDIA_TYPES.ociIndex, manifests: document.manifests.map(indexEntry) };
  }
  if (isImage) {
    const config = descriptor(document.config, 'config');
    // OCI artifacts (Helm charts, signatures, SBOMs) share the image manifest's media type; their config says what they are.
    if (config.mediaType !== undefined && !IMAGE_CONFIG_TYPES.includes(config.mediaType)) {
      throw new ManifestError(`its config is ${config.mediaType}, not a container image config: the tag holds an artifact (a Helm chart, a signature, an SBOM), which pods cannot run`);
    }
    return { kind: 'image', mediaType: mediaType ?? MEDIA_TYPES.ociManifest, config };
  }
  throw new ManifestError(`unsupported manifest media type ${declared ?? ownType ?? '(none)'}`);
}

/** The platforms of an index, in its order, without attestation entries. */
export function platformsOf(manifests: readonly IndexEntry[]): ImagePlatform[] {
  return manifests
    .filter((entry) => !entry.attestation)
    .map((entry) => ({
      ...(entry.platform?.os ? { os: entry.platform.os } : {}),
      ...(entry.platform?.architecture ? { architecture: entry.platform.architecture } : {}),
      ...(entry.platform?.variant ? { variant: entry.platform.variant } : {}),
      digest: entry.digest,
    }));
}

/** The entry whose config the status shows: linux/amd64 when the index has it, otherwise the first platform. */
export function defaultPlatformManifest(manifests: readonly IndexEntry[]): IndexEntry | undefined {
  const platforms = manifests.filter((entry) => !entry.attestation);
  return platforms.find((e) => e.platform?.os === 'linux' && e.platform.architecture === 'amd64') ?? platforms[0];
}

function indexEntry(value: unknown, position: number): IndexEntry {
  const base = descriptor(value, `manifests[${position}]`);
  const record = value as Record<string, unknown>;
  const platform = isRecord(record.platform)
    ? {
        ...(typeof record.platform.os === 'string' ? { os: record.platform.os } : {}),
        ...(typeof record.platform.architecture === 'string' ? { architecture: record.platform.architecture } : {}),
        ...(typeof record.platform.variant === 'string' ? { variant: record.platform.variant } : {}),
      }
    : undefined;
  const annotations = isRecord(record.annotations) ? record.annotations : {};
  const attestation =
    annotations['vnd.docker.reference.type'] === 'attestation-manifest' || (platform?.os === 'unknown' && platform.architecture === 'unknown');
  return { ...base, ...(platform ? { platform } : {}), attestation };
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!isRecord(value)) throw new ManifestError(`${where} is not a descriptor`);
  if (!isDigest(value.digest)) throw new ManifestError(`${where} has no valid digest`);
  return {
    digest: value.digest,
    ...(typeof value.mediaType === 'string' ? { mediaType: value.mediaType } : {}),
    ...(typeof value.size === 'number' ? { size: value.size } : {}),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
