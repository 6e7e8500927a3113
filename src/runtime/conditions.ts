import type { Condition } from '../api/meta.ts';
import { toKubeTime } from './kube-time.ts';

/** The fields a controller decides; the transition time and generation are filled in by `setCondition`. */
export type ConditionUpdate = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/**
 * Returns a new conditions array with `next` set (replacing the same type, else appended).
 * `lastTransitionTime` moves to `now` only when the status flips, so a changed reason or
 * message keeps the time the condition last changed state.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: ConditionUpdate,
  observedGeneration: number | undefined,
  now: Date,
): Condition[] {
  const current = conditions ?? [];
  const existing = current.find((condition) => condition.type === next.type);
  const updated: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message,
    lastTransitionTime:
      existing && existing.status === next.status ? existing.lastTransitionTime : toKubeTime(now),
  };
  if (observedGeneration !== undefined) updated.observedGeneration = observedGeneration;
  return existing
    ? current.map((condition) => (condition === existing ? updated : condition))
    : [...current, updated];
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

export function isTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/** Returns a new array without the condition of `type`. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((condition) => condition.type !== type);
}

/**
 * True when both lists hold the same conditions, in any order, so a status write can be skipped.
 * Timestamps compare by instant, since the API server may format them differently.
 */
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const left = a ?? [];
  const right = b ?? [];
  if (left.length !== right.length) return false;
  return left.every((x) => {
    const y = findCondition(right, x.type);
    return (
      y !== undefined &&
      x.status === y.status &&
      x.reason === y.reason &&
      x.message === y.message &&
      x.observedGeneration === y.observedGeneration &&
      sameInstant(x.lastTransitionTime, y.lastTransitionTime)
    );
  });
}


function sameInstant(x: string, y: string): boolean {
  if (x === y) return true;
  const xMs = Date.parse(x);
  const yMs = Date.parse(y);
  return !Number.isNaN(xMs) && xMs === yMs;
}

/** kstatus's abnormal-true conditions: Flux, `kubectl wait` and cli-utils read them. */
export const ProgressConditionType = {
  /** Work is under way (first result, a spec change not applied yet, a transient failure being retried). */
  Reconciling: 'Reconciling',
  /** A person must act: retrying alone will not make progress. */
  Stalled: 'Stalled',
} as const;

/** Where a reconcile left the object, as kstatus reads it. */
export type Progress =
  | { state: 'done' }
  | { state: 'reconciling'; reason: string; message: string }
  | { state: 'stalled'; reason: string; message: string };

/**
 * Sets kstatus's Reconciling and Stalled conditions from `progress`: at most one of them is present
 * (True), and both are removed when the reconcile is done, as Flux's controllers do. kstatus reports
 * InProgress while Reconciling is True, Failed while Stalled is True, and Current otherwise (with
 * status.observedGeneration equal to metadata.generation).
 */
export function setProgress(conditions: readonly Condition[] | undefined, progress: Progress, observedGeneration: number | undefined, now: Date): Condition[] {
  const { Reconciling, Stalled } = ProgressConditionType;
  if (progress.state === 'done') return removeCondition(removeCondition(conditions, Reconciling), Stalled);
  const [type, other] = progress.state === 'reconciling' ? [Reconciling, Stalled] : [Stalled, Reconciling];
  return setCondition(removeCondition(conditions, other), { type, status: 'True', reason: progress.reason, message: progress.message }, observedGeneration, now);
}
