import { expect } from 'chai';
import { jsonEqual, statusPatch } from '../../../src/runtime/status-patch.ts';

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

describe('jsonEqual', () => {
  /** What statusPatch compared before: JSON with object keys sorted. */
  const sortedJson = (value: unknown) =>
    JSON.stringify(value ?? null, (_key, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
    );

  /** A small deterministic generator, so a failure names a value that can be run again. */
  function values(seed: number): () => unknown {
    let state = seed;
    const next = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state / 2147483648;
    };
    const leaf = (): unknown => [null, undefined, 0, 1, Number.NaN, 'a', 'b', '', true, false, new Date(0), new Date(1000)][Math.floor(next() * 12)];
    const value = (depth: number): unknown => {
      const pick = next();
      if (depth === 0 || pick < 0.4) return leaf();
      if (pick < 0.7) return Array.from({ length: Math.floor(next() * 3) }, () => value(depth - 1));
      const keys = ['k', 'l', 'm'].filter(() => next() < 0.6);
      return Object.fromEntries(keys.map((key) => [key, value(depth - 1)]));
    };
    return () => value(3);
  }

  /** The same value with every object's keys in reverse order. */
  function reordered(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(reordered);
    if (value && typeof value === 'object' && !(value instanceof Date)) return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reordered(v)]));
    return value;
  }

  it('agrees with comparing key-sorted JSON on 20,000 generated pairs, and ignores key order', () => {
    const next = values(42);
    let equalPairs = 0;
    for (let i = 0; i < 10_000; i++) {
      const a = next();
      const b = next();
      const expected = sortedJson(a) === sortedJson(b);
      if (expected) equalPairs++;
      expect(jsonEqual(a, b), `${sortedJson(a)} vs ${sortedJson(b)}`).to.equal(expected);
      expect(jsonEqual(a, reordered(a)), sortedJson(a)).to.equal(true);
    }
    expect(equalPairs, 'pairs that compare equal, so both answers are exercised').to.be.greaterThan(100);
  });

  it('treats a missing key, an undefined one and a null one as JSON does', () => {
    expect(jsonEqual({ a: 1, b: undefined }, { a: 1 })).to.equal(true);
    expect(jsonEqual({ a: 1, b: null }, { a: 1 })).to.equal(false);
    expect(jsonEqual({ a: 1, b: null }, { a: 1, c: undefined, b: null })).to.equal(true);
    expect(jsonEqual([undefined], [null])).to.equal(true);
    expect(jsonEqual({ t: new Date(0) }, { t: '1970-01-01T00:00:00.000Z' })).to.equal(true);
  });
});
