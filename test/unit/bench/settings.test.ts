import { expect } from 'chai';
import { ALL_SCENARIOS, BenchSettingsError, readBenchSettings } from '../../bench/settings.ts';

describe('bench settings', () => {
  it('runs every scenario, no peer, 50 latency registries and a 1,000-registry rotation by default', () => {
    const settings = readBenchSettings([], {});
    expect([...settings.scenarios]).to.deep.equal([...ALL_SCENARIOS]);
    expect(settings.scenarios.has('latency')).to.equal(true);
    expect(settings.peers.size).to.equal(0);
    expect(settings.latencyRegistries).to.equal(50);
    expect(settings.rotationRegistries).to.equal(1000);
  });

  it('reads peers from BENCH_PEERS, and --peers wins', () => {
    expect([...readBenchSettings([], { BENCH_PEERS: 'eso' }).peers]).to.deep.equal(['eso']);
    expect([...readBenchSettings(['--peers='], { BENCH_PEERS: 'eso' }).peers]).to.deep.equal([]);
    expect(readBenchSettings(['--latency-registries=5'], { BENCH_LATENCY_REGISTRIES: '9' }).latencyRegistries).to.equal(5);
  });

  it('refuses an unknown peer, naming the known ones', () => {
    expect(() => readBenchSettings([], { BENCH_PEERS: 'eso,vault' })).to.throw(BenchSettingsError, /unknown peer vault; known: eso/);
  });

  it('runs no scenario of its own with none, so peers can run alone', () => {
    const settings = readBenchSettings(['--scenarios=none', '--peers=eso'], {});
    expect(settings.scenarios.size).to.equal(0);
    expect([...settings.peers]).to.deep.equal(['eso']);
  });

  it('times each bare loop three times by default, at least once', () => {
    expect(readBenchSettings([], {}).barePasses).to.equal(3);
    expect(readBenchSettings(['--bare-passes=5'], { BENCH_BARE_PASSES: '1' }).barePasses).to.equal(5);
    expect(() => readBenchSettings([], { BENCH_BARE_PASSES: '0' })).to.throw(BenchSettingsError, /--bare-passes \(BENCH_BARE_PASSES\) must be a whole number ≥ 1/);
  });

  it('cold-starts the operator three times by default, at least once', () => {
    expect(readBenchSettings([], {}).coldStarts).to.equal(3);
    expect(readBenchSettings(['--cold-starts=1'], { BENCH_COLD_STARTS: '5' }).coldStarts).to.equal(1);
    expect(() => readBenchSettings([], { BENCH_COLD_STARTS: '0' })).to.throw(BenchSettingsError, /--cold-starts \(BENCH_COLD_STARTS\) must be a whole number ≥ 1/);
  });

  it('accepts 10,000 registries', () => {
    expect(readBenchSettings([], { BENCH_REGISTRIES: '10000' }).registries).to.equal(10000);
  });
});
