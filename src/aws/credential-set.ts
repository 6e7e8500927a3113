import { createHash } from 'node:crypto';

/** Everything that decides which principal calls ECR, and where. Registries with equal sets share a token. */
export interface AwsCredentialSet {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  roleArn?: string;
  externalId?: string;
  region: string;
  /** ECR API endpoint override, already checked against the administrator's allowlist. */
  endpoint?: string;
}

/**
 * A stable, one-way identifier of a credential set. It covers the secret material, so rotating the
 * keys changes it; it is a truncated SHA-256, so it reveals nothing usable.
 */
export function credentialFingerprint(set: AwsCredentialSet): string {
  const parts = [set.accessKeyId, set.secretAccessKey, set.sessionToken ?? '', set.roleArn ?? '', set.externalId ?? '', set.region, set.endpoint ?? ''];
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/** The secret values of a set, for redaction of anything derived from AWS responses. */
export function secretValues(set: AwsCredentialSet): string[] {
  return [set.accessKeyId, set.secretAccessKey, set.sessionToken ?? ''].filter((v) => v.length > 0);
}
