import { createCredentialChain, fromEnv, fromHttp, fromInstanceMetadata, fromTokenFile } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity } from './assumed-roles.ts';
import type { OperatorIdentity } from './ecr-client.ts';

export interface OperatorIdentityOptions {
  /** Instance metadata (IMDS) is off unless the administrator turns it on: it would hand the node's role to any ClusterEcrRegistry. */
  instanceMetadata: boolean;
  /** STS endpoint and region for IRSA's AssumeRoleWithWebIdentity. */
  stsEndpoint?: string;
  stsRegion: string;
  now?: () => number;
}

/** An identity is used until this long before it expires, then the chain is asked again. */
const RENEW_BEFORE_MS = 5 * 60_000;

/**
 * The operator's own AWS identity, from the SDK's own providers in the order of its default chain:
 * environment variables, IRSA's web identity token file (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE),
 * EKS Pod Identity's container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI with
 * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE), and instance metadata only when enabled. The identity is
 * shared by every ECR client and asked for again only when it nears expiry.
 */
export function operatorIdentityChain(options: OperatorIdentityOptions): OperatorIdentity {
  const now = options.now ?? Date.now;
  const chain = createCredentialChain(
    fromEnv(),
    fromTokenFile({ clientConfig: { region: options.stsRegion, ...(options.stsEndpoint ? { endpoint: options.stsEndpoint } : {}) } }),
    fromHttp({}),
    ...(options.instanceMetadata ? [fromInstanceMetadata()] : []),
  );
  let current: Promise<AwsCredentialIdentity> | undefined;
  let renewAtMs = 0;
  return () => {
    if (current && now() < renewAtMs) return current;
    const next = chain();
    current = next;
    renewAtMs = Number.POSITIVE_INFINITY;
    next.then(
      (identity) => {
        renewAtMs = identity.expiration ? identity.expiration.getTime() - RENEW_BEFORE_MS : Number.POSITIVE_INFINITY;
      },
      () => {
        // A failure is not kept: the next caller asks the chain again.
        if (current === next) current = undefined;
      },
    );
    return next;
  };
}
