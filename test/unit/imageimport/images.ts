import { createHash } from 'node:crypto';

/** Small, real image documents for the unit tests: manifests and configs whose digests are honest. */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

export function digestOf(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

export interface Doc {
  text: string;
  digest: string;
}

function doc(value: unknown): Doc {
  const text = JSON.stringify(value);
  return { text, digest: digestOf(text) };
}

export function configBlob(config: Record<string, unknown> = {}): Doc {
  return doc({ architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [] } });
}

export function imageManifest(config: Doc, mediaType = OCI_MANIFEST): Doc {
  return doc({
    schemaVersion: 2,
    mediaType,
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.text.length },
    layers: [],
  });
}

export interface Child {
  manifest: Doc;
  platform: Record<string, string>;
  annotations?: Record<string, string>;
}

export function index(children: Child[], mediaType = OCI_INDEX): Doc {
  return doc({
    schemaVersion: 2,
    mediaType,
    manifests: children.map((c) => ({
      mediaType: OCI_MANIFEST,
      digest: c.manifest.digest,
      size: c.manifest.text.length,
      platform: c.platform,
      ...(c.annotations ? { annotations: c.annotations } : {}),
    })),
  });
}
