import { ECRClient } from '@aws-sdk/client-ecr';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { AssumedRoleSessions, type AwsCredentialIdentity } from './assumed-roles.ts';
import type { AwsCredentialSet } from './credential-set.ts';

export interface EcrClientOptions {
  /** STS endpoint override for AssumeRole (the administrator's, never a resource's). */
  stsEndpoint?: string;
  /** Per-attempt socket timeout; ECR answers in well under a second when healthy. */
  requestTimeoutMs?: number;
  /** The SDK's own retries; the controller adds backoff across reconciles on top. */
  maxAttempts?: number;
  /** Role sessions shared with other clients (withSharedRoleSessions); without it a client assumes its role itself. */
  roleSessions?: AssumedRoleSessions;
}

/** The same options, with one set of role sessions for every client made from them. */
export function withSharedRoleSessions(options: EcrClientOptions): EcrClientOptions {
  return { ...options, roleSessions: new AssumedRoleSessions({ assume: (set) => assumeRole(set, options) }) };
}

/** An ECR client acting as the principal of a credential set, assuming its role first when one is set. */
export function createEcrClient(set: AwsCredentialSet, options: EcrClientOptions = {}): ECRClient {
  let credentials: AwsCredentialIdentity | (() => Promise<AwsCredentialIdentity>) = baseIdentity(set);
  if (set.roleArn) {
    const sessions = options.roleSessions ?? new AssumedRoleSessions({ assume: (s) => assumeRole(s, options) });
    // The SDK calls this again when the identity's expiration nears; the sessions renew it then.
    credentials = () => sessions.credentials(set);
  }
  return new ECRClient({
    region: set.region,
    credentials,
    maxAttempts: options.maxAttempts ?? 2,
    ...(set.endpoint ? { endpoint: set.endpoint } : {}),
    requestHandler: { requestTimeout: options.requestTimeoutMs ?? 15_000, connectionTimeout: 5_000 },
  });
}

function baseIdentity(set: AwsCredentialSet): AwsCredentialIdentity {
  return { accessKeyId: set.accessKeyId, secretAccessKey: set.secretAccessKey, ...(set.sessionToken ? { sessionToken: set.sessionToken } : {}) };
}

/** One STS AssumeRole as the set's own keys, for the set's role (and external ID). */
async function assumeRole(set: AwsCredentialSet, options: EcrClientOptions): Promise<AwsCredentialIdentity> {
  const sts = new STSClient({
    region: set.region,
    credentials: baseIdentity(set),
    maxAttempts: options.maxAttempts ?? 2,
    ...(options.stsEndpoint ? { endpoint: options.stsEndpoint } : {}),
  });
  try {
    const out = await sts.send(
      new AssumeRoleCommand({
        RoleArn: set.roleArn,
        RoleSessionName: 'ecr-pullsecrets-operator',
        ...(set.externalId ? { ExternalId: set.externalId } : {}),
        DurationSeconds: 3600,
      }),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('AssumeRole returned no credentials');
    return {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
      ...(c.Expiration ? { expiration: c.Expiration } : {}),
    };
  } finally {
    sts.destroy();
  }
}
