import v8 from 'node:v8';
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

  it('keeps strings that look like array indexes, empty ones and the names of Object.prototype members', () => {
    const object = { a: '0', b: '123', c: '', d: ['7', ''], e: ['__proto__', 'toString', 'constructor', '4294967295'] };
    expect(internStrings(structuredClone(object))).to.deep.equal(object);
  });

  it("hands back V8's internalized copy of each text, and leaves values unique to an object as they are", () => {
    v8.setFlagsFromString('--allow-natives-syntax');
    const isInternalized = new Function('text', 'return %IsInternalizedString(text)') as (text: string) => boolean;
    // Parsed, as the informers' objects are: JSON.parse gives long values copies of their own.
    const parse = () => JSON.parse(JSON.stringify({ kind: 'EcrRegistry', spec: { registry: `123456789012.dkr.ecr.eu-west-1.amazonaws.com-${'x'.repeat(40)}` }, metadata: { uid: `uid-${'y'.repeat(40)}` } }));
    const [first, second] = [parse(), parse()];
    expect(isInternalized(first.spec.registry)).to.equal(false);
    internStrings(first);
    internStrings(second);
    expect(isInternalized(first.spec.registry)).to.equal(true);
    expect(isInternalized(second.spec.registry)).to.equal(true);
    expect(isInternalized(first.kind)).to.equal(true);
    expect(isInternalized(first.metadata.uid)).to.equal(false);
  });
});
