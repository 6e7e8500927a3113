import { AuthFailure } from './errors.ts';
import {
  computeSignature,
  parseAmzDate,
  parseAuthorization,
  type ReceivedRequest,
  sha256Hex,
  signaturesEqual,
} from './sigv4.ts';
import type { AccessKeyRecord, EmulatorState } from './state.ts';

/** The caller of an AWS API request whose signature checked out. */
export interface Principal {
  accessKey: AccessKeyRecord;
  /** The region the request was signed for: the emulated endpoint's region. */
  region: string;
}

/** AWS refuses signatures more than 15 minutes off its own clock. */
const MAX_SIGNATURE_SKEW_MS = 15 * 60 * 1000;

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Verifies a SigV4-signed request against the registered keys, in the order AWS reports problems:
 * unknown key, bad session token, expired session, wrong scope, stale date, then the signature itself.
 * Signature freshness is judged by the wall clock (the SDK signs with it); session expiry by the
 * emulator's clock, so a test can expire credentials without waiting.
 */
export function authenticate(
  request: ReceivedRequest,
  service: string,
  state: EmulatorState,
  wallClockMs: number,
): Principal {
  const header = single(request.headers.authorization);
  if (!header) throw new AuthFailure('missingAuthentication', 'Missing Authentication Token');
  const auth = parseAuthorization(header);
  if (!auth) {
    throw new AuthFailure(
      'incompleteSignature',
      "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.",
    );
  }
  const amzDate = single(request.headers['x-amz-date']);
  const signedAtMs = amzDate ? parseAmzDate(amzDate) : undefined;
  if (!amzDate || signedAtMs === undefined) {
    throw new AuthFailure('incompleteSignature', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (!auth.signedHeaders.includes('host')) {
    throw new AuthFailure('incompleteSignature', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }

  const accessKey = state.findAccessKey(auth.accessKeyId);
  if (!accessKey) throw new AuthFailure('unknownAccessKey', 'The security token included in the request is invalid.');
  if (accessKey.sessionToken !== undefined) {
    const token = single(request.headers['x-amz-security-token']);
    if (token === undefined || !signaturesEqual(token, accessKey.sessionToken)) {
      throw new AuthFailure('invalidSessionToken', 'The security token included in the request is invalid.');
    }
    if (accessKey.expiresAtMs !== undefined && state.clock.now() >= accessKey.expiresAtMs) {
      throw new AuthFailure('expiredSessionToken', 'The security token included in the request is expired');
    }
  }

  if (auth.service !== service) {
    throw new AuthFailure('invalidScope', `Credential should be scoped to correct service: '${service}'. `);
  }
  if (accessKey.region !== undefined && auth.region !== accessKey.region) {
    throw new AuthFailure('invalidScope', `Credential should be scoped to a valid region, not '${auth.region}'. `);
  }
  if (auth.scopeDate !== amzDate.slice(0, 8)) {
    throw new AuthFailure('invalidScope', `Credential should be scoped to a valid date: '${amzDate.slice(0, 8)}'.`);
  }
  if (Math.abs(wallClockMs - signedAtMs) > MAX_SIGNATURE_SKEW_MS) {
    throw new AuthFailure('signatureExpired', `Signature expired: ${amzDate} is now earlier or later than the allowed 15 minutes.`);
  }

  const declaredHash = single(request.headers['x-amz-content-sha256']);
  const bodyMatches = declaredHash === undefined || declaredHash === 'UNSIGNED-PAYLOAD' || declaredHash === sha256Hex(request.body);
  const expected = computeSignature(request, auth, amzDate, accessKey.secretAccessKey);
  if (!bodyMatches || !signaturesEqual(expected, auth.signature)) {
    throw new AuthFailure(
      'signatureMismatch',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
  return { accessKey, region: auth.region };
}
