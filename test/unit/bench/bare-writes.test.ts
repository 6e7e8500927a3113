import { expect } from 'chai';
import { fastestRun, passSeconds } from '../../bench/bare-writes.ts';

describe('bench bare passes', () => {
  const pass = (ms: number) => ({ ms, cpuSeconds: { apiServer: ms / 1000 } });

  it('takes the fastest pass, with its own CPU figures', () => {
    const runs = [pass(45_360), pass(67_460), pass(68_720)];
    expect(fastestRun(runs)).to.equal(runs[0]);
    expect(fastestRun([pass(8000), pass(5200), pass(6100)]).cpuSeconds).to.deep.equal({ apiServer: 5.2 });
  });

  it('takes the only pass of one', () => {
    expect(fastestRun([pass(7)]).ms).to.equal(7);
  });

  it('refuses an empty list rather than inventing a denominator', () => {
    expect(() => fastestRun([])).to.throw('no bare pass ran');
  });

  it('lists each pass in seconds, in the order they ran', () => {
    expect(passSeconds({ runs: [pass(5234), pass(6001)] })).to.deep.equal([5.23, 6]);
  });
});
