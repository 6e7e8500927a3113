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
    if (stableJson(a) !== stableJson(b)) patch[key] = b === undefined ? null : b;
  }
  return Object.keys(patch).length > 0 ? (patch as StatusPatch<S>) : undefined;
}

function unsetIfEmpty(value: unknown): unknown {
  return value === null || (Array.isArray(value) && value.length === 0) ? undefined : value;
}

/** JSON with object keys sorted, so equal values compare equal whatever order the API server returns keys in. */
function stableJson(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
