import { ApiException } from '@kubernetes/client-node';

/** The HTTP status of a client-node ApiException, or undefined for any other error. */
export function apiStatusCode(error: unknown): number | undefined {
  return error instanceof ApiException ? error.code : undefined;
}

/** The apiserver's own message (a Status object's `message`) carried by a client-node ApiException. */
export function apiErrorMessage(error: unknown): string | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const body: unknown = error.body;
  if (typeof body !== 'string') return undefined;
  try {
    const status = JSON.parse(body) as { message?: unknown };
    return typeof status.message === 'string' ? status.message : body;
  } catch {
    return body;
  }
}

/** `<code>: <message>` for an ApiException, else the error's message; for wrapping in other errors. */
export function describeApiError(error: unknown): string {
  if (error instanceof ApiException) return `${error.code}: ${apiErrorMessage(error) ?? 'no message'}`;
  return error instanceof Error ? error.message : String(error);
}
