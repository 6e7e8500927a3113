import { ECRClient } from '@aws-sdk/client-ecr';
import { AssumeRoleCommand, AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { AssumedRoleSessions, type AwsCredentialIdentity } from './assumed-roles.ts';
import type { AwsConnectionPool } from './connection-pool.ts';
import type { AwsCredentialSet, KeysCredentialSet, OperatorCredentialSet, WebIdentityCredentialSet } from './credential-set.ts';
import { CredentialSourceError, webIdentityFailure } from './errors.ts';

/** Issues a ServiceAccount token for an audience (the TokenRequest API); throws CredentialSourceError. */
export type ServiceAccountTokenSource = (serviceAccount: { namespace: string; name: string; uid: string }, audience: string) => Promise<string>;

/** The operator's own AWS identity: the SDK's provider chain, as main.ts builds it. */
export type OperatorIdentity = () => Promise<AwsCredentialIdentity>;

export interface EcrClientOptions {
  /** STS endpoint override for AssumeRole and AssumeRoleWithWebIdentity (the administrator's, never a resource's). */
  stsEndpoint?: string;
  /** Per-attempt socket timeout; ECR answers in well under a second when healthy. */
  requestTimeoutMs?: number;
  /** The SDK's own retries; the controller adds backoff across reconciles on top. */
  maxAttempts?: number;
  /** Role sessions shared with other clients (withSharedRoleSessions); without it a client assumes its role itself. */
  roleSessions?: AssumedRoleSessions;
  /** Needed by web-identity sets. */
  serviceAccountTokens?: ServiceAccountTokenSource;
  /** Needed by operator sets. */
  operatorIdentity?: OperatorIdentity;
  /** Connections shared by every client made from these options; without it each client opens its own. */
  connections?: AwsConnectionPool;
}

/** Web-identity sessions last an hour; the ServiceAccount token only has to live until STS has read it. */
const SESSION_SECONDS = 3600;

/** The same options, with one set of role sessions for every client made from them. */
export function withSharedRoleSessions(options: EcrClientOptions): EcrClientOptions {
  return { ...options, roleSessions: new AssumedRoleSessions({ assume: (set) => assumeRole(set, options) }) };
}

/**
 * An ECR client acting as the set's principal: static keys (assuming their role first when one is
 * set), a ServiceAccount's web identity, or the operator's own identity (chained to a role when set).
 * Every role session, of whichever source, is shared and renewed through the role sessions.
 */
export function createEcrClient(set: AwsCredentialSet, options: EcrClientOptions = {}): ECRClient {
  const sessions = () => options.roleSessions ?? new AssumedRoleSessions({ assume: (s) => assumeRole(s, options) });
  let credentials: AwsCredentialIdentity | (() => Promise<AwsCredentialIdentity>);
  if (set.source === 'webIdentity' || set.roleArn !== undefined) {
    const roleSessions = sessions();
    // The SDK calls this again when the identity's expiration nears; the sessions renew it then.
    credentials = () => roleSessions.credentials(set);
  } else {
    credentials = set.source === 'operator' ? operatorIdentity(options) : keysIdentity(set);
  }
  return new ECRClient({
    region: set.region,
    credentials,
    maxAttempts: options.maxAttempts ?? 2,
    ...(set.endpoint ? { endpoint: set.endpoint } : {}),
    requestHandler: handlerOptions(options),
  });
}

/**
 * Ends a client made from these options. Destroying an SDK client destroys its HTTP agents, in-flight
 * requests included, so a client on the shared pool is left to the garbage collector instead: destroying
 * it would cut the connections of every other call under way.
 */
export function releaseAwsClient(client: { destroy(): void }, options: EcrClientOptions): void {
  if (!options.connections) client.destroy();
}

function handlerOptions(options: EcrClientOptions) {
  const pool = options.connections;
  return {
    requestTimeout: options.requestTimeoutMs ?? 15_000,
    connectionTimeout: 5_000,
    ...(pool ? { httpAgent: pool.httpAgent, httpsAgent: pool.httpsAgent } : {}),
  };
}

function keysIdentity(set: KeysCredentialSet): AwsCredentialIdentity {
  return { accessKeyId: set.accessKeyId, secretAccessKey: set.secretAccessKey, ...(set.sessionToken ? { sessionToken: set.sessionToken } : {}) };
}

function operatorIdentity(options: EcrClientOptions): () => Promise<AwsCredentialIdentity> {
  return async () => {
    if (!options.operatorIdentity) throw new CredentialSourceError('OperatorIdentityUnavailable', 'the operator was started without an AWS identity of its own');
    try {
      return await options.operatorIdentity();
    } catch (error) {
      if (error instanceof CredentialSourceError) throw error;
      const why = error instanceof Error ? error.message : String(error);
      throw new CredentialSourceError('OperatorIdentityUnavailable', `the operator's own AWS identity is unavailable: ${why}`, { cause: error });
    }
  };
}

/** One role session for the set: AssumeRole with keys or the operator's identity, or AssumeRoleWithWebIdentity. */
async function assumeRole(set: AwsCredentialSet, options: EcrClientOptions): Promise<AwsCredentialIdentity> {
  if (set.source === 'webIdentity') return assumeRoleWithWebIdentity(set, options);
  const source: OperatorCredentialSet | KeysCredentialSet = set;
  const sts = new STSClient({
    region: set.region,
    credentials: source.source === 'operator' ? operatorIdentity(options) : keysIdentity(source),
    maxAttempts: options.maxAttempts ?? 2,
    ...(options.stsEndpoint ? { endpoint: options.stsEndpoint } : {}),
    requestHandler: handlerOptions(options),
  });
  try {
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: source.roleArn,
        RoleSessionName: 'ecr-pullsecrets-operator',
        ...(source.externalId ? { ExternalId: source.externalId } : {}),
        DurationSeconds: SESSION_SECONDS,
      }),
    );
    return identityOf(out.Credentials, 'AssumeRole');
  } finally {
    releaseAwsClient(sts, options);
  }
}

/** A fresh ServiceAccount token, exchanged once for a role session (STS checks it against the issuer's keys). */
async function assumeRoleWithWebIdentity(set: WebIdentityCredentialSet, options: EcrClientOptions): Promise<AwsCredentialIdentity> {
  if (!options.serviceAccountTokens) throw new CredentialSourceError('TokenRequestDenied', 'the operator cannot request ServiceAccount tokens');
  const token = await options.serviceAccountTokens(set.serviceAccount, set.audience);
  // The call is not signed: the token is the credential.
  const sts = new STSClient({
    region: set.region,
    maxAttempts: options.maxAttempts ?? 2,
    ...(options.stsEndpoint ? { endpoint: options.stsEndpoint } : {}),
    requestHandler: handlerOptions(options),
  });
  try {
    const out = await sts.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: set.roleArn,
        RoleSessionName: `ecr-pullsecrets-${set.serviceAccount.namespace}-${set.serviceAccount.name}`.slice(0, 64),
        WebIdentityToken: token,
        DurationSeconds: SESSION_SECONDS,
      }),
    );
    return identityOf(out.Credentials, 'AssumeRoleWithWebIdentity');
  } catch (error) {
    throw webIdentityFailure(error);
  } finally {
    releaseAwsClient(sts, options);
  }
}

function identityOf(c: { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string; Expiration?: Date } | undefined, action: string): AwsCredentialIdentity {
  if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error(`${action} returned no credentials`);
  return {
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretAccessKey,
    ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
    ...(c.Expiration ? { expiration: c.Expiration } : {}),
  };
}
