import { createHash } from 'node:crypto';

interface Target {
  region: string;
  /** ECR API endpoint override, already checked against the administrator's allowlist. */
  endpoint?: string;
}

/** Static AWS keys from a Secret, optionally used to assume a role. */
export interface KeysCredentialSet extends Target {
  source?: 'keys';
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  roleArn?: string;
  externalId?: string;
}

/** A ServiceAccount's token exchanged for a role session with STS AssumeRoleWithWebIdentity. */
export interface WebIdentityCredentialSet extends Target {
  source: 'webIdentity';
  /** The uid names this very ServiceAccount: one deleted and recreated is another principal. */
  serviceAccount: { namespace: string; name: string; uid: string };
  audience: string;
  roleArn: string;
}

/** The operator's own AWS identity (the SDK's provider chain), optionally chained to a role. */
export interface OperatorCredentialSet extends Target {
  source: 'operator';
  roleArn?: string;
  externalId?: string;
}

/** Everything that decides which principal calls ECR, and where. Registries with equal sets share a token. */
export type AwsCredentialSet = KeysCredentialSet | WebIdentityCredentialSet | OperatorCredentialSet;

/** Fingerprints by set object: a reconcile asks for its set's several times (its own and the token cache's lookups). */
const fingerprints = new WeakMap<AwsCredentialSet, string>();

/**
 * A stable, one-way identifier of a credential set. It covers the secret material, so rotating the
 * keys changes it; it is a truncated SHA-256, so it reveals nothing usable. A set is read as it was
 * when first fingerprinted: sets are built whole and never changed afterwards.
 */
export function credentialFingerprint(set: AwsCredentialSet): string {
  let fingerprint = fingerprints.get(set);
  if (fingerprint === undefined) {
    fingerprint = computeFingerprint(set);
    fingerprints.set(set, fingerprint);
  }
  return fingerprint;
}

function computeFingerprint(set: AwsCredentialSet): string {
  const target = [set.region, set.endpoint ?? ''];
  let parts: string[];
  switch (set.source) {
    case 'webIdentity':
    case 'operator':
      parts = [...principalKey(set), ...target];
      break;
    default:
      parts = [set.accessKeyId, set.secretAccessKey, set.sessionToken ?? '', set.roleArn ?? '', set.externalId ?? '', ...target];
  }
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/**
 * Who the set acts as, wherever it calls ECR: role sessions are shared by this key, so registries in
 * two regions with one ServiceAccount and role share one STS session.
 */
export function principalKey(set: AwsCredentialSet): string[] {
  switch (set.source) {
    case 'webIdentity':
      return ['web-identity', set.serviceAccount.uid, set.audience, set.roleArn];
    case 'operator':
      return ['operator', set.roleArn ?? '', set.externalId ?? ''];
    default:
      return ['keys', set.accessKeyId, set.secretAccessKey, set.sessionToken ?? '', set.roleArn ?? '', set.externalId ?? ''];
  }
}

/** A one-way identifier of who the set acts as (principalKey), for maps that must not hold key material. */
export function principalFingerprint(set: AwsCredentialSet): string {
  return createHash('sha256').update(principalKey(set).join('\u0000')).digest('hex').slice(0, 32);
}

/** The secret values of a set, for redaction of anything derived from AWS responses. */
export function secretValues(set: AwsCredentialSet): string[] {
  if (set.source === 'webIdentity' || set.source === 'operator') return [];
  return [set.accessKeyId, set.secretAccessKey, set.sessionToken ?? ''].filter((v) => v.length > 0);
}
