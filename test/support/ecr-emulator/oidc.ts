import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import https from 'node:https';
import { isObject, type JsonObject } from './input.ts';

/**
 * The relying-party half of OpenID Connect that STS performs for AssumeRoleWithWebIdentity:
 * parse a JWT, find the issuer's keys through its discovery document, check the signature.
 * Claims (iss, aud, exp, sub) are judged by the caller.
 */

/** A JWT split into its parts; nothing in it is trusted until verifyJwtSignature() says so. */
export interface ParsedJwt {
  header: JsonObject;
  claims: JsonObject;
  /** `<header>.<payload>` as sent: what the signature covers. */
  signingInput: string;
  signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodeSegment(segment: string): Buffer | undefined {
  return BASE64URL.test(segment) ? Buffer.from(segment, 'base64url') : undefined;
}

function parseJsonSegment(segment: string): JsonObject | undefined {
  const bytes = decodeSegment(segment);
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Undefined when the token is not a compact JWS with JSON header and claims. */
export function parseJwt(token: string): ParsedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = parseJsonSegment(headerPart);
  const claims = parseJsonSegment(payloadPart);
  const signature = decodeSegment(signaturePart);
  if (!header || !claims || !signature || signature.length === 0) return undefined;
  return { header, claims, signingInput: `${headerPart}.${payloadPart}`, signature };
}

/** JWS algorithms STS accepts (RSA since the start, ECDSA since November 2024). */
const ALGORITHMS: Record<string, { hash: string; kty: 'RSA' | 'EC'; crv?: string }> = {
  RS256: { hash: 'sha256', kty: 'RSA' },
  RS384: { hash: 'sha384', kty: 'RSA' },
  RS512: { hash: 'sha512', kty: 'RSA' },
  ES256: { hash: 'sha256', kty: 'EC', crv: 'P-256' },
  ES384: { hash: 'sha384', kty: 'EC', crv: 'P-384' },
  ES512: { hash: 'sha512', kty: 'EC', crv: 'P-521' },
};

export interface VerificationKey {
  kid: string | undefined;
  kty: string;
  crv: string | undefined;
  /** The JWK's `alg`, when it pins one. */
  alg: string | undefined;
  key: KeyObject;
}

/** Checks the JWS signature with one of `keys` (the one named by `kid`, else any of a fitting type). */
export function verifyJwtSignature(jwt: ParsedJwt, keys: VerificationKey[]): boolean {
  const alg = typeof jwt.header.alg === 'string' ? jwt.header.alg : '';
  const algorithm = ALGORITHMS[alg];
  if (!algorithm) return false;
  const kid = typeof jwt.header.kid === 'string' ? jwt.header.kid : undefined;
  const candidates = keys.filter(
    (k) =>
      (kid === undefined || k.kid === kid) &&
      k.kty === algorithm.kty &&
      (algorithm.crv === undefined || k.crv === algorithm.crv) &&
      (k.alg === undefined || k.alg === alg),
  );
  const data = Buffer.from(jwt.signingInput, 'ascii');
  return candidates.some((candidate) => {
    const key = algorithm.kty === 'EC' ? { key: candidate.key, dsaEncoding: 'ieee-p1363' as const } : candidate.key;
    try {
      return verify(algorithm.hash, data, key, jwt.signature);
    } catch {
      return false;
    }
  });
}

/** Whether the JWT names a key (`kid`) that `keys` lacks: the issuer may have rotated its keys. */
export function namesUnknownKey(jwt: ParsedJwt, keys: VerificationKey[]): boolean {
  const kid = jwt.header.kid;
  return typeof kid === 'string' && !keys.some((k) => k.kid === kid);
}

export class KeyRetrievalError extends Error {}

/**
 * Fetches and caches issuers' signing keys the way an OIDC relying party does:
 * `<issuer>/.well-known/openid-configuration` (its `issuer` must equal the token's), then its
 * `jwks_uri`. HTTPS only, trusting `caPem` when given (else Node's default CAs). The cache is per
 * issuer; refresh() refetches, for a token that names a key the cache lacks.
 */
export class OidcKeySource {
  private readonly caPem: string | undefined;
  private readonly cache = new Map<string, Promise<VerificationKey[]>>();
  private fetches = 0;

  constructor(caPem: string | undefined) {
    this.caPem = caPem;
  }

  /** Discovery documents fetched so far (each fetch also reads the JWKS). */
  get fetchCount(): number {
    return this.fetches;
  }

  keys(issuer: string): Promise<VerificationKey[]> {
    const cached = this.cache.get(issuer);
    if (cached) return cached;
    const keys = this.fetchKeys(issuer);
    this.cache.set(issuer, keys);
    // A failed fetch is not cached: the next call tries again.
    keys.catch(() => {
      if (this.cache.get(issuer) === keys) this.cache.delete(issuer);
    });
    return keys;
  }

  refresh(issuer: string): Promise<VerificationKey[]> {
    this.cache.delete(issuer);
    return this.keys(issuer);
  }

  private async fetchKeys(issuer: string): Promise<VerificationKey[]> {
    this.fetches += 1;
    // OpenID Connect Discovery 1.0 §4: a terminating "/" of the issuer is removed before appending.
    const discovery = await this.getJson(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    if (discovery.issuer !== issuer) {
      throw new KeyRetrievalError(`the discovery document names issuer ${JSON.stringify(discovery.issuer)}, not ${issuer}`);
    }
    if (typeof discovery.jwks_uri !== 'string') throw new KeyRetrievalError('the discovery document has no jwks_uri');
    const jwks = await this.getJson(discovery.jwks_uri);
    if (!Array.isArray(jwks.keys)) throw new KeyRetrievalError('the JWKS has no keys');
    const keys: VerificationKey[] = [];
    for (const jwk of jwks.keys) {
      if (!isObject(jwk) || typeof jwk.kty !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
      try {
        keys.push({
          kid: typeof jwk.kid === 'string' ? jwk.kid : undefined,
          kty: jwk.kty,
          crv: typeof jwk.crv === 'string' ? jwk.crv : undefined,
          alg: typeof jwk.alg === 'string' ? jwk.alg : undefined,
          key: createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }),
        });
      } catch {
        // A key node:crypto cannot read is one STS could not use either; the others still count.
      }
    }
    return keys;
  }

  private getJson(url: string): Promise<JsonObject> {
    if (!url.startsWith('https://')) return Promise.reject(new KeyRetrievalError(`not an https URL: ${url}`));
    return new Promise((resolve, reject) => {
      const request = https.get(url, { timeout: 5000, ...(this.caPem !== undefined ? { ca: this.caPem } : {}) }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          if (response.statusCode !== 200) {
            reject(new KeyRetrievalError(`GET ${url} answered ${response.statusCode}`));
            return;
          }
          try {
            const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (isObject(value)) resolve(value);
            else reject(new KeyRetrievalError(`GET ${url} did not return a JSON object`));
          } catch (error) {
            reject(new KeyRetrievalError(`GET ${url} did not return JSON`, { cause: error }));
          }
        });
      });
      request.on('timeout', () => request.destroy(new KeyRetrievalError(`GET ${url} timed out`)));
      request.on('error', (error) => reject(error instanceof KeyRetrievalError ? error : new KeyRetrievalError(`GET ${url} failed`, { cause: error })));
    });
  }
}
