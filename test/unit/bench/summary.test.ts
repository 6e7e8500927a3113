import { expect } from 'chai';
import { describeBreakdown, peerTableLines, rssTargetMiB, summarize } from '../../bench/summary.ts';

const breakdown = (b: Record<string, number>) => ({ secretCreates: 0, secretUpdates: 0, statusPatches: 0, mainResourceWrites: 0, events: 0, other: 0, ...b });

function report(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    machine: { cores: 2, node: 'v24', totalMemoryMiB: 8000 },
    settings: { registries: 1000 },
    bare: { seconds: 4, writesPerRegistry: 2 },
    convergence: {
      registries: 1000,
      namespaces: 50,
      credentialSets: 100,
      seconds: 5.6,
      ratioToBare: 1.4,
      getAuthorizationTokenCalls: 100,
      writesPerRegistry: breakdown({ secretCreates: 1, statusPatches: 1, total: 2 }),
      memory: { peakRssMiB: 96, atReadyz: {} },
    },
    latency: { count: 50, fleetRegistries: 1000, p50Ms: 40, p90Ms: 80, p99Ms: 620, maxMs: 620, timedOut: 0, tokenCached: true, getAuthorizationTokenCalls: 0 },
    steady: {
      seconds: 60,
      apiserverRequests: { objectWrites: 0, eventWrites: 0, apiserverOwnWrites: 12 },
      watches: { reopensPerWatchPer5Min: 0.1, operatorReopens: 1, operatorWatches: 52, operatorOpen: { secrets: 50 }, ended: { secrets: 1 } },
    },
    rotation: {
      expiredSamples: 0,
      replaced: 1000,
      secrets: 1000,
      refreshes: 1000,
      perRefresh: breakdown({ secretUpdates: 1, statusPatches: 1.2, events: 1, total: 3.2 }),
      writes: { events: 1000 },
      eventBudget: { eventWritesPerCycleAt1000: 1000, registries: 1000, measuredDirectly: true },
    },
    ...overrides,
  };
}

const rowOf = (text: string, target: string) => text.split('\n').find((l) => l.includes(target)) ?? '';

describe('bench summary', () => {
  it('sets the RSS target by size: 100 MiB up to 1,000, 200 MiB beyond', () => {
    expect(rssTargetMiB(1000)).to.equal(100);
    expect(rssTargetMiB(10000)).to.equal(200);
  });

  it('names the bare passes the denominator is the fastest of, and nothing for a report with one', () => {
    const several = summarize(report({ bare: { seconds: 3.9, passesSeconds: [5.1, 4, 3.9], writesPerRegistry: 2 } }));
    expect(rowOf(several, 'convergence ≤ 1.5×')).to.include('vs bare 3.9 s (fastest of 5.1, 4, 3.9) → ×1.4');
    expect(rowOf(summarize(report()), 'convergence ≤ 1.5×')).to.include('vs bare 4 s → ×1.4');
  });

  it('names the cold starts the convergence time is the fastest of', () => {
    const convergence = { ...(report().convergence as Record<string, unknown>), seconds: 5.6, coldStartsSeconds: [6.2, 5.6, 7.1] };
    expect(rowOf(summarize(report({ convergence })), 'convergence ≤ 1.5×')).to.include('5.6 s (fastest of 6.2, 5.6, 7.1) (from spawn;');
  });

  it('marks each issue 15 target met or missed from the figures', () => {
    const text = summarize(report());
    expect(rowOf(text, 'convergence ≤ 1.5×')).to.include('[ ok ]');
    expect(rowOf(text, "writes per registry ≤ bare's 2")).to.include('[ ok ]').and.include('2 = 1 Secret creates + 1 status patches');
    expect(rowOf(text, 'peak RSS ≤ 100 MiB at 1000 registries')).to.include('[ ok ]');
    expect(rowOf(text, 'latency p99 ≤ 500 ms')).to.include('[MISS]').and.include('p99 620 ms').and.include('token cached');
    expect(rowOf(text, 'watch re-opens ≤ 1 per watch per 5 min')).to.include('[ ok ]');
    expect(rowOf(text, 'Secret writes per refresh ≤ 1')).to.include('[ ok ]');
    expect(rowOf(text, 'status patches per refresh ≤ 1')).to.include('[MISS]').and.include('1.2');
    expect(rowOf(text, 'Events per refresh = 0')).to.include('[MISS]');
    expect(rowOf(text, 'Event budget')).to.include('[info]').and.include('1000 Event writes per cycle');
    expect(rowOf(text, 'GetAuthorizationToken calls = credential sets')).to.include('[ ok ]');
  });

  it('says when a quiet window closed too soon after start to see a watch reach a 5-minute timeout', () => {
    const watches = { reopensPerWatchPer5Min: 0, operatorReopens: 0, operatorWatches: 55, windowEndSecondsAfterOperatorStart: 107 };
    const early = summarize(report({ steady: { seconds: 60, apiserverRequests: { objectWrites: 0, eventWrites: 0 }, watches } }));
    expect(rowOf(early, 'watch re-opens')).to.include('closed 107 s after the operator started');
    const late = summarize(report({ steady: { seconds: 600, apiserverRequests: { objectWrites: 0, eventWrites: 0 }, watches: { ...watches, windowEndSecondsAfterOperatorStart: 640 } } }));
    expect(rowOf(late, 'watch re-opens')).to.include('[ ok ]').and.not.include('closed');
    expect(rowOf(late, '0 writes in a quiet window')).to.include('[ ok ]');
    const uneven = summarize(report({ steady: { seconds: 60, apiserverRequests: { objectWrites: 0, eventWrites: 0 }, watches: { ...watches, reopensPerWatchPer5Min: 1.36, windowEndSecondsAfterOperatorStart: 360 } } }));
    expect(rowOf(uneven, 'watch re-opens')).to.include('[ ?  ]').and.include('not judged');
  });

  it('holds 10,000 registries to 200 MiB', () => {
    const text = summarize(report({ settings: { registries: 10000 }, convergence: { registries: 10000, memory: { peakRssMiB: 180 } } }));
    expect(rowOf(text, 'peak RSS ≤ 200 MiB at 10000 registries')).to.include('[ ok ]');
  });

  it('says a scenario was not run rather than judging missing figures', () => {
    const text = summarize(report({ latency: undefined, rotation: undefined }));
    expect(rowOf(text, 'latency p99')).to.include('not run');
    expect(rowOf(text, 'Event budget')).to.include('not run');
  });

  it('prints the peers table when the peer scenario left one', () => {
    const text = summarize(report({ peers: { table: [{ operator: 'ours', seconds: 5 }, { operator: 'eso', seconds: 103 }] } }));
    expect(text).to.include('Peers side by side');
    expect(text).to.match(/operator \| seconds\n {2}ours {5}\| 5\n {2}eso {6}\| 103/);
  });

  it('lays out text, rows of cells and rows of named cells alike', () => {
    expect(peerTableLines('a\nb')).to.deep.equal(['a', 'b']);
    expect(peerTableLines([['x', 'long'], ['yy', 'z']])).to.deep.equal(['x  | long', 'yy | z']);
    expect(peerTableLines(undefined)).to.deep.equal([]);
  });

  it('names each kind of write, adding Secret updates and other writes only when there are some', () => {
    expect(describeBreakdown(breakdown({ secretCreates: 1, statusPatches: 1, mainResourceWrites: 1, events: 1, total: 4 }), 'EcrRegistry')).to.equal(
      '4 = 1 Secret creates + 1 status patches + 1 EcrRegistry patches + 1 Events',
    );
    expect(describeBreakdown(undefined, 'EcrRegistry')).to.equal('not measured');
  });
});
