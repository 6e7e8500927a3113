import { randomUUID } from 'node:crypto';
import { EmulatedError } from './errors.ts';
import { KeyRetrievalError, namesUnknownKey, type OidcKeySource, parseJwt, type VerificationKey, verifyJwtSignature } from './oidc.ts';
import type { EmulatorState, WebIdentityCall, WebIdentityTrust } from './state.ts';
import {
  assertStsAction,
  escapeXml,
  newRoleId,
  renderCredentials,
  STS_XML_NAMESPACE,
  sessionParameters,
  validationError,
} from './sts-api.ts';

/**
 * STS AssumeRoleWithWebIdentity. Unsigned (the JWT is the credential), verified the way STS does:
 * the issuer must be a registered OIDC provider, the signature must check out against the keys
 * that the issuer's discovery document points to, the audience must be one of the provider's
 * client IDs, the token must be within its validity window, and the role's trust policy must name
 * the subject. Error codes and HTTP statuses are those of STS (see the SDK's model):
 * InvalidIdentityToken 400, ExpiredTokenException 400, AccessDenied 403, ValidationError 400.
 */

export const WEB_IDENTITY_ACTION = 'AssumeRoleWithWebIdentity';

/** Leeway on `exp` and `nbf` for clocks that disagree a little. */
export const WEB_IDENTITY_CLOCK_SKEW_SECONDS = 60;

export interface WebIdentityDependencies {
  state: EmulatorState;
  keys: OidcKeySource;
}

function invalidToken(message: string): EmulatedError {
  return new EmulatedError('InvalidIdentityToken', 400, message);
}

/** STS's refusal when the trust policy does not let this identity assume the role (or the role does not exist). */
export function webIdentityDenied(): EmulatedError {
  return new EmulatedError('AccessDenied', 403, 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
}

function audiencesOf(claim: unknown): string[] {
  if (typeof claim === 'string') return [claim];
  if (Array.isArray(claim)) return claim.filter((value): value is string => typeof value === 'string');
  return [];
}

/** IAM's StringLike: `*` matches any run of characters, `?` any one character. */
function stringLike(pattern: string, value: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(value);
}

function trusts(statement: WebIdentityTrust, issuer: string, subject: string, audiences: string[]): boolean {
  return (
    statement.issuer === issuer &&
    statement.subjects.some((pattern) => stringLike(pattern, subject)) &&
    (statement.audience === undefined || audiences.includes(statement.audience))
  );
}

/** Runs the action and records it (with its outcome) in the state's web identity log. */
export async function runAssumeRoleWithWebIdentity(deps: WebIdentityDependencies, form: URLSearchParams): Promise<string> {
  const call: WebIdentityCall = {
    roleArn: form.get('RoleArn') ?? '',
    roleSessionName: form.get('RoleSessionName') ?? '',
    outcome: 'Issued',
  };
  try {
    return await assumeRoleWithWebIdentity(deps, form, call);
  } catch (error) {
    call.outcome = error instanceof EmulatedError ? error.code : 'InternalFailure';
    throw error;
  } finally {
    deps.state.recordWebIdentityCall(call);
  }
}

async function assumeRoleWithWebIdentity(deps: WebIdentityDependencies, form: URLSearchParams, call: WebIdentityCall): Promise<string> {
  assertStsAction(form, WEB_IDENTITY_ACTION);
  const { roleArn, sessionName, durationSeconds } = sessionParameters(form);
  const token = form.get('WebIdentityToken');
  if (!token || token.length < 4 || token.length > 20000) {
    throw validationError("1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between 4 and 20000");
  }

  const jwt = parseJwt(token);
  if (!jwt) throw invalidToken('The ID Token provided is not a valid JWT. (You may see this error if you sent an Access Token)');
  const issuer = typeof jwt.claims.iss === 'string' ? jwt.claims.iss : '';
  call.issuer = issuer;
  const provider = deps.state.findOidcProvider(issuer);
  if (!provider) throw invalidToken(`No OpenIDConnect provider found in your account for ${issuer}`);

  let keys: VerificationKey[];
  try {
    keys = await deps.keys.keys(issuer);
    if (namesUnknownKey(jwt, keys)) keys = await deps.keys.refresh(issuer);
  } catch (error) {
    if (!(error instanceof KeyRetrievalError)) throw error;
    throw invalidToken(
      "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements",
    );
  }
  if (!verifyJwtSignature(jwt, keys)) throw invalidToken('The signature of the web identity token could not be verified with the keys of its issuer.');

  // From here on the claims are the issuer's own.
  const subject = typeof jwt.claims.sub === 'string' ? jwt.claims.sub : '';
  const audiences = audiencesOf(jwt.claims.aud);
  call.subject = subject;
  call.audiences = audiences;

  const nowSeconds = Math.floor(deps.state.clock.now() / 1000);
  const exp = jwt.claims.exp;
  if (typeof exp !== 'number') throw invalidToken('The web identity token has no expiration (exp) claim.');
  if (nowSeconds >= exp + WEB_IDENTITY_CLOCK_SKEW_SECONDS) {
    // STS's own wording, missing space included.
    throw new EmulatedError('ExpiredTokenException', 400, `Token expired: current date/time ${nowSeconds} must be before the expiration date/time${exp}`);
  }
  const nbf = jwt.claims.nbf;
  if (typeof nbf === 'number' && nowSeconds + WEB_IDENTITY_CLOCK_SKEW_SECONDS < nbf) {
    throw invalidToken(`Token is not yet valid: current date/time ${nowSeconds} is before the not-before date/time ${nbf}`);
  }
  const audience = audiences.find((candidate) => provider.audiences.includes(candidate));
  if (audience === undefined) throw invalidToken('Incorrect token audience');
  if (subject === '') throw invalidToken('The web identity token has no subject (sub) claim.');

  const role = deps.state.findRole(roleArn);
  if (!role || !deps.state.webIdentityTrustOf(roleArn).some((statement) => trusts(statement, issuer, subject, audiences))) {
    throw webIdentityDenied();
  }
  if (durationSeconds > role.maxSessionDurationSeconds) {
    throw validationError('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  }

  const session = deps.state.addSessionCredentials(role, sessionName, durationSeconds);
  call.accessKeyId = session.accessKeyId;
  const providerArn = `arn:aws:iam::${role.accountId}:oidc-provider/${issuer.replace(/^https:\/\//, '').replace(/\/$/, '')}`;
  return [
    `<AssumeRoleWithWebIdentityResponse xmlns="${STS_XML_NAMESPACE}">`,
    '<AssumeRoleWithWebIdentityResult>',
    `<SubjectFromWebIdentityToken>${escapeXml(subject)}</SubjectFromWebIdentityToken>`,
    `<Audience>${escapeXml(audience)}</Audience>`,
    '<AssumedRoleUser>',
    `<Arn>${escapeXml(session.principalArn)}</Arn>`,
    `<AssumedRoleId>${newRoleId()}:${escapeXml(sessionName)}</AssumedRoleId>`,
    '</AssumedRoleUser>',
    renderCredentials(session),
    `<Provider>${escapeXml(providerArn)}</Provider>`,
    '</AssumeRoleWithWebIdentityResult>',
    `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>`,
    '</AssumeRoleWithWebIdentityResponse>',
  ].join('');
}
