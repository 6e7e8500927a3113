import type { Principal } from './authenticate.ts';
import { type AuthFailure, EmulatedError } from './errors.ts';
import type { FaultKind } from './faults.ts';
import { MEDIA_TYPES } from './images.ts';
import {
  type ImageIdInput,
  isObject,
  type JsonObject,
  optionalImageIds,
  optionalString,
  optionalStringArray,
  requiredImageIds,
  requiredString,
} from './input.ts';
import { isDigest, isValidRepositoryName, isValidTag, type Repository, type StoredManifest } from './repository.ts';
import type { EmulatorState } from './state.ts';

/** The ECR API over the awsJson1_1 protocol: `X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.<Action>`. */

export const ECR_TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';
export const ECR_CONTENT_TYPE = 'application/x-amz-json-1.1';
export const ECR_SIGNING_SERVICE = 'ecr';

/** What ECR assumes when BatchGetImage omits acceptedMediaTypes: single-image manifests only. */
const DEFAULT_ACCEPTED_MEDIA_TYPES: readonly string[] = [
  MEDIA_TYPES.dockerSchema1,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.ociManifest,
];

export interface EcrApiContext {
  state: EmulatorState;
  proxyEndpoint(accountId: string, region: string): string;
}

/** JSON services answer every authentication failure with HTTP 400 and one of these types. */
export function ecrAuthError(failure: AuthFailure): EmulatedError {
  switch (failure.reason) {
    case 'missingAuthentication':
      return new EmulatedError('MissingAuthenticationTokenException', 400, failure.message);
    case 'incompleteSignature':
      return new EmulatedError('IncompleteSignatureException', 400, failure.message);
    case 'unknownAccessKey':
    case 'invalidSessionToken':
      return new EmulatedError('UnrecognizedClientException', 400, failure.message);
    case 'expiredSessionToken':
      return new EmulatedError('ExpiredTokenException', 400, failure.message);
    case 'invalidScope':
    case 'signatureExpired':
    case 'signatureMismatch':
      return new EmulatedError('InvalidSignatureException', 400, failure.message);
  }
}

export function ecrFaultError(
  kind: Exclude<FaultKind, 'latency' | 'connectionReset'>,
  action: string,
  principal: Principal,
  message: string | undefined,
): EmulatedError {
  switch (kind) {
    case 'throttle':
      return new EmulatedError('ThrottlingException', 400, message ?? 'Rate exceeded');
    case 'serverError':
      return new EmulatedError('ServerException', 500, message ?? 'We encountered an internal error. Please try again.');
    case 'accessDenied':
      return accessDenied(principal, action, '*', message);
  }
}

function accessDenied(principal: Principal, action: string, resource: string, message?: string): EmulatedError {
  return new EmulatedError(
    'AccessDeniedException',
    400,
    message ??
      `User: ${principal.accessKey.principalArn} is not authorized to perform: ecr:${action} on resource: ${resource}`,
  );
}

function epochSeconds(ms: number): number {
  return ms / 1000;
}

/** Resolves `registryId` + `repositoryName` in the caller's region, enforcing cross-account grants. */
function targetRepository(ctx: EcrApiContext, input: JsonObject, principal: Principal, action: string): Repository {
  const registryId = optionalString(input, 'registryId') ?? principal.accessKey.accountId;
  if (!/^\d{12}$/.test(registryId)) {
    throw new EmulatedError(
      'InvalidParameterException',
      400,
      "Invalid parameter at 'registryId' failed to satisfy constraint: 'must satisfy regular expression '[0-9]{12}''",
    );
  }
  const name = requiredString(input, 'repositoryName');
  if (!isValidRepositoryName(name)) {
    throw new EmulatedError(
      'InvalidParameterException',
      400,
      "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''",
    );
  }
  if (!ctx.state.canAccess(principal.accessKey.accountId, registryId)) {
    throw new EmulatedError(
      'AccessDeniedException',
      400,
      `User: ${principal.accessKey.principalArn} is not authorized to perform: ecr:${action} on resource: arn:aws:ecr:${principal.region}:${registryId}:repository/${name} because no resource-based policy allows the ecr:${action} action`,
    );
  }
  const repository = ctx.state.findRepository(registryId, principal.region, name);
  if (!repository) {
    throw new EmulatedError(
      'RepositoryNotFoundException',
      400,
      `The repository with name '${name}' does not exist in the registry with id '${registryId}'`,
    );
  }
  return repository;
}

function describeImageId(id: ImageIdInput): string {
  return `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;
}

type Lookup = { found: StoredManifest } | { failureCode: string; failureReason: string };

function lookUp(repository: Repository, id: ImageIdInput): Lookup {
  if (id.imageDigest === undefined && id.imageTag === undefined) {
    return { failureCode: 'MissingDigestAndTag', failureReason: 'Invalid request parameters: both tag and digest cannot be null' };
  }
  if (id.imageDigest !== undefined && !isDigest(id.imageDigest)) {
    return { failureCode: 'InvalidImageDigest', failureReason: 'Invalid request parameters: image digest should satisfy the regex' };
  }
  if (id.imageTag !== undefined && !isValidTag(id.imageTag)) {
    return { failureCode: 'InvalidImageTag', failureReason: 'Invalid request parameters: image tag should satisfy the regex' };
  }
  if (id.imageTag !== undefined) {
    const digest = repository.digestOfTag(id.imageTag);
    if (digest === undefined) return { failureCode: 'ImageNotFound', failureReason: 'Requested image not found' };
    if (id.imageDigest !== undefined && id.imageDigest !== digest) {
      return { failureCode: 'ImageTagDoesNotMatchDigest', failureReason: 'Invalid request parameters: given tag does not map to the given digest' };
    }
    const found = repository.manifestByDigest(digest);
    return found ? { found } : { failureCode: 'ImageNotFound', failureReason: 'Requested image not found' };
  }
  const found = repository.manifestByDigest(id.imageDigest!);
  return found ? { found } : { failureCode: 'ImageNotFound', failureReason: 'Requested image not found' };
}

function getAuthorizationToken(ctx: EcrApiContext, input: JsonObject, principal: Principal): unknown {
  const registryIds = optionalStringArray(input, 'registryIds') ?? [principal.accessKey.accountId];
  const token = ctx.state.issueToken(principal.accessKey, principal.region);
  const authorizationToken = Buffer.from(`AWS:${token.password}`, 'utf8').toString('base64');
  return {
    authorizationData: registryIds.map((registryId) => ({
      authorizationToken,
      expiresAt: epochSeconds(token.expiresAtMs),
      proxyEndpoint: ctx.proxyEndpoint(registryId, principal.region),
    })),
  };
}

function batchGetImage(ctx: EcrApiContext, input: JsonObject, principal: Principal): unknown {
  const repository = targetRepository(ctx, input, principal, 'BatchGetImage');
  const imageIds = requiredImageIds(input, 'imageIds');
  const accepted = optionalStringArray(input, 'acceptedMediaTypes') ?? DEFAULT_ACCEPTED_MEDIA_TYPES;
  const images: unknown[] = [];
  const failures: unknown[] = [];
  const seen = new Set<string>();
  for (const id of imageIds) {
    const result = lookUp(repository, id);
    if ('found' in result && !accepted.includes(result.found.mediaType)) {
      failures.push({
        imageId: id,
        failureCode: 'ImageNotFound',
        failureReason: `Requested image not found: its manifest media type ${result.found.mediaType} is not in acceptedMediaTypes`,
      });
    } else if ('found' in result) {
      const key = `${result.found.digest}|${id.imageTag ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      images.push({
        registryId: repository.accountId,
        repositoryName: repository.name,
        imageId: { imageDigest: result.found.digest, ...(id.imageTag !== undefined ? { imageTag: id.imageTag } : {}) },
        imageManifest: result.found.bytes.toString('utf8'),
        imageManifestMediaType: result.found.mediaType,
      });
    } else {
      failures.push({ imageId: id, failureCode: result.failureCode, failureReason: result.failureReason });
    }
  }
  return { images, failures };
}

function imageDetail(repository: Repository, manifest: StoredManifest): unknown {
  const tags = repository.tagsOf(manifest.digest);
  return {
    registryId: repository.accountId,
    repositoryName: repository.name,
    imageDigest: manifest.digest,
    ...(tags.length > 0 ? { imageTags: tags } : {}),
    imageSizeInBytes: manifest.sizeInBytes,
    imagePushedAt: epochSeconds(manifest.pushedAtMs),
    imageManifestMediaType: manifest.mediaType,
    ...(manifest.artifactMediaType !== undefined ? { artifactMediaType: manifest.artifactMediaType } : {}),
  };
}

function describeImages(ctx: EcrApiContext, input: JsonObject, principal: Principal): unknown {
  const repository = targetRepository(ctx, input, principal, 'DescribeImages');
  const imageIds = optionalImageIds(input, 'imageIds');
  if (imageIds === undefined) {
    const filter = input.filter;
    const tagStatus = isObject(filter) ? optionalString(filter, 'tagStatus') : undefined;
    const manifests = repository
      .allManifests()
      .filter((m) => {
        const tagged = repository.tagsOf(m.digest).length > 0;
        return tagStatus === 'TAGGED' ? tagged : tagStatus === 'UNTAGGED' ? !tagged : true;
      })
      .sort((a, b) => a.pushedAtMs - b.pushedAtMs);
    return { imageDetails: manifests.map((m) => imageDetail(repository, m)) };
  }
  const details: unknown[] = [];
  const seen = new Set<string>();
  for (const id of imageIds) {
    const result = lookUp(repository, id);
    if (!('found' in result)) {
      if (result.failureCode === 'ImageNotFound') {
        throw new EmulatedError(
          'ImageNotFoundException',
          400,
          `The image with imageId ${describeImageId(id)} does not exist within the repository with name '${repository.name}' in the registry with id '${repository.accountId}'`,
        );
      }
      throw new EmulatedError('InvalidParameterException', 400, result.failureReason);
    }
    if (seen.has(result.found.digest)) continue;
    seen.add(result.found.digest);
    details.push(imageDetail(repository, result.found));
  }
  return { imageDetails: details };
}

function listImages(ctx: EcrApiContext, input: JsonObject, principal: Principal): unknown {
  const repository = targetRepository(ctx, input, principal, 'ListImages');
  const imageIds: unknown[] = [];
  for (const manifest of repository.allManifests()) {
    const tags = repository.tagsOf(manifest.digest);
    if (tags.length === 0) imageIds.push({ imageDigest: manifest.digest });
    for (const imageTag of tags) imageIds.push({ imageDigest: manifest.digest, imageTag });
  }
  return { imageIds };
}

function describeRepositories(ctx: EcrApiContext, input: JsonObject, principal: Principal): unknown {
  const registryId = optionalString(input, 'registryId') ?? principal.accessKey.accountId;
  if (!ctx.state.canAccess(principal.accessKey.accountId, registryId)) {
    throw accessDenied(principal, 'DescribeRepositories', `arn:aws:ecr:${principal.region}:${registryId}:repository/*`);
  }
  const names = optionalStringArray(input, 'repositoryNames');
  const repositories = names
    ? names.map((name) => {
        const repository = ctx.state.findRepository(registryId, principal.region, name);
        if (!repository) {
          throw new EmulatedError(
            'RepositoryNotFoundException',
            400,
            `The repository with name '${name}' does not exist in the registry with id '${registryId}'`,
          );
        }
        return repository;
      })
    : ctx.state.repositoriesOf(registryId, principal.region);
  return {
    repositories: repositories.map((r) => ({
      repositoryArn: r.arn,
      registryId: r.accountId,
      repositoryName: r.name,
      repositoryUri: r.uri,
      createdAt: epochSeconds(r.createdAtMs),
      imageTagMutability: 'MUTABLE',
      imageScanningConfiguration: { scanOnPush: false },
      encryptionConfiguration: { encryptionType: 'AES256' },
    })),
  };
}

const ACTIONS: Record<string, (ctx: EcrApiContext, input: JsonObject, principal: Principal) => unknown> = {
  GetAuthorizationToken: getAuthorizationToken,
  BatchGetImage: batchGetImage,
  DescribeImages: describeImages,
  DescribeRepositories: describeRepositories,
  ListImages: listImages,
};

export function isKnownEcrAction(action: string): boolean {
  return Object.hasOwn(ACTIONS, action);
}

/** Runs one action for an authenticated caller; throws EmulatedError for ECR's modelled errors. */
export function runEcrAction(ctx: EcrApiContext, action: string, body: Buffer, principal: Principal): unknown {
  const handler = ACTIONS[action];
  if (!handler) throw new EmulatedError('UnknownOperationException', 400, `Unknown operation ${action}`);
  let input: unknown;
  try {
    input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw new EmulatedError('SerializationException', 400, 'Start of structure or map found where not expected.');
  }
  if (!isObject(input)) throw new EmulatedError('SerializationException', 400, 'Expected a JSON object as the request body.');
  return handler(ctx, input, principal);
}
