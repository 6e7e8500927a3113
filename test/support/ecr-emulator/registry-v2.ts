import type { IncomingHttpHeaders } from 'node:http';
import type { FaultKind, RegistryTamperKind } from './faults.ts';
import { Repository } from './repository.ts';
import type { AuthTokenRecord, EmulatorState } from './state.ts';

/**
 * The Docker registry HTTP API v2 (read side) with ECR's Basic auth: username `AWS`, password from
 * GetAuthorizationToken. The registry (account + region) a request targets comes from, in order:
 * a `/registry/<account>/<region>` path prefix, a Host header shaped like an ECR registry host,
 * or the token's own account and region.
 */

export const REGISTRY_V2_ACTIONS = {
  base: 'RegistryV2.Base',
  manifest: 'RegistryV2.Manifest',
  blob: 'RegistryV2.Blob',
  tagsList: 'RegistryV2.TagsList',
  unknown: 'RegistryV2.Unknown',
} as const;

export type RegistryV2Action = (typeof REGISTRY_V2_ACTIONS)[keyof typeof REGISTRY_V2_ACTIONS];

export interface RegistryCoordinates {
  accountId: string;
  region: string;
}

export interface RegistryRoute {
  action: RegistryV2Action;
  repository?: string;
  reference?: string;
  /** Set when the path carried a `/registry/<account>/<region>` prefix. */
  registry?: RegistryCoordinates;
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const PATH_PREFIX = /^\/registry\/(\d{12})\/([a-z0-9-]+)(\/v2(?:\/.*)?)$/;
const ECR_HOST = /^(\d{12})\.(?:dkr\.ecr|dkr-ecr)(?:-fips)?\.([a-z0-9-]+)\.(?:amazonaws\.com(?:\.cn)?|on\.aws|localhost)(?::\d+)?$/;

export function isRegistryPath(rawPath: string): boolean {
  return rawPath === '/v2' || rawPath.startsWith('/v2/') || PATH_PREFIX.test(rawPath);
}

export function registryHost(registry: RegistryCoordinates): string {
  return `${registry.accountId}.dkr.ecr.${registry.region}.amazonaws.com`;
}

export function parseRegistryRoute(rawPath: string): RegistryRoute {
  let path = rawPath;
  let registry: RegistryCoordinates | undefined;
  const prefixed = PATH_PREFIX.exec(rawPath);
  if (prefixed) {
    registry = { accountId: prefixed[1]!, region: prefixed[2]! };
    path = prefixed[3]!;
  }
  const withRegistry = (route: RegistryRoute): RegistryRoute => (registry ? { ...route, registry } : route);
  if (path === '/v2' || path === '/v2/') return withRegistry({ action: REGISTRY_V2_ACTIONS.base });
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return withRegistry({ action: REGISTRY_V2_ACTIONS.unknown });
  }
  const content = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(decoded);
  if (content) {
    const action = content[2] === 'manifests' ? REGISTRY_V2_ACTIONS.manifest : REGISTRY_V2_ACTIONS.blob;
    return withRegistry({ action, repository: content[1]!, reference: content[3]! });
  }
  const tags = /^\/v2\/(.+)\/tags\/list$/.exec(decoded);
  if (tags) return withRegistry({ action: REGISTRY_V2_ACTIONS.tagsList, repository: tags[1]! });
  return withRegistry({ action: REGISTRY_V2_ACTIONS.unknown });
}

function hostRegistry(headers: IncomingHttpHeaders): RegistryCoordinates | undefined {
  const m = headers.host ? ECR_HOST.exec(headers.host.toLowerCase()) : null;
  return m ? { accountId: m[1]!, region: m[2]! } : undefined;
}

function jsonBody(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

const BASE_HEADERS = { 'docker-distribution-api-version': 'registry/2.0' };

export function registryError(
  status: number,
  code: string,
  message: string,
  extraHeaders: Record<string, string> = {},
): RegistryResponse {
  return {
    status,
    headers: { ...BASE_HEADERS, 'content-type': 'application/json; charset=utf-8', ...extraHeaders },
    body: jsonBody({ errors: [{ code, message, detail: null }] }),
  };
}

function challenge(registry: RegistryCoordinates | undefined): Record<string, string> {
  const realm = registry ? `https://${registryHost(registry)}/` : 'ecr-emulator';
  return { 'www-authenticate': `Basic realm="${realm}",service="ecr.amazonaws.com"` };
}

export function registryFaultResponse(kind: Exclude<FaultKind, 'latency' | 'connectionReset'>, message?: string): RegistryResponse {
  switch (kind) {
    case 'throttle':
      return registryError(429, 'TOOMANYREQUESTS', message ?? 'Rate exceeded');
    case 'serverError':
      return registryError(500, 'UNKNOWN', message ?? 'An internal error occurred');
    case 'accessDenied':
      return registryError(403, 'DENIED', message ?? 'Not Authorized');
  }
}

/**
 * A registry answer altered as a broken registry or proxy would alter it. Only 200 answers carry a
 * body worth tampering with; a redirect loop replaces any answer with a 307 to `target` itself.
 */
export function tamperRegistryResponse(kind: RegistryTamperKind, response: RegistryResponse, target: string): RegistryResponse {
  if (kind === 'redirectLoop') return { status: 307, headers: { ...BASE_HEADERS, location: target }, body: Buffer.alloc(0) };
  if (response.status !== 200 || response.body.length === 0) return response;
  if (kind === 'truncatedJson') return { ...response, body: response.body.subarray(0, Math.floor(response.body.length / 2)) };
  const body = Buffer.from(response.body);
  body[body.length - 1] = body[body.length - 1]! ^ 0x01;
  return { ...response, body };
}

/** Finds the issued token behind `Authorization: Basic base64(AWS:<password>)`, valid or not. */
export function tokenOfRequest(headers: IncomingHttpHeaders, state: EmulatorState): AuthTokenRecord | undefined {
  const header = headers.authorization;
  if (!header || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0 || decoded.slice(0, colon) !== 'AWS') return undefined;
  return state.findToken(decoded.slice(colon + 1));
}

/**
 * Checks the token for the targeted registry: unknown, expired or other-region tokens get 401 with
 * a Basic challenge; a valid token of an account without a grant on the registry gets 403.
 */
export function authorizeRegistry(
  route: RegistryRoute,
  headers: IncomingHttpHeaders,
  token: AuthTokenRecord | undefined,
  nowMs: number,
  state: EmulatorState,
): { registry: RegistryCoordinates } | { refusal: RegistryResponse } {
  const named = route.registry ?? hostRegistry(headers);
  if (!token) {
    return { refusal: registryError(401, 'UNAUTHORIZED', 'Not Authorized', challenge(named)) };
  }
  const registry = named ?? { accountId: token.accountId, region: token.region };
  if (nowMs >= token.expiresAtMs) {
    return {
      refusal: registryError(401, 'UNAUTHORIZED', 'Your authorization token has expired. Reauthenticate and try again.', challenge(registry)),
    };
  }
  if (token.region !== registry.region) {
    return { refusal: registryError(401, 'UNAUTHORIZED', 'Not Authorized', challenge(registry)) };
  }
  if (!state.canAccess(token.accountId, registry.accountId)) {
    return { refusal: registryError(403, 'DENIED', `User in account ${token.accountId} is not authorized to access registry ${registry.accountId}`) };
  }
  return { registry };
}

function repositoryOrError(
  state: EmulatorState,
  registry: RegistryCoordinates,
  name: string,
): Repository | RegistryResponse {
  const repository = state.findRepository(registry.accountId, registry.region, name);
  return (
    repository ??
    registryError(404, 'NAME_UNKNOWN', `The repository with name '${name}' does not exist in the registry with id '${registry.accountId}'`)
  );
}

/** Serves an authorised GET or HEAD (node drops the body of a HEAD answer, keeping its headers). */
export function serveRegistry(
  method: string,
  route: RegistryRoute,
  registry: RegistryCoordinates,
  state: EmulatorState,
): RegistryResponse {
  if (method !== 'GET' && method !== 'HEAD') return registryError(405, 'UNSUPPORTED', 'The operation is unsupported.');
  return serveContent(route, registry, state);
}

function serveContent(route: RegistryRoute, registry: RegistryCoordinates, state: EmulatorState): RegistryResponse {
  switch (route.action) {
    case REGISTRY_V2_ACTIONS.base:
      return { status: 200, headers: { ...BASE_HEADERS, 'content-type': 'application/json' }, body: jsonBody({}) };
    case REGISTRY_V2_ACTIONS.manifest: {
      const repository = repositoryOrError(state, registry, route.repository!);
      if (!(repository instanceof Repository)) return repository;
      const manifest = repository.resolve(route.reference!);
      if (!manifest) return registryError(404, 'MANIFEST_UNKNOWN', 'Requested image not found');
      return {
        status: 200,
        headers: { ...BASE_HEADERS, 'content-type': manifest.mediaType, 'docker-content-digest': manifest.digest, etag: `"${manifest.digest}"` },
        body: manifest.bytes,
      };
    }
    case REGISTRY_V2_ACTIONS.blob: {
      const repository = repositoryOrError(state, registry, route.repository!);
      if (!(repository instanceof Repository)) return repository;
      const blob = repository.getBlob(route.reference!);
      if (!blob) return registryError(404, 'BLOB_UNKNOWN', 'blob unknown to registry');
      return {
        status: 200,
        headers: { ...BASE_HEADERS, 'content-type': 'application/octet-stream', 'docker-content-digest': blob.digest },
        body: blob.bytes,
      };
    }
    case REGISTRY_V2_ACTIONS.tagsList: {
      const repository = repositoryOrError(state, registry, route.repository!);
      if (!(repository instanceof Repository)) return repository;
      return {
        status: 200,
        headers: { ...BASE_HEADERS, 'content-type': 'application/json' },
        body: jsonBody({ name: repository.name, tags: repository.allTags() }),
      };
    }
    default:
      return registryError(404, 'NOT_FOUND', 'Not found');
  }
}
