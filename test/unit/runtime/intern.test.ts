import { expect } from 'chai';
import { internStrings } from '../../../src/runtime/intern.ts';

describe('internStrings', () => {
  it('keeps every value as it was, in nested objects and arrays', () => {
    const created = new Date('2026-11-30T10:00:00Z');
    const object = {
      apiVersion: 'ecr.pullsecrets.io/v1alpha1',
      metadata: { name: 'reg-1', uid: 'u-1', resourceVersion: '42', creationTimestamp: created, labels: { team: 'a' } },
      spec: { hosts: ['a.example', 'b.example'], replicas: 3, enabled: true, missing: null },
      status: { conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: '2026-11-30T10:00:00Z' }] },
      data: { '.dockerconfigjson': 'x'.repeat(20_000) },
    };
    const copy = structuredClone(object);
    expect(internStrings(object)).to.equal(object);
    expect(object).to.deep.equal(copy);
    expect(object.metadata.creationTimestamp).to.equal(created);
  });

  it('keeps strings that look like array indexes, and empty ones', () => {
    const object = { a: '0', b: '123', c: '', d: ['7', ''] };
    expect(internStrings(structuredClone(object))).to.deep.equal(object);
  });
});
