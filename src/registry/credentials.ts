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

/** `notices`: what was wrong with the keys but could be worked around, for the user to clean up (never key material). */
export type CredentialsResult = { ok: true; set: AwsCredentialSet; notices?: string[] } | { ok: false; reason: string; message: string };

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
  const where = `${target.namespace}/${ref.name}`;
  if (!secret) {
    return { ok: false, reason: RegistryReason.CredentialsSecretNotFound, message: `Secret ${where} with the AWS keys does not exist` };
  }
  const idKey = ref.accessKeyIDKey ?? DEFAULT_ACCESS_KEY_ID_KEY;
  const secretKey = ref.secretAccessKeyKey ?? DEFAULT_SECRET_ACCESS_KEY_KEY;
  const tokenKey = ref.sessionTokenKey ?? DEFAULT_SESSION_TOKEN_KEY;
  const id = readKey(secret, idKey, `the access key ID (${idKey} in Secret ${where})`);
  const key = readKey(secret, secretKey, `the secret access key (${secretKey} in Secret ${where})`);
  const token = readKey(secret, tokenKey, `the session token (${tokenKey} in Secret ${where})`);
  const missing = [id.value || id.malformed ? undefined : idKey, key.value || key.malformed ? undefined : secretKey].filter((k): k is string => k !== undefined);
  if (missing.length > 0) return { ok: false, reason: RegistryReason.CredentialsKeyMissing, message: missingKeysMessage(secret, where, [idKey, secretKey], missing) };
  const malformed = [id.malformed, key.malformed, token.malformed, ...shapeProblems(id, key, token, { idKey, secretKey, tokenKey })].filter((m): m is string => m !== undefined);
  if (malformed.length > 0 || !id.value || !key.value) {
    return { ok: false, reason: RegistryReason.CredentialsMalformed, message: malformed.join('; ') };
  }
  const notices = [id.notice, key.notice, token.notice].filter((n): n is string => n !== undefined);
  return {
    ok: true,
    set: {
      accessKeyId: id.value,
      secretAccessKey: key.value,
      region: target.region,
      ...(token.value ? { sessionToken: token.value } : {}),
      ...(spec.roleArn ? { roleArn: spec.roleArn } : {}),
      ...(spec.externalId ? { externalId: spec.externalId } : {}),
      ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    },
    ...(notices.length > 0 ? { notices } : {}),
  };
}

/** A key as read from the Secret: its usable value, what was cleaned off it, or why it cannot be a key. Never the value in a message. */
interface KeyReading {
  value?: string;
  /** Whitespace or quotes around the value that were ignored, and what to do about them. */
  notice?: string;
  malformed?: string;
}

/**
 * Reads one key. AWS keys and session tokens are printable ASCII with no whitespace or quotes, so
 * whitespace and one pair of quotes around a value are pasting mistakes (a trailing newline from
 * `echo | base64` above all): the value is used without them, and the user is told to clean up.
 */
function readKey(secret: V1Secret, key: string, label: string): KeyReading {
  const fromData = secret.data?.[key];
  const fromStringData = secret.stringData?.[key];
  if (fromData === undefined && fromStringData === undefined) return {};
  const text = fromData !== undefined ? Buffer.from(fromData, 'base64').toString('utf8') : fromStringData!;
  if (!/^[\x20-\x7e\t\r\n]*$/.test(text)) {
    return { malformed: `${label} holds bytes that are not printable text (binary data, or letters outside ASCII such as look-alikes): store the key exactly as AWS issued it` };
  }
  const leading = /^\s*/.exec(text)![0];
  const trailing = /\s*$/.exec(text)![0];
  const trimmed = text.trim();
  const quoted = /^(["'])([\s\S]*)\1$/.exec(trimmed);
  const value = quoted ? quoted[2]!.trim() : trimmed;
  if (!value) return {};
  if (/[\s"']/.test(value)) return { malformed: `${label} has whitespace or quotes inside it: store the key exactly as AWS issued it` };
  const problems = [
    ...(leading ? [`starts with ${describeWhitespace(leading)}`] : []),
    ...(quoted ? [`is wrapped in ${quoted[1] === '"' ? 'double' : 'single'} quotes`] : []),
    ...(trailing ? [`ends with ${describeWhitespace(trailing)}`] : []),
  ];
  if (problems.length === 0) return { value };
  return {
    value,
    notice:
      `${label} ${problems.join(' and ')}. The operator ignores ${problems.length > 1 || quoted ? 'them' : 'it'}, but other tools that read the Secret may not: ` +
      `store the key without ${problems.length > 1 || quoted ? 'them' : 'it'} (kubectl create secret generic --from-literal, or printf '%s' rather than echo before base64)`,
  };
}

function describeWhitespace(whitespace: string): string {
  if (whitespace.includes('\n')) return 'a newline';
  if (whitespace.includes('\t')) return 'a tab';
  return whitespace.length === 1 ? 'a space' : 'spaces';
}

const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;
const ISSUED_ACCESS_KEY_ID = /^A[KS]IA[A-Z0-9]{16}$/;
const SECRET_ACCESS_KEY = /^[A-Za-z0-9/+=]{40}$/;

/**
 * What makes well-formed text still not a usable key pair, found before any call to AWS (which
 * would answer with a signature error that names none of this). Never quotes a value.
 */
function shapeProblems(id: KeyReading, key: KeyReading, token: KeyReading, keys: { idKey: string; secretKey: string; tokenKey: string }): string[] {
  const problems: string[] = [];
  const idLabel = `the access key ID (${keys.idKey})`;
  if (id.value !== undefined) {
    if (SECRET_ACCESS_KEY.test(id.value) && /[a-z/+]/.test(id.value)) {
      problems.push(`${idLabel} looks like a secret access key: the two values may be swapped (${keys.idKey} holds the 20-character ID that starts with AKIA or ASIA)`);
    } else if (ISSUED_ACCESS_KEY_ID.test(Buffer.from(id.value, 'base64').toString('latin1'))) {
      problems.push(`${idLabel} is base64-encoded twice: under data, a Secret holds each value base64-encoded once; stringData and kubectl create secret --from-literal take the plain key`);
    } else if (!ACCESS_KEY_ID.test(id.value)) {
      problems.push(`${idLabel} is not an access key ID: those are upper-case letters and digits, usually 20 of them starting with AKIA (long-term) or ASIA (temporary)`);
    } else if (id.value.startsWith('ASIA') && !token.value && !token.malformed) {
      problems.push(`${idLabel} is a temporary key (ASIA…), which AWS accepts only with its session token: add the session token under ${keys.tokenKey}, or use a long-term access key (AKIA…)`);
    }
  }
  if (key.value !== undefined && ISSUED_ACCESS_KEY_ID.test(key.value)) {
    problems.push(`the secret access key (${keys.secretKey}) looks like an access key ID: the two values may be swapped (${keys.secretKey} holds the 40-character secret)`);
  }
  return problems;
}

/** Which keys are missing, and what the Secret holds instead (key names, never values). */
function missingKeysMessage(secret: V1Secret, where: string, wanted: readonly string[], missing: readonly string[]): string {
  const present = [...new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})])].sort();
  const typed = secret.type && secret.type !== 'Opaque' ? `, of type ${secret.type},` : '';
  if (present.length === 0) return `Secret ${where}${typed} has no data: it needs non-empty ${wanted.join(' and ')}`;
  if (wanted.some((key) => present.includes(key))) return `Secret ${where} has no non-empty ${missing.join(' or ')}`;
  return (
    `Secret ${where}${typed} has keys ${present.join(', ')} but no non-empty ${missing.join(' or ')}: ` +
    'add them, or point spec.credentials.secretRef.accessKeyIDKey and secretAccessKeyKey at the keys that hold the AWS keys'
  );
}
