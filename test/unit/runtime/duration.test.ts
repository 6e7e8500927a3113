import { expect } from 'chai';
import { parseDuration } from '../../../src/runtime/duration.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

describe('parseDuration', () => {
  const valid: Array<[string, number]> = [
    ['1h30m', 90 * MINUTE],
    ['90s', 90 * SECOND],
    ['250ms', 250],
    ['1.5h', 90 * MINUTE],
    ['30m', 30 * MINUTE],
    ['2h45m30s', 2 * HOUR + 45 * MINUTE + 30 * SECOND],
    ['1m30s', 90 * SECOND],
    ['0s', 0],
    ['1500us', 1.5],
    ['1500µs', 1.5],
    ['2000000ns', 2],
  ];
  for (const [text, ms] of valid) {
    it(`reads ${JSON.stringify(text)} as ${ms} ms`, () => {
      expect(parseDuration(text)).to.equal(ms);
    });
  }

  const invalid = ['10 minutes', '', '5', 'h', '1h ', ' 1h', '1d', '-5s', '1h-30m', '1..5h', 'ms'];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      expect(parseDuration(text)).to.equal(undefined);
    });
  }
});
