/** A merge patch of a status: each field is the new value, or null to remove it. */
export type StatusPatch<S> = { [K in keyof S]?: S[K] | null };

/**
 * The merge patch that turns `previous` into `next`, holding only the top-level fields that
 * changed (null removes one), or undefined when nothing did. Sending only what changed also means
 * a reconcile that read a cache lagging our last write cannot put older fields back.
 */
export function statusPatch<S extends object>(previous: S | undefined, next: S): StatusPatch<S> | undefined {
  const before = (previous ?? {}) as Record<string, unknown>;
  const after = next as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = unsetIfEmpty(before[key]);
    const b = unsetIfEmpty(after[key]);
    if (!jsonEqual(a, b)) patch[key] = b === undefined ? null : b;
  }
  return Object.keys(patch).length > 0 ? (patch as StatusPatch<S>) : undefined;
}

function unsetIfEmpty(value: unknown): unknown {
  return value === null || (Array.isArray(value) && value.length === 0) ? undefined : value;
}

/**
 * Whether `a` and `b` serialize to the same JSON, object key order aside: what the apiserver stores
 * for each. Compared in place, without serializing, since every reconcile compares its whole status.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  const x = jsonValue(a);
  const y = jsonValue(b);
  if (x === y) return true;
  if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
  if (Array.isArray(x) || Array.isArray(y)) {
    if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
    // jsonValue writes an undefined entry as null, as JSON does in an array.
    return x.every((item, i) => jsonEqual(item, y[i]));
  }
  const xRecord = x as Record<string, unknown>;
  const yRecord = y as Record<string, unknown>;
  const xKeys = Object.keys(xRecord).filter((key) => written(xRecord, key));
  if (xKeys.length !== Object.keys(yRecord).filter((key) => written(yRecord, key)).length) return false;
  return xKeys.every((key) => written(yRecord, key) && jsonEqual(xRecord[key], yRecord[key]));
}

/** The value JSON.stringify writes in place of `value` (a Date's string, null for a number it cannot write). */
function jsonValue(value: unknown): unknown {
  if (value === null || value === undefined || typeof value === 'function' || typeof value === 'symbol') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') return (value as { toJSON(): unknown }).toJSON();
  return value;
}

/** Whether JSON.stringify writes the key: an own enumerable one whose value is not undefined, a function or a symbol. */
function written(record: Record<string, unknown>, key: string): boolean {
  if (!Object.hasOwn(record, key)) return false;
  const type = typeof record[key];
  return type !== 'undefined' && type !== 'function' && type !== 'symbol';
}
