import type { V1Secret } from '@kubernetes/client-node';
import {
  DEFAULT_ACCESS_KEY_ID_KEY,
  DEFAULT_SECRET_ACCESS_KEY_KEY,
  DEFAULT_SESSION_TOKEN_KEY,
  type EcrRegistryCredentials,
} from '../api/ecr-registry.ts';
import type { AwsCredentialSet } from '../aws/credential-set.ts';
import { RegistryReason } from './reasons.ts';

export type CredentialsResult =
  | { ok: true; set: AwsCredentialSet }
  | { ok: false; reason: typeof RegistryReason.CredentialsSecretNotFound | typeof RegistryReason.CredentialsKeyMissing; message: string };

/** Reads the AWS keys a registry references out of its Secret, validating them at the boundary. */
export function credentialsFromSecret(
  secret: V1Secret | undefined,
  spec: EcrRegistryCredentials,
  target: { namespace: string; region: string; endpoint?: string },
): CredentialsResult {
  const ref = spec.secretRef;
  if (!secret) {
    return { ok: false, reason: RegistryReason.CredentialsSecretNotFound, message: `Secret ${target.namespace}/${ref.name} with the AWS keys does not exist` };
  }
  const idKey = ref.accessKeyIDKey ?? DEFAULT_ACCESS_KEY_ID_KEY;
  const secretKey = ref.secretAccessKeyKey ?? DEFAULT_SECRET_ACCESS_KEY_KEY;
  const tokenKey = ref.sessionTokenKey ?? DEFAULT_SESSION_TOKEN_KEY;
  const accessKeyId = readKey(secret, idKey);
  const secretAccessKey = readKey(secret, secretKey);
  const missing = [accessKeyId ? undefined : idKey, secretAccessKey ? undefined : secretKey].filter((k): k is string => k !== undefined);
  if (missing.length > 0 || !accessKeyId || !secretAccessKey) {
    return {
      ok: false,
      reason: RegistryReason.CredentialsKeyMissing,
      message: `Secret ${target.namespace}/${ref.name} has no non-empty ${missing.join(' or ')}`,
    };
  }
  const sessionToken = readKey(secret, tokenKey);
  return {
    ok: true,
    set: {
      accessKeyId,
      secretAccessKey,
      region: target.region,
      ...(sessionToken ? { sessionToken } : {}),
      ...(spec.roleArn ? { roleArn: spec.roleArn } : {}),
      ...(spec.externalId ? { externalId: spec.externalId } : {}),
      ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    },
  };
}

// Keys pasted into Secrets often carry a trailing newline; AWS would reject them with a confusing error.
function readKey(secret: V1Secret, key: string): string | undefined {
  const fromData = secret.data?.[key];
  const value = fromData !== undefined ? Buffer.from(fromData, 'base64').toString('utf8') : secret.stringData?.[key];
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}
