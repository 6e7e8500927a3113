import { classifyAwsError, conditionReasonFor } from '../aws/errors.ts';
import type { EcrImageReader, ImageDetails, TagFailure, TagManifest } from './ecr-images.ts';
import { parseImageConfig } from './image-config.ts';
import { defaultPlatformManifest, IMAGE_MANIFEST_ACCEPT, type Manifest, parseManifest, platformsOf } from './manifest.ts';
import { ImportReason } from './reasons.ts';
import { type RegistryV2Reader, RegistryV2Error } from './registry-v2-client.ts';
import type { PullCheck, TagResolution } from './tag-status.ts';

export interface ImportCycleInput {
  repository: string;
  tags: readonly string[];
  ecr: EcrImageReader;
  /** The registry as the pull secret reaches it, or why the pull secret can't be used. */
  registry: RegistryV2Reader | { unavailable: string };
  /** Secret values in play, removed from any message that quotes AWS. */
  secrets: readonly string[];
  signal?: AbortSignal;
}

export type ImportCycleResult =
  | { kind: 'resolved'; tags: Map<string, TagResolution>; retryable: boolean }
  | { kind: 'failed'; reason: string; message: string; retryable: boolean };

/**
 * One import: a BatchGetImage for all tags (missing ones come back as failures), a DescribeImages
 * for the digests that exist (it would fail whole on a missing one), then a pull check per distinct
 * digest through the registry with the pull secret. Exactly one call of each per cycle.
 */
export async function runImportCycle(input: ImportCycleInput): Promise<ImportCycleResult> {
  const { repository, ecr, signal } = input;
  let found: TagManifest[];
  let failed: TagFailure[];
  try {
    ({ found, failed } = await ecr.manifestsOf(repository, input.tags, signal));
  } catch (error) {
    return ecrFailure('BatchGetImage', error, input.secrets);
  }

  const manifests = new Map<string, { digest: string; manifest?: Manifest; invalid?: string; declaredType?: string }>();
  for (const image of found) {
    try {
      manifests.set(image.tag, { digest: image.digest, manifest: parseManifest(image.manifest, image.mediaType), ...(image.mediaType ? { declaredType: image.mediaType } : {}) });
    } catch (error) {
      manifests.set(image.tag, { digest: image.digest, invalid: (error as Error).message });
    }
  }

  const digests = [...new Set(found.map((image) => image.digest))];
  let details: ImageDetails[];
  try {
    details = await ecr.describe(repository, digests, signal);
  } catch (error) {
    const failure = ecrFailure('DescribeImages', error, input.secrets);
    // BatchGetImage just saw these digests, so a missing one means a tag moved in between; the next try settles it.
    if (failure.reason === ImportReason.EcrError && (error as Error).name === 'ImageNotFoundException') failure.retryable = true;
    return failure;
  }
  const detailsByDigest = new Map(details.map((d) => [d.digest, d]));

  const pullChecks = new Map<string, Promise<PullCheck>>();
  for (const entry of manifests.values()) {
    if (entry.manifest && !pullChecks.has(entry.digest)) pullChecks.set(entry.digest, pullCheck(input.registry, repository, entry.manifest, signal));
  }
  const pulls = new Map<string, PullCheck>();
  for (const [digest, check] of pullChecks) pulls.set(digest, await check);

  const failedByTag = new Map(failed.map((f) => [f.tag, f]));
  const tags = new Map<string, TagResolution>();
  let retryable = false;
  for (const tag of input.tags) {
    const entry = manifests.get(tag);
    if (!entry) {
      const failure = tagFailure(tag, failedByTag.get(tag));
      retryable ||= failure.retryable;
      tags.set(tag, { found: false, reason: failure.reason, message: failure.message });
      continue;
    }
    if (!entry.manifest) {
      tags.set(tag, { found: false, reason: ImportReason.InvalidManifest, message: `tag ${tag} (${entry.digest}): ${entry.invalid}` });
      continue;
    }
    const detail = detailsByDigest.get(entry.digest);
    const pull = pulls.get(entry.digest)!;
    if (!pull.ok) retryable ||= pull.retryable;
    tags.set(tag, {
      found: true,
      digest: entry.digest,
      mediaType: entry.declaredType ?? detail?.mediaType ?? entry.manifest.mediaType,
      ...(detail?.pushedAt ? { pushedAt: detail.pushedAt } : {}),
      ...(detail?.sizeBytes !== undefined ? { sizeBytes: detail.sizeBytes } : {}),
      ...(entry.manifest.kind === 'index' ? { platforms: platformsOf(entry.manifest.manifests) } : {}),
      pull,
    });
  }
  return { kind: 'resolved', tags, retryable };
}

/**
 * Fetches the image config blob (for an index, the default platform's manifest first) through the
 * registry v2 API. Success proves that the pull secret pods use can pull the image.
 */
async function pullCheck(registry: ImportCycleInput['registry'], repository: string, manifest: Manifest, signal?: AbortSignal): Promise<PullCheck> {
  if ('unavailable' in registry) return { ok: false, message: registry.unavailable, retryable: false };
  try {
    let image = manifest;
    if (image.kind === 'index') {
      const entry = defaultPlatformManifest(image.manifests);
      if (!entry) return { ok: false, message: 'the index lists no platform image', retryable: false };
      const served = await registry.manifest(repository, entry.digest, IMAGE_MANIFEST_ACCEPT, signal);
      image = parseManifest(served.body.toString('utf8'), served.mediaType ?? entry.mediaType);
      if (image.kind !== 'image') return { ok: false, message: `platform manifest ${entry.digest} is itself an index`, retryable: false };
    }
    const blob = await registry.blob(repository, image.config.digest, signal);
    return { ok: true, config: parseImageConfig(blob.toString('utf8')) };
  } catch (error) {
    if (error instanceof RegistryV2Error) return { ok: false, message: error.message, retryable: error.retryable };
    return { ok: false, message: error instanceof Error ? error.message : String(error), retryable: false };
  }
}

/** What a BatchGetImage `failures[]` entry (or a tag it left out) means for the tag. */
function tagFailure(tag: string, failure: TagFailure | undefined): { reason: string; message: string; retryable: boolean } {
  if (!failure) return { reason: ImportReason.TagNotFound, message: `ECR did not report tag ${tag}`, retryable: false };
  const message = `tag ${tag}: ${failure.code}${failure.reason ? ` (${failure.reason})` : ''}`;
  switch (failure.code) {
    case 'ImageNotFound':
      return { reason: ImportReason.TagNotFound, message, retryable: false };
    case 'UpstreamAccessDenied':
      return { reason: ImportReason.AccessDenied, message, retryable: false };
    case 'UpstreamTooManyRequests':
      return { reason: ImportReason.Throttled, message, retryable: true };
    case 'UpstreamUnavailable':
      return { reason: ImportReason.EcrUnreachable, message, retryable: true };
    default:
      return { reason: ImportReason.EcrError, message, retryable: false };
  }
}

function ecrFailure(action: string, error: unknown, secrets: readonly string[]): { kind: 'failed'; reason: string; message: string; retryable: boolean } {
  const failure = classifyAwsError(error, secrets);
  const reason = failure.code === 'RepositoryNotFoundException' ? ImportReason.RepositoryNotFound : conditionReasonFor(failure.kind);
  return { kind: 'failed', reason, message: `${action} failed: ${failure.code}: ${failure.message}`, retryable: failure.retryable };
}
