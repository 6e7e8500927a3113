import { expect } from 'chai';
import type { Condition } from '../../../src/api/meta.ts';
import { refreshEventCause } from '../../../src/registry/refresh-events.ts';

const refreshed = (status: Condition['status'], reason: string, observedGeneration?: number): Condition => ({
  type: 'Refreshed',
  status,
  reason,
  message: '',
  lastTransitionTime: '2026-11-30T08:00:00Z',
  ...(observedGeneration === undefined ? {} : { observedGeneration }),
});

describe('refreshEventCause: which new tokens are worth a Normal Event', () => {
  it('none for a new registry (no Refreshed condition yet) or a refresh on schedule', () => {
    expect(refreshEventCause(undefined, 1)).to.equal(undefined);
    expect(refreshEventCause([{ ...refreshed('True', 'TokenRefreshed', 1), type: 'Ready' }], 1)).to.equal(undefined);
    expect(refreshEventCause([refreshed('True', 'TokenRefreshed', 3)], 3)).to.equal(undefined);
  });

  it('one after a failed refresh, naming its reason', () => {
    expect(refreshEventCause([refreshed('False', 'Throttled', 2)], 2)).to.equal('after the last refresh failed (Throttled)');
  });

  it('one after the spec changed since the last refresh', () => {
    expect(refreshEventCause([refreshed('True', 'TokenRefreshed', 2)], 3)).to.equal('after the spec changed (generation 3)');
    expect(refreshEventCause([refreshed('True', 'TokenRefreshed')], 3), 'no observedGeneration to compare').to.equal(undefined);
  });
});
