import { redact } from '../observability/redact.ts';

/** What went wrong talking to AWS, in the terms that decide a condition reason and whether to retry. */
export type AwsFailureKind =
  | 'CredentialsRejected'
  | 'AccessDenied'
  | 'Throttled'
  | 'Unavailable'
  | 'NotFound'
  | 'InvalidRequest'
  | 'Unknown';

export interface AwsFailure {
  kind: AwsFailureKind;
  /** The exception name the SDK surfaced (e.g. InvalidSignatureException), or the network error code. */
  code: string;
  /** Safe to show: AWS's message with anything credential-shaped removed. */
  message: string;
  retryable: boolean;
}

const BY_NAME: Record<string, AwsFailureKind> = {
  UnrecognizedClientException: 'CredentialsRejected',
  InvalidSignatureException: 'CredentialsRejected',
  SignatureDoesNotMatch: 'CredentialsRejected',
  InvalidClientTokenId: 'CredentialsRejected',
  ExpiredTokenException: 'CredentialsRejected',
  ExpiredToken: 'CredentialsRejected',
  IncompleteSignature: 'CredentialsRejected',
  MissingAuthenticationToken: 'CredentialsRejected',
  AccessDeniedException: 'AccessDenied',
  AccessDenied: 'AccessDenied',
  ThrottlingException: 'Throttled',
  Throttling: 'Throttled',
  TooManyRequestsException: 'Throttled',
  LimitExceededException: 'Throttled',
  ServerException: 'Unavailable',
  InternalFailure: 'Unavailable',
  ServiceUnavailable: 'Unavailable',
  ServiceUnavailableException: 'Unavailable',
  RepositoryNotFoundException: 'NotFound',
  ImageNotFoundException: 'NotFound',
  RegistryPolicyNotFoundException: 'NotFound',
  InvalidParameterException: 'InvalidRequest',
  ValidationException: 'InvalidRequest',
};

// Network-level failures: the endpoint could not be reached at all.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'TimeoutError', 'RequestTimeout']);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** Classifies an error thrown by the AWS SDK (or by the network under it) once, at the boundary. */
export function classifyAwsError(error: unknown, knownSecrets: readonly (string | undefined)[] = []): AwsFailure {
  // A credential source that failed before any ECR call: callers that know the reasons use error.reason.
  if (error instanceof CredentialSourceError) {
    return { kind: error.retryable ? 'Unavailable' : 'CredentialsRejected', code: error.reason, message: redact(error.message, knownSecrets).slice(0, 500), retryable: error.retryable };
  }
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorLike;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const networkCode = findNetworkCode(e);
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  // The name comes from the server's __type: only own keys count, never Object.prototype members.
  let kind: AwsFailureKind = Object.hasOwn(BY_NAME, name) ? BY_NAME[name]! : 'Unknown';
  if (kind === 'Unknown' && networkCode) kind = 'Unavailable';
  if (kind === 'Unknown' && status !== undefined && status >= 500) kind = 'Unavailable';
  if (kind === 'Unknown' && status === 429) kind = 'Throttled';
  const rawMessage = typeof e.message === 'string' && e.message ? e.message : String(error);
  return {
    kind,
    code: kind === 'Unavailable' && networkCode ? networkCode : name,
    message: redact(rawMessage, knownSecrets).slice(0, 500),
    // Rejected keys and denied policies need a human; retrying sooner than the object changes only adds load.
    retryable: kind === 'Throttled' || kind === 'Unavailable' || kind === 'Unknown',
  };
}

function findNetworkCode(e: ErrorLike, depth = 0): string | undefined {
  if (depth > 4) return undefined;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
  if (typeof e.name === 'string' && NETWORK_CODES.has(e.name)) return e.name;
  if (typeof e.cause === 'object' && e.cause !== null) return findNetworkCode(e.cause as ErrorLike, depth + 1);
  return undefined;
}

/** The condition reason both controllers report for a failure of each kind. */
export function conditionReasonFor(kind: AwsFailureKind): 'CredentialsRejected' | 'AccessDenied' | 'Throttled' | 'EcrUnreachable' | 'EcrError' {
  switch (kind) {
    case 'CredentialsRejected':
    case 'AccessDenied':
    case 'Throttled':
      return kind;
    case 'Unavailable':
      return 'EcrUnreachable';
    default:
      return 'EcrError';
  }
}

/** Why a credential source other than static keys could not give AWS credentials (a condition reason). */
export type CredentialSourceReason = 'ServiceAccountNotFound' | 'TokenRequestDenied' | 'WebIdentityRejected' | 'OperatorIdentityUnavailable';

/**
 * A ServiceAccount token could not be had, STS refused it, or the operator's own identity is missing.
 * Thrown by the credential providers of ECR clients, so it reaches the reconciler as the ECR call's error.
 */
export class CredentialSourceError extends Error {
  readonly reason: CredentialSourceReason;
  readonly retryable: boolean;

  constructor(reason: CredentialSourceReason, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(redact(message), options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'CredentialSourceError';
    this.reason = reason;
    this.retryable = options.retryable ?? false;
  }
}

/** STS's answers to AssumeRoleWithWebIdentity that mean the token or the trust policy is wrong, not that STS is down. */
const WEB_IDENTITY_REJECTIONS = new Set([
  // The SDK names STS's InvalidIdentityToken and IDPRejectedClaim with an Exception suffix.
  'InvalidIdentityToken',
  'InvalidIdentityTokenException',
  'IDPRejectedClaim',
  'IDPRejectedClaimException',
  'ExpiredTokenException',
  'ExpiredToken',
  'AccessDenied',
  'AccessDeniedException',
  'PackedPolicyTooLarge',
  'PackedPolicyTooLargeException',
]);

/** Classifies an AssumeRoleWithWebIdentity failure: rejected (a person must fix the trust or the token) or transient. */
export function webIdentityFailure(error: unknown): CredentialSourceError {
  const failure = classifyAwsError(error);
  const rejected = WEB_IDENTITY_REJECTIONS.has(failure.code);
  return new CredentialSourceError('WebIdentityRejected', `STS AssumeRoleWithWebIdentity failed: ${failure.code}: ${failure.message}`, {
    retryable: !rejected && failure.retryable,
    cause: error,
  });
}
