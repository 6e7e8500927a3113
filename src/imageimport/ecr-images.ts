import { BatchGetImageCommand, DescribeImagesCommand } from '@aws-sdk/client-ecr';
import type { AwsCredentialSet } from '../aws/credential-set.ts';
import { createEcrClient, type EcrClientOptions, releaseAwsClient } from '../aws/ecr-client.ts';
import type { EcrCallObserver } from '../aws/ecr-token.ts';
import { ACCEPTED_MANIFEST_MEDIA_TYPES } from './manifest.ts';

/** A tag's manifest as BatchGetImage returned it. */
export interface TagManifest {
  tag: string;
  digest: string;
  mediaType?: string;
  manifest: string;
}

/** A tag BatchGetImage reported in `failures[]`, such as `ImageNotFound`. */
export interface TagFailure {
  tag: string;
  code: string;
  reason: string;
}

/** DescribeImages' metadata of one digest. */
export interface ImageDetails {
  digest: string;
  pushedAt?: Date;
  sizeBytes?: number;
  mediaType?: string;
}

/** The two ECR reads of an import cycle, as one principal against one registry. Errors are the SDK's own. */
export interface EcrImageReader {
  /** One BatchGetImage call for every tag; missing tags come back as failures, not as an error. */
  manifestsOf(repository: string, tags: readonly string[], signal?: AbortSignal): Promise<{ found: TagManifest[]; failed: TagFailure[] }>;
  /** One DescribeImages call; ask only for digests known to exist, since one missing digest fails the whole call. */
  describe(repository: string, digests: readonly string[], signal?: AbortSignal): Promise<ImageDetails[]>;
  close(): void;
}

export type EcrImageReaderFactory = (credentials: AwsCredentialSet, registryId: string) => EcrImageReader;

/** Readers over the unmodified AWS SDK; each import cycle opens one and closes it. */
export function sdkEcrImageReaders(options: { client?: EcrClientOptions; observe?: EcrCallObserver } = {}): EcrImageReaderFactory {
  const observe = options.observe ?? (() => {});
  return (credentials, registryId) => {
    const client = createEcrClient(credentials, options.client);
    async function call<T>(action: string, run: () => Promise<T>): Promise<T> {
      try {
        const out = await run();
        observe(action, 'success');
        return out;
      } catch (error) {
        observe(action, 'error', error);
        throw error;
      }
    }
    return {
      async manifestsOf(repository, tags, signal) {
        const out = await call('BatchGetImage', () =>
          client.send(
            new BatchGetImageCommand({
              registryId,
              repositoryName: repository,
              imageIds: tags.map((imageTag) => ({ imageTag })),
              acceptedMediaTypes: [...ACCEPTED_MANIFEST_MEDIA_TYPES],
            }),
            signal ? { abortSignal: signal } : {},
          ),
        );
        const found: TagManifest[] = [];
        for (const image of out.images ?? []) {
          const tag = image.imageId?.imageTag;
          const digest = image.imageId?.imageDigest;
          if (!tag || !digest || image.imageManifest === undefined) continue;
          found.push({ tag, digest, manifest: image.imageManifest, ...(image.imageManifestMediaType ? { mediaType: image.imageManifestMediaType } : {}) });
        }
        const failed: TagFailure[] = [];
        for (const failure of out.failures ?? []) {
          const tag = failure.imageId?.imageTag;
          if (tag) failed.push({ tag, code: failure.failureCode ?? 'Unknown', reason: failure.failureReason ?? '' });
        }
        return { found, failed };
      },
      async describe(repository, digests, signal) {
        if (digests.length === 0) return [];
        const out = await call('DescribeImages', () =>
          client.send(
            new DescribeImagesCommand({ registryId, repositoryName: repository, imageIds: digests.map((imageDigest) => ({ imageDigest })) }),
            signal ? { abortSignal: signal } : {},
          ),
        );
        return (out.imageDetails ?? []).flatMap((d) =>
          d.imageDigest
            ? [
                {
                  digest: d.imageDigest,
                  ...(d.imagePushedAt ? { pushedAt: new Date(d.imagePushedAt) } : {}),
                  ...(typeof d.imageSizeInBytes === 'number' ? { sizeBytes: d.imageSizeInBytes } : {}),
                  ...(d.imageManifestMediaType ? { mediaType: d.imageManifestMediaType } : {}),
                },
              ]
            : [],
        );
      },
      close: () => releaseAwsClient(client, options.client ?? {}),
    };
  };
}
