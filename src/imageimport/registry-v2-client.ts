import { createHash } from 'node:crypto';
import type { BasicCredentials } from './pull-credentials.ts';

/** Reads content-addressed objects from a registry's v2 API, checking every body against its digest. */
export interface RegistryV2Reader {
  manifest(repository: string, digest: string, accept: string, signal?: AbortSignal): Promise<{ body: Buffer; mediaType?: string }>;
  blob(repository: string, digest: string, signal?: AbortSignal): Promise<Buffer>;
}

export type RegistryV2ReaderFactory = (baseUrl: string, credentials: BasicCredentials) => RegistryV2Reader;

/** A registry request that failed; `status` is the HTTP status when there was an answer. */
export class RegistryV2Error extends Error {
  readonly status: number | undefined;
  readonly retryable: boolean;

  constructor(message: string, options: { status?: number; retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RegistryV2Error';
    this.status = options.status;
    this.retryable = options.retryable;
  }
}

export interface RegistryV2Options {
  fetch?: typeof fetch;
  /** Per request, redirects included. */
  timeoutMs?: number;
  /** Manifests and config blobs are small; a larger body is refused rather than read into memory. */
  maxBytes?: number;
}

const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * A reader that sends `Authorization: Basic` only to `baseUrl`'s origin. ECR answers blob requests
 * with a redirect to a presigned S3 URL; a redirect is followed without credentials, since its
 * target comes from the response, not from the operator's configuration.
 */
export function createRegistryV2Reader(baseUrl: string, credentials: BasicCredentials, options: RegistryV2Options = {}): RegistryV2Reader {
  const origin = new URL(baseUrl).origin;
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  const authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;

  async function get(path: string, digest: string, accept: string | undefined, outer?: AbortSignal): Promise<{ body: Buffer; contentType?: string }> {
    // A timer of our own, cleared when done, so no request leaves a timer running behind it.
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
    const signal = outer ? AbortSignal.any([outer, timeout.signal]) : timeout.signal;
    try {
      return await follow(path, digest, accept, signal);
    } finally {
      clearTimeout(timer);
    }
  }

  async function follow(path: string, digest: string, accept: string | undefined, signal: AbortSignal): Promise<{ body: Buffer; contentType?: string }> {
    let url = new URL(`${origin}${path}`);
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = accept ? { accept } : {};
      if (url.origin === origin) headers.authorization = authorization;
      let response: Response;
      try {
        response = await doFetch(url, { headers, redirect: 'manual', signal });
      } catch (error) {
        throw new RegistryV2Error(`GET ${path} failed: ${networkCause(error)}`, { retryable: true, cause: error });
      }
      if (REDIRECT_STATUSES.has(response.status)) {
        await response.body?.cancel();
        const location = response.headers.get('location');
        if (!location || hop >= MAX_REDIRECTS) throw new RegistryV2Error(`GET ${path}: too many or empty redirects`, { status: response.status, retryable: false });
        const next = new URL(location, url);
        // Never downgrade to plain HTTP, whoever asks.
        if (next.protocol !== 'https:' && next.origin !== origin) throw new RegistryV2Error(`GET ${path}: refused a redirect to a non-HTTPS URL`, { retryable: false });
        url = next;
        continue;
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new RegistryV2Error(`GET ${path} returned HTTP ${response.status}${explain(response.status)}`, {
          status: response.status,
          retryable: response.status === 429 || response.status >= 500,
        });
      }
      let body: Buffer;
      try {
        body = await readLimited(response, maxBytes, path);
      } catch (error) {
        if (error instanceof RegistryV2Error) throw error;
        throw new RegistryV2Error(`GET ${path} failed while reading: ${networkCause(error)}`, { retryable: true, cause: error });
      }
      if (digestOf(body, digest) !== digest) throw new RegistryV2Error(`GET ${path}: the content does not match its digest`, { retryable: false });
      const contentType = response.headers.get('content-type') ?? undefined;
      return contentType ? { body, contentType } : { body };
    }
  }

  return {
    async manifest(repository, digest, accept, signal) {
      const { body, contentType } = await get(`/v2/${repository}/manifests/${digest}`, digest, accept, signal);
      return contentType ? { body, mediaType: contentType } : { body };
    },
    async blob(repository, digest, signal) {
      return (await get(`/v2/${repository}/blobs/${digest}`, digest, undefined, signal)).body;
    },
  };
}

function digestOf(body: Buffer, expected: string): string {
  const algorithm = expected.split(':')[0] === 'sha512' ? 'sha512' : 'sha256';
  return `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`;
}

async function readLimited(response: Response, maxBytes: number, path: string): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel();
    throw new RegistryV2Error(`GET ${path}: ${declared} bytes is more than the ${maxBytes} allowed`, { retryable: false });
  }
  if (!response.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new RegistryV2Error(`GET ${path}: the body is more than the ${maxBytes} bytes allowed`, { retryable: false });
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

function explain(status: number): string {
  if (status === 401) return ' (the registry refused the pull secret token)';
  if (status === 403) return ' (the pull secret token may not read this repository)';
  if (status === 404) return ' (not found in the registry)';
  return '';
}

/** The network error code under fetch's generic "fetch failed", without any URL or header. */
function networkCause(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if ((error as { name?: unknown } | null)?.name === 'TimeoutError') return 'timed out';
  return error instanceof Error ? error.message : String(error);
}
