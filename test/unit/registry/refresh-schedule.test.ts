import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { parseDuration } from '../../../src/runtime/duration.ts';
import { refreshTime, type TokenLifetime } from '../../../src/registry/refresh-schedule.ts';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const ISSUED = Date.UTC(2025, 0, 1, 8, 0, 0);

function token(lifetimeMs: number, issuedMs = ISSUED): TokenLifetime {
  return { issuedAt: new Date(issuedMs), expiresAt: new Date(issuedMs + lifetimeMs) };
}

/** Milliseconds after issue at which the token is refreshed. */
function refreshAge(lifetime: TokenLifetime, policy: Parameters<typeof refreshTime>[1], seed: string): number {
  return refreshTime(lifetime, policy, seed).getTime() - lifetime.issuedAt.getTime();
}

const SEEDS = Array.from({ length: 200 }, (_, i) => `4f0c2a9e-uid-${i}`);

describe('refreshTime', () => {
  describe('by default', () => {
    it('refreshes at exactly half the real lifetime of a 12 h token when jitter is off', () => {
      expect(refreshAge(token(12 * HOUR), { jitterFraction: 0 }, 'uid-a')).to.equal(6 * HOUR);
    });

    it('refreshes at exactly half the real lifetime of a 5 s token when jitter is off', () => {
      expect(refreshAge(token(5 * SECOND), { jitterFraction: 0 }, 'uid-a')).to.equal(2_500);
    });

    it('takes the lifetime from issuedAt and expiresAt, not from a fixed 12 hours', () => {
      const issued = Date.UTC(2025, 5, 30, 23, 59, 59);
      const refresh = refreshTime(token(HOUR, issued), { jitterFraction: 0 }, 'uid-a');
      expect(refresh.toISOString()).to.equal(new Date(issued + 30 * MINUTE).toISOString());
    });

    it('refreshes a 12 h token at half its lifetime within ±5 % of the lifetime', () => {
      for (const seed of SEEDS) {
        const age = refreshAge(token(12 * HOUR), {}, seed);
        expect(age, seed).to.be.within(6 * HOUR - 36 * MINUTE, 6 * HOUR + 36 * MINUTE);
      }
    });

    it('refreshes a 5 s token at half its lifetime within ±5 % of the lifetime', () => {
      for (const seed of SEEDS) {
        const age = refreshAge(token(5 * SECOND), {}, seed);
        expect(age, seed).to.be.within(2_250, 2_750);
      }
    });

    it('spreads registries on both sides of half-life', () => {
      const ages = SEEDS.map((seed) => refreshAge(token(12 * HOUR), {}, seed));
      expect(ages.filter((age) => age < 6 * HOUR)).to.have.length.above(50);
      expect(ages.filter((age) => age > 6 * HOUR)).to.have.length.above(50);
    });

    it('honours a custom jitter fraction', () => {
      for (const seed of SEEDS) {
        expect(refreshAge(token(10 * HOUR), { jitterFraction: 0.2 }, seed), seed).to.be.within(3 * HOUR, 7 * HOUR);
      }
    });
  });

  describe('jitter', () => {
    it('gives the same time for the same seed, so reconciles do not churn status', () => {
      const lifetime = token(12 * HOUR);
      const first = refreshTime(lifetime, {}, 'c0ffee-uid');
      const again = refreshTime({ issuedAt: new Date(lifetime.issuedAt), expiresAt: new Date(lifetime.expiresAt) }, {}, 'c0ffee-uid');
      expect(again.getTime()).to.equal(first.getTime());
    });

    it('differs across seeds', () => {
      const times = new Set(SEEDS.map((seed) => refreshTime(token(12 * HOUR), {}, seed).getTime()));
      expect(times.size).to.be.above(190);
    });
  });

  describe('with refreshBefore', () => {
    it('refreshes exactly refreshBefore ahead of expiry when jitter is off', () => {
      const lifetime = token(12 * HOUR);
      const refresh = refreshTime(lifetime, { refreshBeforeMs: 2 * HOUR, jitterFraction: 0 }, 'uid-a');
      expect(refresh.getTime()).to.equal(lifetime.expiresAt.getTime() - 2 * HOUR);
    });

    it('only ever moves the refresh earlier than refreshBefore, never later', () => {
      const lifetime = token(12 * HOUR);
      for (const seed of SEEDS) {
        const beforeExpiry = lifetime.expiresAt.getTime() - refreshTime(lifetime, { refreshBeforeMs: 2 * HOUR }, seed).getTime();
        expect(beforeExpiry, seed).to.be.within(2 * HOUR, 2 * HOUR + 36 * MINUTE);
      }
    });

    it('never refreshes before 10 % of the lifetime when refreshBefore is longer than the lifetime', () => {
      for (const seed of SEEDS.slice(0, 20)) {
        expect(refreshAge(token(12 * HOUR), { refreshBeforeMs: 24 * HOUR }, seed), seed).to.equal(1.2 * HOUR);
        expect(refreshAge(token(5 * SECOND), { refreshBeforeMs: HOUR }, seed), seed).to.equal(500);
      }
    });

    it('honours every refreshBefore the CRD admits for a 12 h ECR token, on every seed (the range and the behaviour agree)', () => {
      const crd = readFileSync(new URL('../../../crds/ecr.pullsecrets.io_ecrregistries.yaml', import.meta.url), 'utf8');
      const bounds = /duration\(self\) >= duration\('([^']+)'\) && duration\(self\) <= duration\('([^']+)'\)/.exec(crd);
      expect(bounds, 'the CRD bounds refreshBefore with a CEL duration rule').to.not.equal(null);
      const lifetime = token(12 * HOUR);
      for (const refreshBeforeMs of [parseDuration(bounds![1]!)!, 6 * HOUR, parseDuration(bounds![2]!)!]) {
        for (const seed of SEEDS) {
          const beforeExpiry = lifetime.expiresAt.getTime() - refreshTime(lifetime, { refreshBeforeMs }, seed).getTime();
          expect(beforeExpiry, `${refreshBeforeMs} ms, ${seed}`).to.be.within(refreshBeforeMs, refreshBeforeMs + 36 * MINUTE);
        }
      }
    });

    it('never refreshes before 10 % of the lifetime when refreshBefore equals the lifetime', () => {
      expect(refreshAge(token(12 * HOUR), { refreshBeforeMs: 12 * HOUR }, 'uid-a')).to.equal(1.2 * HOUR);
    });
  });
});
