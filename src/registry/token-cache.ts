import { type AwsCredentialSet, credentialFingerprint } from '../aws/credential-set.ts';
import type { EcrAuthorization, EcrTokenSource } from '../aws/ecr-token.ts';

interface Entry {
  token?: EcrAuthorization;
  inFlight?: Promise<EcrAuthorization>;
  /** `until` is on the monotonic clock: it measures a duration, which a step of the wall clock must not stretch. */
  failure?: { error: unknown; until: number };
}

/**
 * What get() throws while the credential set's last call's failure is still being shared: nothing was
 * tried. `cause` is that call's error; after `remainingMs` get() calls ECR again.
 */
export class SharedFailureError extends Error {
  readonly remainingMs: number;

  constructor(cause: unknown, remainingMs: number) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = 'SharedFailureError';
    this.remainingMs = remainingMs;
  }
}

/**
 * One GetAuthorizationToken call per credential set per refresh: registries that share keys, role
 * and region share the token. Concurrent callers share one in-flight call, and a failure is shared
 * for a short while so that N registries on one bad key make one call, not N.
 */
export class SharedTokenCache {
  readonly #source: EcrTokenSource;
  readonly #now: () => number;
  readonly #monotonicNow: () => number;
  readonly #failureTtlMs: number;
  readonly #entries = new Map<string, Entry>();
  /** Monotonic time of the next sweep for expired entries. */
  #nextSweepAt = Number.NEGATIVE_INFINITY;

  /**
   * `now` (the wall clock) judges token expiry, as ECR states it; `monotonicNow` (default: `now`)
   * times how long a failure is shared.
   */
  constructor(options: { source: EcrTokenSource; now?: () => number; monotonicNow?: () => number; failureTtlMs?: number }) {
    this.#source = options.source;
    this.#now = options.now ?? Date.now;
    this.#monotonicNow = options.monotonicNow ?? this.#now;
    this.#failureTtlMs = options.failureTtlMs ?? 5_000;
  }

  /**
   * A token for the set that `isFresh` accepts: the cached one if it is, otherwise a new one.
   * `isFresh` is the caller's own refresh policy, so each registry keeps its own schedule.
   */
  async get(set: AwsCredentialSet, isFresh: (token: EcrAuthorization) => boolean): Promise<EcrAuthorization> {
    this.#sweepWhenDue();
    const key = credentialFingerprint(set);
    const entry = this.#entries.get(key) ?? {};
    this.#entries.set(key, entry);
    if (entry.token && this.#unexpired(entry.token) && isFresh(entry.token)) return entry.token;
    if (entry.inFlight) return entry.inFlight;
    const sharedForMs = entry.failure ? entry.failure.until - this.#monotonicNow() : 0;
    if (entry.failure && sharedForMs > 0) throw new SharedFailureError(entry.failure.error, sharedForMs);
    const call = this.#source.getAuthorizationToken(set);
    entry.inFlight = call;
    try {
      const token = await call;
      entry.token = token;
      entry.failure = undefined;
      return token;
    } catch (error) {
      entry.failure = { error, until: this.#monotonicNow() + this.#failureTtlMs };
      throw error;
    } finally {
      entry.inFlight = undefined;
    }
  }

  /** The cached token for the set if `isFresh` accepts it, without calling ECR. */
  peek(set: AwsCredentialSet, isFresh: (token: EcrAuthorization) => boolean): EcrAuthorization | undefined {
    const token = this.#entries.get(credentialFingerprint(set))?.token;
    return token && this.#unexpired(token) && isFresh(token) ? token : undefined;
  }

  /** How many credential sets hold a token or a call; for metrics and tests. */
  get size(): number {
    return this.#entries.size;
  }

  #unexpired(token: EcrAuthorization): boolean {
    return token.expiresAt.getTime() > this.#now();
  }

  /**
   * Drops the credential sets whose token has expired and whose failure has run out, at most once per
   * failure TTL: a sweep reads every entry, and at one per get() 10,000 registries over 1,000 credential
   * sets made ten million reads in a cold start. An expired entry therefore outlives its expiry by at most
   * one TTL; get() and peek() judge expiry themselves, so it is never served.
   */
  #sweepWhenDue(): void {
    const monotonicNow = this.#monotonicNow();
    if (monotonicNow < this.#nextSweepAt) return;
    this.#nextSweepAt = monotonicNow + this.#failureTtlMs;
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      const tokenGone = !entry.token || entry.token.expiresAt.getTime() <= now;
      const failureGone = !entry.failure || entry.failure.until <= monotonicNow;
      if (tokenGone && failureGone && !entry.inFlight) this.#entries.delete(key);
    }
  }
}
