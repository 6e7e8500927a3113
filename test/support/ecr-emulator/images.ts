import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';

/**
 * Image generation in code: real JSON manifests and config blobs, layers of random bytes (gzipped,
 * so diff_ids are honest), and digests that are the sha256 of the exact bytes the registry serves.
 */

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
} as const;

export const INDEX_MEDIA_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList];

/** `oci`: OCI image manifest / OCI index; `docker`: Docker schema 2 manifest / manifest list. */
export type ManifestFormat = 'oci' | 'docker';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** The runtime settings of the image config blob (`config` in the OCI image config). */
export interface ImageRuntimeConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  User?: string;
  Labels?: Record<string, string>;
  Env?: string[];
}

export interface ImageSpec {
  /** Default linux/amd64. */
  platform?: Platform;
  config?: ImageRuntimeConfig;
  /** Uncompressed sizes of the random layers; default two layers of 512 and 1024 bytes. */
  layerSizes?: number[];
  /** Default `oci`. */
  format?: ManifestFormat;
}

export interface Blob {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

export interface BuiltImage {
  manifest: Blob;
  config: Blob;
  layers: Blob[];
  platform: Platform;
  /** Config plus compressed layers, as ECR counts an image's size. */
  sizeInBytes: number;
}

export interface IndexEntry {
  digest: string;
  mediaType: string;
  size: number;
  platform: Platform;
}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function blob(mediaType: string, bytes: Buffer): Blob {
  return { digest: sha256Digest(bytes), mediaType, bytes };
}

function jsonBytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function buildImage(spec: ImageSpec, created: Date): BuiltImage {
  const format = spec.format ?? 'oci';
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' };
  const layerMediaType = format === 'oci' ? MEDIA_TYPES.ociLayer : MEDIA_TYPES.dockerLayer;
  const uncompressed = (spec.layerSizes ?? [512, 1024]).map((size) => randomBytes(Math.max(0, size)));
  const layers = uncompressed.map((bytes) => blob(layerMediaType, gzipSync(bytes)));
  const runtime = spec.config ?? {};
  const configDocument = {
    created: created.toISOString(),
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {
      ...(runtime.User !== undefined ? { User: runtime.User } : {}),
      Env: runtime.Env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(runtime.Entrypoint !== undefined ? { Entrypoint: runtime.Entrypoint } : {}),
      ...(runtime.Cmd !== undefined ? { Cmd: runtime.Cmd } : {}),
      ...(runtime.WorkingDir !== undefined ? { WorkingDir: runtime.WorkingDir } : {}),
      ...(runtime.Labels !== undefined ? { Labels: runtime.Labels } : {}),
    },
    rootfs: { type: 'layers', diff_ids: uncompressed.map(sha256Digest) },
    history: uncompressed.map(() => ({ created: created.toISOString(), created_by: 'ecr-emulator' })),
  };
  const config = blob(format === 'oci' ? MEDIA_TYPES.ociConfig : MEDIA_TYPES.dockerConfig, jsonBytes(configDocument));
  const manifestMediaType = format === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest;
  const manifest = blob(
    manifestMediaType,
    jsonBytes({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: { mediaType: config.mediaType, digest: config.digest, size: config.bytes.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.bytes.length })),
    }),
  );
  const sizeInBytes = config.bytes.length + layers.reduce((sum, l) => sum + l.bytes.length, 0);
  return { manifest, config, layers, platform, sizeInBytes };
}

export function buildIndex(entries: IndexEntry[], format: ManifestFormat): Blob {
  const mediaType = format === 'oci' ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerManifestList;
  return blob(
    mediaType,
    jsonBytes({
      schemaVersion: 2,
      mediaType,
      manifests: entries.map((e) => ({
        mediaType: e.mediaType,
        digest: e.digest,
        size: e.size,
        platform: {
          architecture: e.platform.architecture,
          os: e.platform.os,
          ...(e.platform.variant ? { variant: e.platform.variant } : {}),
        },
      })),
    }),
  );
}
