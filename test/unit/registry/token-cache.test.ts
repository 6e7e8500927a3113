import { expect } from 'chai';
import type { AwsCredentialSet, KeysCredentialSet } from '../../../src/aws/credential-set.ts';
import type { EcrAuthorization, EcrTokenSource } from '../../../src/aws/ecr-token.ts';
import { SharedFailureError, SharedTokenCache } from '../../../src/registry/token-cache.ts';

const HOUR = 3_600_000;
const START = Date.UTC(2025, 0, 1);

const KEYS: AwsCredentialSet = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  region: 'us-east-1',
};
const ROTATED_KEYS: AwsCredentialSet = { ...KEYS, secretAccessKey: 'je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY' };

const always = () => true;
const never = () => false;

interface PendingCall {
  set: AwsCredentialSet;
  resolve(token: EcrAuthorization): void;
  reject(error: unknown): void;
}

/** A token source whose calls stay pending until the test settles them, and which counts them. */
class ControlledTokenSource implements EcrTokenSource {
  readonly calls: PendingCall[] = [];

  getAuthorizationToken(set: AwsCredentialSet): Promise<EcrAuthorization> {
    return new Promise((resolve, reject) => this.calls.push({ set, resolve, reject }));
  }

  last(): PendingCall {
    return this.calls[this.calls.length - 1]!;
  }
}

/** A token source that answers at once, minting a new password on every call. */
class CountingTokenSource implements EcrTokenSource {
  calls = 0;
  failWith: unknown = undefined;
  readonly #now: () => number;
  readonly #lifetimeMs: number;

  constructor(now: () => number, lifetimeMs = 12 * HOUR) {
    this.#now = now;
    this.#lifetimeMs = lifetimeMs;
  }

  async getAuthorizationToken(): Promise<EcrAuthorization> {
    this.calls++;
    if (this.failWith !== undefined) throw this.failWith;
    return token(this.#now(), this.#lifetimeMs, `password-${this.calls}`);
  }
}

function token(issuedMs: number, lifetimeMs: number, password: string): EcrAuthorization {
  return { username: 'AWS', password, issuedAt: new Date(issuedMs), expiresAt: new Date(issuedMs + lifetimeMs) };
}

describe('SharedTokenCache', () => {
  let nowMs: number;
  const now = () => nowMs;

  beforeEach(() => {
    nowMs = START;
  });

  it('makes one ECR call for concurrent requests with the same credentials', async () => {
    const source = new ControlledTokenSource();
    const cache = new SharedTokenCache({ source, now });
    const requests = Array.from({ length: 5 }, () => cache.get({ ...KEYS }, never));
    expect(source.calls).to.have.length(1);

    const minted = token(START, 12 * HOUR, 'shared');
    source.last().resolve(minted);
    const tokens = await Promise.all(requests);
    expect(tokens.every((t) => t === minted)).to.equal(true);
    expect(source.calls).to.have.length(1);
  });

  it('reuses the cached token while the caller considers it fresh', async () => {
    const source = new CountingTokenSource(now);
    const cache = new SharedTokenCache({ source, now });
    const first = await cache.get(KEYS, never);
    nowMs += HOUR;
    const second = await cache.get(KEYS, always);
    expect(second).to.equal(first);
    expect(source.calls).to.equal(1);
  });

  it('hands the cached token to the freshness check', async () => {
    const source = new CountingTokenSource(now);
    const cache = new SharedTokenCache({ source, now });
    const first = await cache.get(KEYS, never);
    const seen: EcrAuthorization[] = [];
    await cache.get(KEYS, (t) => {
      seen.push(t);
      return true;
    });
    expect(seen).to.deep.equal([first]);
  });

  it('fetches a new token when the cached one is no longer fresh', async () => {
    const source = new CountingTokenSource(now);
    const cache = new SharedTokenCache({ source, now });
    const first = await cache.get(KEYS, never);
    nowMs += 7 * HOUR;
    const second = await cache.get(KEYS, (t) => t.issuedAt.getTime() + 6 * HOUR > nowMs);
    expect(source.calls).to.equal(2);
    expect(second.password).to.equal('password-2');
    expect(second.password).to.not.equal(first.password);
    expect(await cache.get(KEYS, always)).to.equal(second);
  });

  it('makes separate calls for credential sets that differ only in the secret key', async () => {
    const source = new ControlledTokenSource();
    const cache = new SharedTokenCache({ source, now });
    const withOld = cache.get(KEYS, never);
    const withNew = cache.get(ROTATED_KEYS, never);
    expect(source.calls.map((c) => (c.set as KeysCredentialSet).secretAccessKey)).to.deep.equal([KEYS.secretAccessKey, ROTATED_KEYS.secretAccessKey]);
    source.calls[0]!.resolve(token(START, 12 * HOUR, 'old'));
    source.calls[1]!.resolve(token(START, 12 * HOUR, 'new'));
    expect((await withOld).password).to.equal('old');
    expect((await withNew).password).to.equal('new');
    expect(cache.size).to.equal(2);
  });

  it('makes separate calls for different regions', async () => {
    const source = new CountingTokenSource(now);
    const cache = new SharedTokenCache({ source, now });
    await cache.get(KEYS, never);
    await cache.get({ ...KEYS, region: 'eu-west-1' }, never);
    expect(source.calls).to.equal(2);
  });

  it('shares one failure with every caller that was waiting on the call', async () => {
    const source = new ControlledTokenSource();
    const cache = new SharedTokenCache({ source, now });
    const requests = Array.from({ length: 3 }, () => cache.get(KEYS, never));
    const denied = Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' });
    source.last().reject(denied);
    const outcomes = await Promise.allSettled(requests);
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason : o.status))).to.deep.equal([denied, denied, denied]);
    expect(source.calls).to.have.length(1);
  });

  it('shares a failure for failureTtlMs without calling again, then retries', async () => {
    const source = new CountingTokenSource(now);
    const cache = new SharedTokenCache({ source, now, failureTtlMs: 5_000 });
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    source.failWith = throttled;

    let caught: unknown;
    await cache.get(KEYS, never).catch((error: unknown) => {
      caught = error;
    });
    expect(caught).to.equal(throttled);
    expect(source.calls).to.equal(1);

    nowMs += 4_999;
    caught = undefined;
    await cache.get(KEYS, never).catch((error: unknown) => {
      caught = error;
    });
    // Nothing was tried: the caller learns the failure and how long it is still shared.
    expect(caught, 'the shared failure').to.be.instanceOf(SharedFailureError);
    expect((caught as SharedFailureError).cause).to.equal(throttled);
    expect((caught as SharedFailureError).remainingMs).to.equal(1);
    expect(source.calls).to.equal(1);

    source.failWith = undefined;
    nowMs += 1;
    const recovered = await cache.get(KEYS, never);
    expect(source.calls).to.equal(2);
    expect(recovered.password).to.equal('password-2');
  });

  // Issue 14's clock fault: the failure TTL is a duration; a wall clock stepped back must not stretch it.
  it('shares a failure for failureTtlMs of monotonic time, whatever the wall clock does', async () => {
    let monotonicMs = 0;
    const source = new CountingTokenSource(now);
    const cache = new SharedTokenCache({ source, now, monotonicNow: () => monotonicMs, failureTtlMs: 5_000 });
    source.failWith = new Error('ECR is down');
    await cache.get(KEYS, never).catch(() => undefined);
    expect(source.calls).to.equal(1);

    source.failWith = undefined;
    nowMs -= 10 * 60_000;
    monotonicMs += 5_000;
    const recovered = await cache.get(KEYS, never);
    expect(source.calls, 'called again after 5 s, not 10 minutes and 5 s').to.equal(2);
    expect(recovered.password).to.equal('password-2');
  });

  it('still serves a token the caller finds fresh while a failure is being shared', async () => {
    const source = new CountingTokenSource(now);
    const cache = new SharedTokenCache({ source, now, failureTtlMs: 5_000 });
    const good = await cache.get(KEYS, never);
    source.failWith = new Error('ECR is down');
    await cache.get(KEYS, never).catch(() => undefined);
    expect(await cache.get(KEYS, always)).to.equal(good);
    expect(source.calls).to.equal(2);
  });

  it('evicts a credential set once its token has expired', async () => {
    const source = new CountingTokenSource(now, HOUR);
    const cache = new SharedTokenCache({ source, now });
    await cache.get(KEYS, never);
    nowMs += 30 * 60_000;
    await cache.get(ROTATED_KEYS, never);
    expect(cache.size).to.equal(2);

    nowMs = START + HOUR;
    await cache.get(ROTATED_KEYS, always);
    expect(cache.size, 'only the rotated keys remain').to.equal(1);

    nowMs = START + 2 * HOUR;
    const renewed = await cache.get(ROTATED_KEYS, always);
    expect(renewed.password, 'an expired token is never served, even to a lenient caller').to.equal('password-3');
    expect(cache.size).to.equal(1);
  });

  it('evicts a failed credential set once its failure has run out', async () => {
    const source = new CountingTokenSource(now);
    const cache = new SharedTokenCache({ source, now, failureTtlMs: 5_000 });
    source.failWith = new Error('bad keys');
    await cache.get(KEYS, never).catch(() => undefined);
    expect(cache.size).to.equal(1);

    source.failWith = undefined;
    nowMs += 5_000;
    await cache.get(ROTATED_KEYS, never);
    expect(cache.size).to.equal(1);
  });

  it('reads the cached entries a bounded number of times, not all of them on every get', async () => {
    // A token whose expiry counts its reads: a sweep on every get() read every entry, 1,000 × 1,000 times here.
    let expiryReads = 0;
    class CountedDate extends Date {
      override getTime(): number {
        expiryReads++;
        return super.getTime();
      }
    }
    const source: EcrTokenSource = {
      getAuthorizationToken: async () => ({ username: 'AWS', password: 'p', issuedAt: new Date(nowMs), expiresAt: new CountedDate(nowMs + 12 * HOUR) }),
    };
    const cache = new SharedTokenCache({ source, now });
    const sets = Array.from({ length: 1000 }, (_, i) => ({ ...KEYS, accessKeyId: `AKIA${String(i).padStart(16, '0')}` }));
    for (const set of sets) await cache.get(set, never);
    expiryReads = 0;
    for (const set of sets) await cache.get(set, always);
    expect(cache.size).to.equal(1000);
    expect(expiryReads, 'one read of its own entry per get').to.equal(1000);

    nowMs += 13 * HOUR;
    expiryReads = 0;
    for (const set of sets.slice(0, 10)) await cache.get(set, always);
    expect(cache.size, 'the first get after expiry swept the expired sets; the next ones added theirs again').to.equal(10);
    expect(expiryReads).to.be.below(1100);
  });

  it('keeps a credential set whose call is still in flight', async () => {
    const source = new ControlledTokenSource();
    const cache = new SharedTokenCache({ source, now });
    const pending = cache.get(KEYS, never);
    nowMs += 24 * HOUR;
    const other = cache.get(ROTATED_KEYS, never);
    expect(cache.size).to.equal(2);
    source.calls[0]!.resolve(token(nowMs, 12 * HOUR, 'late'));
    source.calls[1]!.resolve(token(nowMs, 12 * HOUR, 'other'));
    expect((await pending).password).to.equal('late');
    expect((await other).password).to.equal('other');
  });

  it('peeks at a cached token the caller finds fresh, without calling ECR', async () => {
    const source = new CountingTokenSource(now, HOUR);
    const cache = new SharedTokenCache({ source, now });
    expect(cache.peek(KEYS, always), 'nothing cached yet').to.equal(undefined);
    const first = await cache.get(KEYS, never);
    expect(cache.peek({ ...KEYS }, always)).to.equal(first);
    expect(cache.peek(KEYS, never), 'the caller decides freshness').to.equal(undefined);
    expect(cache.peek(ROTATED_KEYS, always), 'other keys have their own token').to.equal(undefined);
    nowMs += HOUR;
    expect(cache.peek(KEYS, always), 'an expired token is never handed out').to.equal(undefined);
    expect(source.calls).to.equal(1);
  });
});
