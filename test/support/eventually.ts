import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What was being waited for; heads the timeout error. */
  message?: string;
}

/**
 * Calls `fn` until it stops throwing (an assertion that holds, a read that succeeds) and returns its
 * result. After `timeoutMs` it throws an error that says what was awaited and carries the last
 * failure, so a test waits for a state instead of sleeping.
 */
export async function eventually<T>(fn: () => Promise<T> | T, options: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 100;
  const started = Date.now();
  let attempts = 0;
  for (;;) {
    attempts += 1;
    try {
      return await fn();
    } catch (error) {
      const elapsed = Date.now() - started;
      if (elapsed + intervalMs > timeoutMs) {
        const what = options.message ?? 'condition';
        const last = error instanceof Error ? error.message : String(error);
        throw new Error(`${what}: still failing after ${elapsed} ms (${attempts} attempts); last error: ${last}`, {
          cause: error,
        });
      }
    }
    await sleep(intervalMs);
  }
}
