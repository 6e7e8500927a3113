import { expect } from 'chai';
import { statusPatch } from '../../../src/runtime/status-patch.ts';

describe('statusPatch', () => {
  const condition = { type: 'Ready', status: 'True' as const, reason: 'Imported', message: 'm', lastTransitionTime: '2025-01-01T00:00:00Z' };

  it('is undefined when nothing changed, whatever the key order', () => {
    const previous = { observedGeneration: 1, conditions: [{ ...condition }], tags: [{ tag: 'latest', digest: 'sha256:a' }] };
    const next = { tags: [{ digest: 'sha256:a', tag: 'latest' }], conditions: [condition], observedGeneration: 1 };
    expect(statusPatch(previous, next)).to.equal(undefined);
  });

  it('holds only the fields that changed', () => {
    const previous = { observedGeneration: 1, lastImportTime: '2025-01-01T00:00:00Z', conditions: [condition] };
    expect(statusPatch(previous, { ...previous, lastImportTime: '2025-01-01T01:00:00Z' })).to.deep.equal({ lastImportTime: '2025-01-01T01:00:00Z' });
  });

  it('nulls fields that went away, and treats empty lists as absent', () => {
    const previous = { nextImportTime: '2025-01-01T01:00:00Z', tags: [] };
    expect(statusPatch<{ nextImportTime?: string; tags?: unknown[] }>(previous, { nextImportTime: undefined })).to.deep.equal({ nextImportTime: null });
    expect(statusPatch({ tags: [] }, {})).to.equal(undefined);
  });

  it('writes everything for an object without status', () => {
    expect(statusPatch(undefined, { observedGeneration: 2 })).to.deep.equal({ observedGeneration: 2 });
  });
});
