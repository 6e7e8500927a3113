import { expect } from 'chai';
import type { Condition } from '../../../src/api/meta.ts';
import {
  conditionsEqual,
  findCondition,
  isTrue,
  removeCondition,
  setCondition,
  setProgress,
} from '../../../src/runtime/conditions.ts';

const t0 = new Date('2025-01-01T00:00:00.000Z');
const t1 = new Date('2025-01-01T01:00:00.456Z');

const ready = { type: 'Ready', status: 'True', reason: 'TokenRefreshed', message: 'token valid until 12:00' } as const;

describe('conditions', () => {
  it('adds a new condition stamped with now and the observed generation', () => {
    const conditions = setCondition(undefined, ready, 3, t0);
    expect(conditions).to.deep.equal([{ ...ready, lastTransitionTime: '2025-01-01T00:00:00Z', observedGeneration: 3 }]);
  });

  it('writes the transition time with whole seconds, as the API server returns it', () => {
    const [condition] = setCondition([], ready, 1, t1);
    expect(condition!.lastTransitionTime).to.equal('2025-01-01T01:00:00Z');
  });

  it('keeps lastTransitionTime when only the reason or message changes', () => {
    const before = setCondition(undefined, ready, 1, t0);
    const after = setCondition(before, { ...ready, reason: 'TokenRefreshedAgain', message: 'new expiry' }, 2, t1);
    expect(after[0]).to.include({
      reason: 'TokenRefreshedAgain',
      message: 'new expiry',
      lastTransitionTime: '2025-01-01T00:00:00Z',
      observedGeneration: 2,
    });
  });

  it('moves lastTransitionTime when the status flips', () => {
    const before = setCondition(undefined, ready, 1, t0);
    const after = setCondition(before, { ...ready, status: 'False', reason: 'AccessDenied' }, 1, t1);
    expect(after[0]!.lastTransitionTime).to.equal('2025-01-01T01:00:00Z');
    expect(after[0]!.status).to.equal('False');
  });

  it('returns a new array and leaves the input and other conditions alone', () => {
    const other: Condition = { type: 'Synced', status: 'True', reason: 'Ok', message: '', lastTransitionTime: 'x' };
    const input = [other];
    const output = setCondition(input, ready, 1, t0);
    expect(output).to.not.equal(input);
    expect(input).to.have.length(1);
    expect(output[0]).to.equal(other);
    expect(output.map((c) => c.type)).to.deep.equal(['Synced', 'Ready']);
  });

  it('omits observedGeneration when it is not known', () => {
    const [condition] = setCondition(undefined, ready, undefined, t0);
    expect(condition).to.not.have.property('observedGeneration');
  });

  it('finds conditions and tells whether one is True', () => {
    const conditions = setCondition(setCondition(undefined, ready, 1, t0), { ...ready, type: 'Degraded', status: 'False' }, 1, t0);
    expect(findCondition(conditions, 'Degraded')?.status).to.equal('False');
    expect(findCondition(conditions, 'Missing')).to.equal(undefined);
    expect(isTrue(conditions, 'Ready')).to.equal(true);
    expect(isTrue(conditions, 'Degraded')).to.equal(false);
    expect(isTrue(undefined, 'Ready')).to.equal(false);
    expect(removeCondition(conditions, 'Ready').map((c) => c.type)).to.deep.equal(['Degraded']);
  });

  it('compares conditions regardless of order and timestamp formatting', () => {
    const a = setCondition(setCondition(undefined, ready, 1, t0), { ...ready, type: 'Degraded', status: 'False' }, 1, t0);
    const b = [...a].reverse().map((c) => ({ ...c, lastTransitionTime: '2025-01-01T00:00:00.000Z' }));
    expect(conditionsEqual(a, b)).to.equal(true);
    expect(conditionsEqual(a, setCondition(a, ready, 1, t1)), 'same update is a no-op').to.equal(true);
    expect(conditionsEqual(a, setCondition(a, { ...ready, message: 'changed' }, 1, t1))).to.equal(false);
    expect(conditionsEqual(a, setCondition(a, ready, 2, t1))).to.equal(false);
    expect(conditionsEqual(a, a.slice(1))).to.equal(false);
    expect(conditionsEqual(undefined, [])).to.equal(true);
  });
});

describe('setProgress (kstatus Reconciling/Stalled)', () => {
  const base = setCondition(undefined, ready, 1, t0);

  it('sets Reconciling=True and no Stalled while work is under way', () => {
    const stalled = setProgress(base, { state: 'stalled', reason: 'CredentialsRejected', message: 'fix the keys' }, 1, t0);
    const conditions = setProgress(stalled, { state: 'reconciling', reason: 'Throttled', message: 'retrying' }, 2, t1);
    expect(findCondition(conditions, 'Stalled')).to.equal(undefined);
    expect(findCondition(conditions, 'Reconciling')).to.deep.equal({
      type: 'Reconciling',
      status: 'True',
      reason: 'Throttled',
      message: 'retrying',
      lastTransitionTime: '2025-01-01T01:00:00Z',
      observedGeneration: 2,
    });
  });

  it('sets Stalled=True and no Reconciling when a person must act', () => {
    const reconciling = setProgress(base, { state: 'reconciling', reason: 'Progressing', message: 'first token' }, 1, t0);
    const conditions = setProgress(reconciling, { state: 'stalled', reason: 'PullSecretConflict', message: 'rename it' }, 1, t1);
    expect(findCondition(conditions, 'Reconciling')).to.equal(undefined);
    expect(findCondition(conditions, 'Stalled')).to.include({ status: 'True', reason: 'PullSecretConflict' });
  });

  it('removes both when done, leaving the other conditions as they were', () => {
    const stalled = setProgress(base, { state: 'stalled', reason: 'InvalidSpec', message: 'x' }, 1, t0);
    expect(setProgress(stalled, { state: 'done' }, 1, t1)).to.deep.equal(base);
  });
});
