import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FaultKind } from './faults.ts';
import type { EmulatorState } from './state.ts';
import { stsTimestamp } from './sts-api.ts';

/**
 * EKS Pod Identity's container credentials endpoint (the Pod Identity Agent's
 * `http://169.254.170.23/v1/credentials`), served on the emulator's loopback port. The SDK's
 * container provider (fromHttp, in the default chain) calls it when AWS_CONTAINER_CREDENTIALS_FULL_URI
 * is set, sending the content of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE as the Authorization header.
 * Each call hands out fresh session credentials of the token's role, which the ECR side accepts.
 */

export const POD_IDENTITY_PATH = '/pod-identity/credentials';
export const POD_IDENTITY_ACTION = 'PodIdentityCredentials';

export interface PodIdentityResponse {
  status: number;
  body: Record<string, string>;
}

function refusal(status: number, code: string, message: string): PodIdentityResponse {
  return { status, body: { Code: code, Message: message } };
}

export function servePodIdentity(method: string, headers: IncomingHttpHeaders, state: EmulatorState): PodIdentityResponse {
  if (method !== 'GET') return refusal(405, 'MethodNotAllowed', `${method} is not allowed; use GET`);
  const token = headers.authorization;
  if (token === undefined || token === '') return refusal(400, 'InvalidRequest', 'Service account token cannot be empty');
  const identity = state.findPodIdentity(token);
  if (!identity) return refusal(403, 'AccessDeniedException', 'The service account token is not associated with any role');
  const session = state.addSessionCredentials(identity.role, `eks-pod-identity-${randomBytes(6).toString('hex')}`, identity.durationSeconds);
  return {
    status: 200,
    body: {
      AccessKeyId: session.accessKeyId,
      SecretAccessKey: session.secretAccessKey,
      Token: session.sessionToken ?? '',
      AccountId: session.accountId,
      Expiration: stsTimestamp(session.expiresAtMs ?? 0),
    },
  };
}

export function podIdentityFaultResponse(kind: Exclude<FaultKind, 'latency' | 'connectionReset'>, message: string | undefined): PodIdentityResponse {
  switch (kind) {
    case 'throttle':
      return refusal(429, 'ThrottlingException', message ?? 'Rate exceeded');
    case 'serverError':
      return refusal(500, 'InternalServerException', message ?? 'An internal error has occurred.');
    case 'accessDenied':
      return refusal(403, 'AccessDeniedException', message ?? 'The service account token is not associated with any role');
  }
}
