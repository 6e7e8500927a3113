import { expect } from 'chai';
import { ExponentialBackoffRateLimiter } from '../../../src/runtime/rate-limiter.ts';

describe('ExponentialBackoffRateLimiter', () => {
  it('doubles the delay with each failure of a key, up to the cap', () => {
    const limiter = new ExponentialBackoffRateLimiter({ baseDelayMs: 100, maxDelayMs: 1000, jitter: 0 });
    const delays = Array.from({ length: 7 }, () => limiter.when('ns/a'));
    expect(delays).to.deep.equal([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(limiter.retries('ns/a')).to.equal(7);
  });

  it('counts failures per key', () => {
    const limiter = new ExponentialBackoffRateLimiter({ jitter: 0 });
    limiter.when('ns/a');
    limiter.when('ns/a');
    expect(limiter.when('ns/b')).to.equal(100);
    expect(limiter.retries('ns/a')).to.equal(2);
    expect(limiter.retries('ns/b')).to.equal(1);
  });

  it('starts over after forget', () => {
    const limiter = new ExponentialBackoffRateLimiter({ jitter: 0 });
    limiter.when('ns/a');
    limiter.when('ns/a');
    limiter.forget('ns/a');
    expect(limiter.retries('ns/a')).to.equal(0);
    expect(limiter.when('ns/a')).to.equal(100);
  });

  it('shortens delays by at most the jitter fraction and never exceeds the cap', () => {
    const limiter = new ExponentialBackoffRateLimiter({ baseDelayMs: 100, maxDelayMs: 300_000, jitter: 0.1, random: () => 0.999 });
    expect(limiter.when('k')).to.be.within(90, 100);
    for (let i = 0; i < 100; i++) expect(limiter.when('k')).to.be.at.most(300_000);
    expect(limiter.when('k')).to.be.within(270_000, 300_000);
  });

  it('defaults to 100 ms base and a 5 minute cap', () => {
    const limiter = new ExponentialBackoffRateLimiter({ random: () => 0 });
    expect(limiter.when('k')).to.equal(100);
    for (let i = 0; i < 30; i++) limiter.when('k');
    expect(limiter.when('k')).to.equal(300_000);
  });
});
