/** Decides how long a key waits before its next retry (after client-go's workqueue rate limiters). */
export interface RateLimiter {
  /** Delay in ms before the key's next attempt; counts one more failure for the key. */
  when(key: string): number;
  /** Resets the key's failure count, typically after a success. */
  forget(key: string): void;
  /** Failures counted for the key since it was last forgotten. */
  retries(key: string): number;
}

export interface ExponentialBackoffOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Fraction (0..1) by which a delay may be randomly shortened, so retries of many keys spread out. */
  jitter?: number;
  /** Returns a number in [0, 1); injectable for deterministic tests. */
  random?: () => number;
}

/** Per-key exponential backoff: base · 2^failures, capped at maxDelayMs, minus up to `jitter` of it. */
export class ExponentialBackoffRateLimiter implements RateLimiter {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private readonly failures = new Map<string, number>();

  constructor(options: ExponentialBackoffOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 300_000;
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.1));
    this.random = options.random ?? Math.random;
    if (!(this.baseDelayMs >= 0) || !(this.maxDelayMs >= this.baseDelayMs)) {
      throw new Error(`invalid backoff: baseDelayMs=${this.baseDelayMs} maxDelayMs=${this.maxDelayMs}`);
    }
  }

  when(key: string): number {
    const failures = this.failures.get(key) ?? 0;
    this.failures.set(key, failures + 1);
    // 2 ** failures reaches Infinity for large counts; Math.min caps it before it matters.
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** failures);
    // Jitter only shortens the delay, so the cap is never exceeded.
    return Math.round(delay * (1 - this.jitter * this.random()));
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}
