import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import type { ClusterEcrRegistryCredentials } from '../api/cluster-ecr-registry.ts';
import {
  type CredentialsSecretRef,
  DEFAULT_ACCESS_KEY_ID_KEY,
  DEFAULT_SECRET_ACCESS_KEY_KEY,
  DEFAULT_SESSION_TOKEN_KEY,
  DEFAULT_WEB_IDENTITY_AUDIENCE,
  type EcrRegistryCredentials,
} from '../api/ecr-registry.ts';
import type { AwsCredentialSet } from '../aws/credential-set.ts';
import { RegistryReason } from './reasons.ts';

export type CredentialsResult = { ok: true; set: AwsCredentialSet } | { ok: false; reason: string; message: string };

/** Either kind's credentials: a ClusterEcrRegistry's refs name their namespace, an EcrRegistry's use its own. */
export type CredentialsSpec = EcrRegistryCredentials | ClusterEcrRegistryCredentials;

export interface CredentialReads {
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
  serviceAccount(namespace: string, name: string): Promise<V1ServiceAccount | undefined>;
}

/**
 * The credential set a registry's spec names, from exactly one source: keys in a Secret, a
 * ServiceAccount's web identity (its uid read now, so a recreated account is a new principal), or the
 * operator's own identity. `namespace` is the registry's own (EcrRegistry) or undefined (ClusterEcrRegistry).
 */
export async function resolveCredentials(spec: CredentialsSpec, namespace: string | undefined, reads: CredentialReads, target: { region: string; endpoint?: string }): Promise<CredentialsResult> {
  const where = { region: target.region, ...(target.endpoint ? { endpoint: target.endpoint } : {}) };
  if ('source' in spec && spec.source === 'Operator') {
    return { ok: true, set: { source: 'operator', ...where, ...(spec.roleArn ? { roleArn: spec.roleArn } : {}), ...(spec.externalId ? { externalId: spec.externalId } : {}) } };
  }
  if (spec.serviceAccountRef) {
    const ref = spec.serviceAccountRef;
    const accountNamespace = 'namespace' in ref ? ref.namespace : namespace!;
    if (!spec.roleArn) return { ok: false, reason: RegistryReason.InvalidSpec, message: 'credentials.serviceAccountRef needs credentials.roleArn, the role its token is exchanged for' };
    const account = await reads.serviceAccount(accountNamespace, ref.name);
    if (!account?.metadata?.uid) {
      return { ok: false, reason: RegistryReason.ServiceAccountNotFound, message: `ServiceAccount ${accountNamespace}/${ref.name} named in credentials.serviceAccountRef does not exist` };
    }
    return {
      ok: true,
      set: { source: 'webIdentity', ...where, serviceAccount: { namespace: accountNamespace, name: ref.name, uid: account.metadata.uid }, audience: ref.audience ?? DEFAULT_WEB_IDENTITY_AUDIENCE, roleArn: spec.roleArn },
    };
  }
  if (spec.secretRef) {
    const secretNamespace = 'namespace' in spec.secretRef ? spec.secretRef.namespace : namespace!;
    return credentialsFromSecret(await reads.secret(secretNamespace, spec.secretRef.name), spec.secretRef, spec, { namespace: secretNamespace, ...where });
  }
  return { ok: false, reason: RegistryReason.InvalidSpec, message: 'credentials names no source: set secretRef or serviceAccountRef' };
}

/** Reads the AWS keys a registry references out of its Secret, validating them at the boundary. */
export function credentialsFromSecret(
  secret: V1Secret | undefined,
  ref: CredentialsSecretRef,
  spec: Pick<EcrRegistryCredentials, 'roleArn' | 'externalId'>,
  target: { namespace: string; region: string; endpoint?: string },
): CredentialsResult {
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
