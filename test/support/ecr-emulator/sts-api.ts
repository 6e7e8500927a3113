import { randomBytes, randomUUID } from 'node:crypto';
import type { Principal } from './authenticate.ts';
import { type AuthFailure, EmulatedError } from './errors.ts';
import type { FaultKind } from './faults.ts';
import type { AccessKeyRecord, EmulatorState } from './state.ts';

/**
 * STS over the awsQuery protocol: form-encoded POST, XML response, XML error shape. AssumeRole is
 * here; AssumeRoleWithWebIdentity (unsigned, the JWT is the credential) is in web-identity.ts.
 * The credentials both return are registered as session keys that the ECR side then accepts.
 */

export const STS_SIGNING_SERVICE = 'sts';
export const STS_XML_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
const STS_VERSION = '2011-06-15';

export function stsAuthError(failure: AuthFailure): EmulatedError {
  switch (failure.reason) {
    case 'missingAuthentication':
      return new EmulatedError('MissingAuthenticationToken', 403, failure.message);
    case 'incompleteSignature':
      return new EmulatedError('IncompleteSignature', 400, failure.message);
    case 'unknownAccessKey':
    case 'invalidSessionToken':
      return new EmulatedError('InvalidClientTokenId', 403, failure.message);
    case 'expiredSessionToken':
      // The SDK models this error with the query code `ExpiredTokenException`.
      return new EmulatedError('ExpiredTokenException', 400, failure.message);
    case 'invalidScope':
    case 'signatureExpired':
    case 'signatureMismatch':
      return new EmulatedError('SignatureDoesNotMatch', 403, failure.message);
  }
}

/** An injected fault in STS's shape; `denied` is the action's own AccessDenied. */
export function stsFaultError(kind: Exclude<FaultKind, 'latency' | 'connectionReset'>, denied: EmulatedError, message: string | undefined): EmulatedError {
  switch (kind) {
    case 'throttle':
      return new EmulatedError('Throttling', 400, message ?? 'Rate exceeded');
    case 'serverError':
      return new EmulatedError('InternalFailure', 500, message ?? 'An internal error has occurred.');
    case 'accessDenied':
      return message === undefined ? denied : new EmulatedError(denied.code, denied.status, message);
  }
}

export function assumeDenied(principal: Principal, roleArn: string, message?: string): EmulatedError {
  return new EmulatedError(
    'AccessDenied',
    403,
    message ?? `User: ${principal.accessKey.principalArn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
  );
}

export function validationError(message: string): EmulatedError {
  return new EmulatedError('ValidationError', 400, message);
}

export function escapeXml(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function renderStsError(error: EmulatedError, requestId: string): string {
  const type = error.status >= 500 ? 'Receiver' : 'Sender';
  return `<ErrorResponse xmlns="${STS_XML_NAMESPACE}"><Error><Type>${type}</Type><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

/** The form fields of an STS request, parsed once; `Action` routes it. */
export function parseStsForm(body: Buffer): URLSearchParams {
  return new URLSearchParams(body.toString('utf8'));
}

/** The Action and Version checks every STS action shares. */
export function assertStsAction(form: URLSearchParams, expected: string): void {
  const action = form.get('Action');
  if (action !== expected) throw new EmulatedError('InvalidAction', 400, `Could not find operation ${action ?? ''} for version ${STS_VERSION}`);
  if (form.get('Version') !== STS_VERSION) throw new EmulatedError('InvalidAction', 400, `Could not find operation ${expected} for version ${form.get('Version') ?? ''}`);
}

/** RoleArn, RoleSessionName and DurationSeconds (default 3600, 900..43200), validated as STS does. */
export function sessionParameters(form: URLSearchParams): { roleArn: string; sessionName: string; durationSeconds: number } {
  const roleArn = form.get('RoleArn');
  const sessionName = form.get('RoleSessionName');
  if (!roleArn) throw validationError("1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null");
  if (!sessionName || !/^[\w+=,.@-]{2,64}$/.test(sessionName)) {
    throw validationError("1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*");
  }
  const durationText = form.get('DurationSeconds');
  const durationSeconds = durationText === null ? 3600 : Number(durationText);
  if (!Number.isInteger(durationSeconds) || durationSeconds < 900 || durationSeconds > 43200) {
    throw validationError("1 validation error detected: Value at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200");
  }
  return { roleArn, sessionName, durationSeconds };
}

/** ISO 8601 without milliseconds, as STS writes `Expiration`. */
export function stsTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The `<Credentials>` element of an STS result. */
export function renderCredentials(session: AccessKeyRecord): string {
  return [
    '<Credentials>',
    `<AccessKeyId>${session.accessKeyId}</AccessKeyId>`,
    `<SecretAccessKey>${escapeXml(session.secretAccessKey)}</SecretAccessKey>`,
    `<SessionToken>${escapeXml(session.sessionToken ?? '')}</SessionToken>`,
    `<Expiration>${stsTimestamp(session.expiresAtMs ?? 0)}</Expiration>`,
    '</Credentials>',
  ].join('');
}

export function newRoleId(): string {
  return `AROA${randomBytes(8).toString('hex').toUpperCase()}`;
}

export function runStsAction(state: EmulatorState, form: URLSearchParams, principal: Principal): string {
  assertStsAction(form, 'AssumeRole');
  const { roleArn, sessionName, durationSeconds } = sessionParameters(form);

  const role = state.findRole(roleArn);
  if (!role) throw assumeDenied(principal, roleArn);
  if (role.trustedAccountIds && !role.trustedAccountIds.includes(principal.accessKey.accountId)) throw assumeDenied(principal, roleArn);
  const externalId = form.get('ExternalId') ?? undefined;
  if (role.externalId !== undefined && externalId !== role.externalId) throw assumeDenied(principal, roleArn);
  if (durationSeconds > role.maxSessionDurationSeconds) {
    throw validationError('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  }

  const session = state.addSessionCredentials(role, sessionName, durationSeconds);
  return [
    `<AssumeRoleResponse xmlns="${STS_XML_NAMESPACE}">`,
    '<AssumeRoleResult>',
    '<AssumedRoleUser>',
    `<Arn>${escapeXml(session.principalArn)}</Arn>`,
    `<AssumedRoleId>${newRoleId()}:${escapeXml(sessionName)}</AssumedRoleId>`,
    '</AssumedRoleUser>',
    renderCredentials(session),
    '</AssumeRoleResult>',
    `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>`,
    '</AssumeRoleResponse>',
  ].join('');
}
