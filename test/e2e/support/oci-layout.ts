import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { runCommandOk } from '../../support/run-command.ts';

/**
 * Reads an OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
 * as a container runtime would: index.json → manifest → config and layers, every blob checked against
 * its digest, and the layers unpacked in order into one root filesystem.
 */

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: number;
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** The parts of an OCI image config (https://github.com/opencontainers/image-spec/blob/main/config.md) the tests read. */
export interface ImageConfig {
  architecture: string;
  os: string;
  created?: string;
  config: {
    User?: string;
    Entrypoint?: string[];
    Cmd?: string[];
    Env?: string[];
    WorkingDir?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
  };
  rootfs: { type: string; diff_ids: string[] };
  history?: Array<{ created?: string; created_by?: string; empty_layer?: boolean }>;
}

export interface OciImage {
  layoutDir: string;
  index: { schemaVersion: number; manifests: Descriptor[] };
  manifestDescriptor: Descriptor;
  manifest: ImageManifest;
  config: ImageConfig;
  blobPath(digest: string): string;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** The layout's one image, with its manifest and config blobs checked against their digests and sizes. */
export async function readOciImage(layoutDir: string): Promise<OciImage> {
  const marker = JSON.parse(await fs.readFile(path.join(layoutDir, 'oci-layout'), 'utf8')) as { imageLayoutVersion?: string };
  if (marker.imageLayoutVersion !== '1.0.0') throw new Error(`${layoutDir}/oci-layout: imageLayoutVersion ${marker.imageLayoutVersion}`);
  const index = JSON.parse(await fs.readFile(path.join(layoutDir, 'index.json'), 'utf8')) as OciImage['index'];
  if (index.manifests.length !== 1) throw new Error(`${layoutDir}/index.json lists ${index.manifests.length} manifests, expected 1`);
  const manifestDescriptor = index.manifests[0]!;
  const blobPath = (digest: string) => {
    const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
    if (!match) throw new Error(`not a sha256 digest: ${digest}`);
    return path.join(layoutDir, 'blobs', 'sha256', match[1]!);
  };
  const readBlob = async (descriptor: Descriptor) => {
    const bytes = await fs.readFile(blobPath(descriptor.digest));
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== descriptor.digest) throw new Error(`blob ${descriptor.digest} hashes to ${actual}`);
    if (bytes.length !== descriptor.size) throw new Error(`blob ${descriptor.digest} has ${bytes.length} bytes, its descriptor says ${descriptor.size}`);
    return JSON.parse(bytes.toString('utf8')) as unknown;
  };
  const manifest = (await readBlob(manifestDescriptor)) as ImageManifest;
  const config = (await readBlob(manifest.config)) as ImageConfig;
  return { layoutDir, index, manifestDescriptor, manifest, config, blobPath };
}

/** sha256 of a layer blob as stored (its digest) and of its uncompressed tar (its diff_id in the config). */
export async function layerDigests(image: OciImage, layer: Descriptor): Promise<{ digest: string; diffId: string; size: number }> {
  const compressed = createHash('sha256');
  const uncompressed = createHash('sha256');
  let size = 0;
  const source = createReadStream(image.blobPath(layer.digest));
  source.on('data', (chunk) => {
    compressed.update(chunk);
    size += chunk.length;
  });
  await pipeline(source, createGunzip(), async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) uncompressed.update(chunk);
  });
  return { digest: `sha256:${compressed.digest('hex')}`, diffId: `sha256:${uncompressed.digest('hex')}`, size };
}

/** The entry names of a layer (GNU tar lists them), as written in the archive. */
export async function layerEntries(image: OciImage, layer: Descriptor): Promise<string[]> {
  const { stdout: output } = await runCommandOk('tar', ['--list', '--gzip', '--file', image.blobPath(layer.digest)]);
  return output.split('\n').filter((line) => line !== '');
}

/**
 * OCI whiteouts: `.wh.<name>` deletes <name> of a lower layer, `.wh..wh..opq` empties a folder. This
 * reader does not apply them, so it refuses a layer that has any instead of unpacking a wrong tree.
 */
export function whiteouts(entries: readonly string[]): string[] {
  return entries.filter((entry) => path.posix.basename(entry.replace(/\/$/, '')).startsWith('.wh.'));
}

/**
 * Unpacks the layers in order into `rootDir` with owners, modes and links as recorded (GNU tar, run as
 * root, keeps numeric owners). Throws on a whiteout (see whiteouts()).
 */
export async function unpackLayers(image: OciImage, rootDir: string): Promise<void> {
  await fs.mkdir(rootDir, { recursive: true });
  for (const layer of image.manifest.layers) {
    if (layer.mediaType !== OCI_LAYER_GZIP) throw new Error(`layer ${layer.digest} is ${layer.mediaType}, expected ${OCI_LAYER_GZIP}`);
    const found = whiteouts(await layerEntries(image, layer));
    if (found.length > 0) throw new Error(`layer ${layer.digest} has whiteouts, which this reader does not apply: ${found.join(', ')}`);
    await runCommandOk('tar', ['--extract', '--gzip', '--file', image.blobPath(layer.digest), '--directory', rootDir, '--same-owner', '--same-permissions', '--numeric-owner']);
  }
}

