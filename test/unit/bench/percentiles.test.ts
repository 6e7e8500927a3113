import { expect } from 'chai';
import { latencyFigures, percentile } from '../../bench/percentiles.ts';

describe('bench percentiles', () => {
  it('takes the nearest rank, whatever the order of the samples', () => {
    const values = [50, 10, 40, 20, 30];
    expect(percentile(values, 50)).to.equal(30);
    expect(percentile(values, 20)).to.equal(10);
    expect(percentile(values, 21)).to.equal(20);
    expect(percentile(values, 100)).to.equal(50);
  });

  it('makes p99 of 50 samples the largest, and of 200 samples the second largest', () => {
    const fifty = Array.from({ length: 50 }, (_, i) => i + 1);
    expect(percentile(fifty, 99)).to.equal(50);
    const twoHundred = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(twoHundred, 99)).to.equal(198);
    expect(percentile(twoHundred, 50)).to.equal(100);
  });

  it('answers NaN for no samples rather than a number that looks measured', () => {
    expect(percentile([], 50)).to.be.NaN;
    const figures = latencyFigures([]);
    expect(figures.count).to.equal(0);
    expect(figures.p99Ms).to.be.NaN;
    expect(figures.maxMs).to.be.NaN;
  });

  it('reports p50, p90, p99, max and mean to a tenth of a millisecond', () => {
    const figures = latencyFigures([12.34, 100, 7.01, 40]);
    expect(figures).to.deep.equal({ count: 4, p50Ms: 12.3, p90Ms: 100, p99Ms: 100, maxMs: 100, meanMs: 39.8 });
  });
});
