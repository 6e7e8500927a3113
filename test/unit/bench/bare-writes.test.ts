import { expect } from 'chai';
import { medianRun, passSeconds } from '../../bench/bare-writes.ts';

describe('bench bare passes', () => {
  const pass = (ms: number) => ({ ms, cpuSeconds: { apiServer: ms / 1000 } });

  it('takes the median pass by time, with its own CPU figures', () => {
    const runs = [pass(8000), pass(5200), pass(6100)];
    expect(medianRun(runs)).to.equal(runs[2]);
  });

  it('takes the lower middle pass of an even count, and the only pass of one', () => {
    expect(medianRun([pass(4), pass(3), pass(1), pass(2)]).ms).to.equal(2);
    expect(medianRun([pass(7)]).ms).to.equal(7);
  });

  it('refuses an empty list rather than inventing a denominator', () => {
    expect(() => medianRun([])).to.throw('no bare pass ran');
  });

  it('lists each pass in seconds, in the order they ran', () => {
    expect(passSeconds({ runs: [pass(5234), pass(6001)] })).to.deep.equal([5.23, 6]);
  });
});
