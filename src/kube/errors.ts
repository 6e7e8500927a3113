import { ApiException } from './client-node.ts';

/** The HTTP status of a Kubernetes API error (ApiException's `code`, a failed watch's `statusCode`), or undefined. */
export function apiStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

/** The longest wait a Retry-After may impose, so a wrong header cannot park a key for long. */
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * How long the apiserver asked the client to wait before trying again, in ms (0: it did not say):
 * the Retry-After header (whole seconds) of a 429 or 5xx answer, else its Status's
 * details.retryAfterSeconds, as client-go reads them. Looks through `cause`s.
 */
export function retryAfterMs(error: unknown): number {
  let current = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = apiStatus(current);
    if (code === 429 || (code !== undefined && code >= 500 && code < 600)) {
      const { headers, body } = current as { headers?: Record<string, string | undefined>; body?: unknown };
      const header = Number(headers?.['retry-after'] ?? headers?.['Retry-After']);
      const seconds = Number.isInteger(header) && header > 0 ? header : (statusBody(body)?.details?.retryAfterSeconds ?? 0);
      if (Number.isFinite(seconds) && seconds > 0) return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
    }
    current = (current as { cause?: unknown }).cause;
  }
  return 0;
}

export const isNotFound = (error: unknown): boolean => apiStatus(error) === 404;
export const isConflict = (error: unknown): boolean => apiStatus(error) === 409;

/**
 * A JSON patch whose `test` op failed: the object changed since it was read. The apiserver answers
 * 422 for it, like a truly invalid patch; this is the routine stale-read race, so it is re-thrown
 * as a conflict (409) that callers retry quietly, as they do a resourceVersion conflict.
 */
export class PatchTestFailedError extends Error {
  readonly code = 409;
}

export function isPatchTestFailure(error: unknown): boolean {
  if (apiStatus(error) !== 422 || !(error instanceof ApiException)) return false;
  const status = statusBody(error.body);
  // The apiserver reports a JSON patch it could not apply (a failed test, a path that moved) with this
  // generic message and no field causes; validation failures name their fields in details.causes.
  return status?.reason === 'Invalid' && status.message === 'the server rejected our request due to an error in our request' && !status.details?.causes;
}

interface ApiStatusBody {
  reason?: string;
  message?: string;
  details?: { causes?: unknown[]; retryAfterSeconds?: number };
}

/** An error body as client-node hands it over: the Status object, or its JSON text. */
function statusBody(body: unknown): ApiStatusBody | undefined {
  if (typeof body === 'string') {
    try {
      return statusBody(JSON.parse(body));
    } catch {
      return undefined;
    }
  }
  return typeof body === 'object' && body !== null ? (body as ApiStatusBody) : undefined;
}

/** A short description of an API error for logs and conditions; never includes request bodies. */
export function describeApiError(error: unknown): string {
  if (error instanceof ApiException) {
    const message = statusBody(error.body)?.message;
    const detail = typeof message === 'string' ? message : '';
    return `Kubernetes API returned ${error.code}${detail ? `: ${detail}` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}
