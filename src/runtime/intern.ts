/**
 * One copy of each repeated text in the informer caches.
 *
 * JSON.parse gives every string value a copy of its own: each of 10,000 cached EcrRegistries holds its
 * own "ecr.pullsecrets.io/v1alpha1", "PullSecretReady", registry host, endpoint and key names, and each
 * pull secret its own copy of the docker config that ten registries of a credential set share (a few
 * kB with a real ECR token). Interning replaces each with the one internalized copy V8 keeps: a string
 * used as a property key is internalized, and V8's table of them is weak, so a text that no object
 * holds now (an old token) is collected, unlike in a Map kept for the purpose.
 *
 * Values that are unique to one object by nature (uids, resourceVersions, timestamps) are left as they
 * are: interning them saves nothing and costs a table entry.
 */

/** Keys whose values are unique to an object (or nearly), so never worth interning. */
const UNIQUE_VALUE_KEYS = new Set(['uid', 'resourceVersion', 'creationTimestamp', 'lastTransitionTime', 'time']);
/** Longer strings are left alone: hashing them costs more than the rare repeat saves. */
const MAX_INTERNED_LENGTH = 16 * 1024;

/** Replaces repeated string values in an object the caller owns (just parsed), in place, and returns it. */
export function internStrings<T>(value: T): T {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = internValue(value[i]);
  } else if (isPlainRecord(value)) {
    const record: Record<string, unknown> = value;
    for (const key of Object.keys(record)) {
      if (!UNIQUE_VALUE_KEYS.has(key)) record[key] = internValue(record[key]);
    }
  }
  return value;
}

function internValue(value: unknown): unknown {
  if (typeof value === 'string') return value.length <= MAX_INTERNED_LENGTH ? internalized(value) : value;
  if (typeof value === 'object' && value !== null) return internStrings(value);
  return value;
}

/**
 * A dictionary-mode object (V8 gives one with a null prototype a hash table of properties), holding
 * at most one key at a time. Its keys are V8's internalized strings.
 */
const keyTable: Record<string, number> = Object.create(null);

/**
 * The internalized copy of `text`: V8 internalizes every string it uses as a named property key, so
 * the key read back from `keyTable` is that copy. An object literal with `text` as its key did the same,
 * but gave V8 a new hidden class for each new text; this took about half the time (0.5 against 1.1 µs a
 * string without the optimizing compilers, as the image runs).
 */
function internalized(text: string): string {
  keyTable[text] = 0;
  let key: string | undefined;
  for (key in keyTable) break;
  delete keyTable[text];
  return key ?? text;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !(value instanceof Date);
}
