import { expect } from 'chai';
import { importDue, importIntervalMs, importRecordFromStatus, withJitter } from '../../../src/imageimport/schedule.ts';

const NOW = Date.UTC(2025, 0, 1, 12);

describe('importIntervalMs', () => {
  it('defaults to one hour', () => {
    expect(importIntervalMs(undefined)).to.equal(3_600_000);
    expect(importIntervalMs({})).to.equal(3_600_000);
  });

  it('parses Go durations', () => {
    expect(importIntervalMs({ interval: '15m' })).to.equal(900_000);
    expect(importIntervalMs({ interval: '1h30m' })).to.equal(5_400_000);
  });

  it('keeps to 10 s … 168 h even if the schema did not', () => {
    expect(importIntervalMs({ interval: '1ms' })).to.equal(10_000);
    expect(importIntervalMs({ interval: '1000h' })).to.equal(168 * 3_600_000);
    expect(importIntervalMs({ interval: 'soon' })).to.equal(3_600_000);
  });
});

describe('withJitter', () => {
  it('stays within ±5 % and spreads across that range', () => {
    const samples = Array.from({ length: 1000 }, () => withJitter(3_600_000));
    for (const s of samples) expect(s).to.be.within(3_420_000, 3_780_000);
    expect(Math.min(...samples)).to.be.below(3_500_000);
    expect(Math.max(...samples)).to.be.above(3_700_000);
  });

  it('is exact at the ends of the random range', () => {
    expect(withJitter(10_000, () => 0)).to.equal(9_500);
    expect(withJitter(10_000, () => 0.5)).to.equal(10_000);
    expect(withJitter(10_000, () => 0.999999)).to.equal(10_500);
  });
});

describe('importDue', () => {
  const scheduled = { generation: 2, nextImportMs: NOW + 60_000, waitingForRegistry: false };

  it('imports an object never imported', () => {
    expect(importDue({ waitingForRegistry: false }, 1, false, NOW)).to.equal('first-import');
  });

  it('imports at once when the spec changed, even while suspended', () => {
    expect(importDue(scheduled, 3, false, NOW)).to.equal('spec-changed');
    expect(importDue(scheduled, 3, true, NOW)).to.equal('spec-changed');
  });

  it('does not treat a lagging cache (an older generation) as a spec change', () => {
    expect(importDue(scheduled, 1, false, NOW)).to.equal(undefined);
  });

  it('imports once the registry is usable again after the import waited for it', () => {
    expect(importDue({ generation: 2, waitingForRegistry: true }, 2, false, NOW)).to.equal('registry-ready');
  });

  it('waits for the scheduled time, then imports', () => {
    expect(importDue(scheduled, 2, false, NOW)).to.equal(undefined);
    expect(importDue(scheduled, 2, false, NOW + 60_000)).to.equal('scheduled');
  });

  it('makes no scheduled import while suspended', () => {
    expect(importDue(scheduled, 2, true, NOW + 3_600_000)).to.equal(undefined);
  });
});

describe('importRecordFromStatus', () => {
  it('reads the generation, the next import time and whether the import waits for its registry', () => {
    const record = importRecordFromStatus({
      observedGeneration: 4,
      nextImportTime: '2025-01-01T12:00:10Z',
      conditions: [{ type: 'Ready', status: 'False', reason: 'RegistryNotReady', message: '', lastTransitionTime: '2025-01-01T12:00:00Z' }],
    });
    expect(record).to.deep.equal({ generation: 4, nextImportMs: NOW + 10_000, waitingForRegistry: true });
  });

  it('gives an empty record for an object without status', () => {
    expect(importRecordFromStatus(undefined)).to.deep.equal({ waitingForRegistry: false });
  });

  it('reads the CRD default status {observedGeneration: -1} as never imported, so the first import is due', () => {
    const record = importRecordFromStatus({ observedGeneration: -1 });
    expect(record).to.deep.equal({ waitingForRegistry: false });
    expect(importDue(record, 1, false, NOW)).to.equal('first-import');
  });

  it('does not wait for the registry after other failures', () => {
    const record = importRecordFromStatus({
      observedGeneration: 1,
      conditions: [{ type: 'Ready', status: 'False', reason: 'TagNotFound', message: '', lastTransitionTime: '2025-01-01T12:00:00Z' }],
    });
    expect(record.waitingForRegistry).to.equal(false);
  });
});
