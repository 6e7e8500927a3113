import { ECRClient } from '@aws-sdk/client-ecr';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialSet } from './credential-set.ts';

interface AwsCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export interface EcrClientOptions {
  /** STS endpoint override for AssumeRole (the administrator's, never a resource's). */
  stsEndpoint?: string;
  /** Per-attempt socket timeout; ECR answers in well under a second when healthy. */
  requestTimeoutMs?: number;
  /** The SDK's own retries; the controller adds backoff across reconciles on top. */
  maxAttempts?: number;
}

/** An ECR client acting as the principal of a credential set, assuming its role first when one is set. */
export function createEcrClient(set: AwsCredentialSet, options: EcrClientOptions = {}): ECRClient {
  const base: AwsCredentialIdentity = {
    accessKeyId: set.accessKeyId,
    secretAccessKey: set.secretAccessKey,
    ...(set.sessionToken ? { sessionToken: set.sessionToken } : {}),
  };
  const credentials = set.roleArn ? assumeRoleProvider(set, base, options) : base;
  return new ECRClient({
    region: set.region,
    credentials,
    maxAttempts: options.maxAttempts ?? 2,
    ...(set.endpoint ? { endpoint: set.endpoint } : {}),
    requestHandler: { requestTimeout: options.requestTimeoutMs ?? 15_000, connectionTimeout: 5_000 },
  });
}

function assumeRoleProvider(set: AwsCredentialSet, base: AwsCredentialIdentity, options: EcrClientOptions) {
  let cached: Promise<AwsCredentialIdentity> | undefined;
  return () => {
    cached ??= (async () => {
      const sts = new STSClient({
        region: set.region,
        credentials: base,
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
    })();
    // A failed AssumeRole must not stick: the next call tries again.
    cached.catch(() => {
      cached = undefined;
    });
    return cached;
  };
}
